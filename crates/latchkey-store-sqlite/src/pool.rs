//! A fixed set of reader connections, checked out one caller at a time.

use std::sync::{Condvar, Mutex};

use rusqlite::Connection;

pub struct Pool {
    idle: Mutex<Vec<Connection>>,
    returned: Condvar,
}

impl Pool {
    pub fn new(connections: Vec<Connection>) -> Pool {
        Pool {
            idle: Mutex::new(connections),
            returned: Condvar::new(),
        }
    }

    /// Runs `work` on an idle connection, waiting for one if all are busy.
    pub fn with<T>(&self, work: impl FnOnce(&mut Connection) -> T) -> T {
        let mut idle = self.idle.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let mut conn = loop {
            match idle.pop() {
                Some(conn) => break conn,
                None => {
                    idle = self
                        .returned
                        .wait(idle)
                        .unwrap_or_else(|poisoned| poisoned.into_inner())
                }
            }
        };
        drop(idle);
        let result = work(&mut conn);
        self.idle
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .push(conn);
        self.returned.notify_one();
        result
    }
}
