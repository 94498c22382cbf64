//! A fixed set of reader connections, checked out one caller at a time.
//!
//! A connection always comes back, even when the work using it panics (the
//! lease returns it as it unwinds), and a caller waits for one only so
//! long: past that it gets an error (a 503), never a hang.

use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use rusqlite::Connection;

pub struct Pool {
    idle: Mutex<Vec<Connection>>,
    returned: Condvar,
    wait_limit: Duration,
}

/// Every connection was busy for the whole wait.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Busy(pub Duration);

/// A checked-out connection; dropping it returns the connection.
struct Lease<'a> {
    pool: &'a Pool,
    conn: Option<Connection>,
}

impl Drop for Lease<'_> {
    fn drop(&mut self) {
        let Some(conn) = self.conn.take() else { return };
        // Work that panicked mid-transaction leaves it open: end it, so the
        // next user starts clean. (rusqlite's Transaction rolls back on drop
        // already; this covers work that used BEGIN itself.)
        if !conn.is_autocommit() {
            let _ = conn.execute_batch("ROLLBACK");
        }
        self.pool.lock().push(conn);
        self.pool.returned.notify_one();
    }
}

impl Pool {
    pub fn new(connections: Vec<Connection>, wait_limit: Duration) -> Pool {
        Pool {
            idle: Mutex::new(connections),
            returned: Condvar::new(),
            wait_limit,
        }
    }

    /// The idle list; a panic elsewhere cannot leave it inconsistent (each
    /// change is one push or pop), so a poisoned lock is taken as it is.
    fn lock(&self) -> MutexGuard<'_, Vec<Connection>> {
        self.idle.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Runs `work` on an idle connection, waiting up to the wait limit for
    /// one if all are busy.
    pub fn with<T>(&self, work: impl FnOnce(&mut Connection) -> T) -> Result<T, Busy> {
        let deadline = Instant::now() + self.wait_limit;
        let mut idle = self.lock();
        let conn = loop {
            if let Some(conn) = idle.pop() {
                break conn;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(Busy(self.wait_limit));
            }
            idle = self
                .returned
                .wait_timeout(idle, left)
                .unwrap_or_else(|poisoned| poisoned.into_inner())
                .0;
        };
        drop(idle);
        let mut lease = Lease {
            pool: self,
            conn: Some(conn),
        };
        Ok(work(
            lease.conn.as_mut().expect("a lease holds its connection until dropped"),
        ))
    }
}

#[cfg(test)]
mod tests {
    use std::panic::{catch_unwind, AssertUnwindSafe};
    use std::sync::{Arc, Barrier};

    use super::*;

    const READERS: usize = 2;

    fn pool(wait_limit: Duration) -> (tempfile::TempDir, Pool) {
        let dir = tempfile::tempdir().unwrap();
        let connections = (0..READERS)
            .map(|_| Connection::open(dir.path().join("pool.db")).unwrap())
            .collect();
        (dir, Pool::new(connections, wait_limit))
    }

    #[test]
    fn a_panicking_job_gives_its_connection_back_rolled_back() {
        let (_dir, pool) = pool(Duration::from_secs(5));
        for _ in 0..READERS * 3 {
            let panicked = catch_unwind(AssertUnwindSafe(|| {
                pool.with(|conn| {
                    conn.execute_batch("BEGIN").unwrap();
                    panic!("a job fails half way");
                })
            }));
            assert!(panicked.is_err());
        }
        assert_eq!(pool.lock().len(), READERS, "every connection came back");
        for _ in 0..READERS * 3 {
            let autocommit = pool.with(|conn| conn.is_autocommit()).expect("a connection is free");
            assert!(autocommit, "the panicked job's transaction was ended");
        }
    }

    #[test]
    fn a_caller_waits_only_so_long_when_every_connection_is_busy() {
        let limit = Duration::from_millis(50);
        let (_dir, pool) = pool(limit);
        let pool = Arc::new(pool);
        let (holding, release) = (Arc::new(Barrier::new(READERS + 1)), Arc::new(Barrier::new(READERS + 1)));
        let holders: Vec<_> = (0..READERS)
            .map(|_| {
                let (pool, holding, release) = (pool.clone(), holding.clone(), release.clone());
                std::thread::spawn(move || {
                    pool.with(|_| {
                        holding.wait();
                        release.wait();
                    })
                    .unwrap()
                })
            })
            .collect();
        holding.wait();
        assert_eq!(pool.with(|_| ()), Err(Busy(limit)));
        release.wait();
        for holder in holders {
            holder.join().unwrap();
        }
        assert_eq!(pool.with(|_| "served"), Ok("served"), "free again once returned");
    }
}
