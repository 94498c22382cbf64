//! Group commit: one thread owns the write connection and commits every
//! write that queued up while the previous commit was syncing, in one
//! transaction and one fsync. Each write runs in its own savepoint, so one
//! write's failure undoes only that write; each is answered only after the
//! commit that holds it is durable.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::mpsc::{channel, Receiver, Sender};

use latchkey_store::{StoreError, StoreResult};
use rusqlite::Connection;
use tokio::sync::oneshot;

use crate::database;

/// Most writes one transaction takes, so no commit grows without bound.
const MAX_BATCH: usize = 512;

/// Answers a write once its transaction's fate is known.
type Finish = Box<dyn FnOnce(&StoreResult<()>) + Send>;

/// A queued write: given the connection (inside the batch's transaction) it
/// runs and returns how to answer; given an error (the batch could not
/// begin) it answers that error at once.
type Job = Box<dyn FnOnce(Result<&Connection, StoreError>) -> Option<Finish> + Send>;

pub struct Writer {
    jobs: Sender<Job>,
}

impl Writer {
    /// Starts the writer thread; it ends when the `Writer` is dropped.
    pub fn start(conn: Connection) -> Writer {
        let (jobs, queue) = channel();
        std::thread::Builder::new()
            .name("latchkey-sqlite-writer".into())
            .spawn(move || run(conn, queue))
            .expect("the writer thread starts");
        Writer { jobs }
    }

    /// Runs `work` in the next group commit; returns once that commit is durable.
    pub async fn write<T, F>(&self, work: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> StoreResult<T> + Send + 'static,
    {
        let (reply, answer) = oneshot::channel::<StoreResult<T>>();
        let job: Job = Box::new(move |conn| match conn {
            Err(error) => {
                let _ = reply.send(Err(error));
                None
            }
            Ok(conn) => {
                let outcome = in_savepoint(conn, work);
                Some(Box::new(move |commit: &StoreResult<()>| {
                    let _ = reply.send(match commit {
                        Ok(()) => outcome,
                        Err(error) => Err(error.clone()),
                    });
                }))
            }
        });
        self.jobs
            .send(job)
            .map_err(|_| StoreError::Database("the SQLite writer has stopped".into()))?;
        answer
            .await
            .map_err(|_| StoreError::Database("the SQLite writer failed before answering".into()))?
    }
}

fn in_savepoint<T>(conn: &Connection, work: impl FnOnce(&Connection) -> StoreResult<T>) -> StoreResult<T> {
    conn.execute_batch("SAVEPOINT write").map_err(database)?;
    let outcome = catch_unwind(AssertUnwindSafe(|| work(conn)))
        .unwrap_or_else(|_| Err(StoreError::Database("a write panicked".into())));
    let end = if outcome.is_ok() {
        "RELEASE write"
    } else {
        "ROLLBACK TO write; RELEASE write"
    };
    conn.execute_batch(end).map_err(database)?;
    outcome
}

fn run(conn: Connection, queue: Receiver<Job>) {
    while let Ok(first) = queue.recv() {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match queue.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        if let Err(error) = conn.execute_batch("BEGIN IMMEDIATE") {
            let error = database(error);
            for job in batch {
                job(Err(error.clone()));
            }
            continue;
        }
        let finishers: Vec<Finish> = batch.into_iter().filter_map(|job| job(Ok(&conn))).collect();
        let commit = conn.execute_batch("COMMIT").map_err(database);
        if commit.is_err() {
            let _ = conn.execute_batch("ROLLBACK");
        }
        for finish in finishers {
            finish(&commit);
        }
    }
}
