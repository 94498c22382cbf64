//! Consistent copies of a SQLite database, taken while servers read and
//! write it, with SQLite's online backup API.
//!
//! A copy is taken in one step (every page at once, in one read
//! transaction), so it is the database as of one instant: in WAL mode
//! writers go on meanwhile, and a stepped copy that writers kept restarting
//! could never finish. It is written to a temporary file beside the target
//! and renamed into place, so the target is never a half-written copy.

use std::path::{Path, PathBuf};
use std::time::Duration;

use latchkey_store::{StoreError, StoreResult};
use rusqlite::backup::{Backup, StepResult};
use rusqlite::{Connection, OpenFlags};

use crate::database;
use crate::schema::SUPPORTED_VERSION;

/// How often, and how long apart, a locked copy is tried again.
const MAX_TRIES: u32 = 200;
const RETRY_PAUSE: Duration = Duration::from_millis(50);

/// Copies the database at `from` to the new file `to`; fails, writing
/// nothing, when `to` exists.
pub fn copy_database(from: &Path, to: &Path) -> StoreResult<()> {
    if to.exists() {
        return Err(StoreError::Conflict(format!("{}", to.display())));
    }
    let source = Connection::open_with_flags(from, OpenFlags::SQLITE_OPEN_READ_ONLY).map_err(database)?;
    source.busy_timeout(Duration::from_secs(10)).map_err(database)?;
    check_schema(&source)?;
    let partial = partial_path(to);
    let result = copy_into(&source, &partial).and_then(|()| std::fs::rename(&partial, to).map_err(io));
    if result.is_err() {
        let _ = std::fs::remove_file(&partial);
    }
    result
}

/// Refuses a file that is not a Latchkey database this program can read.
fn check_schema(conn: &Connection) -> StoreResult<()> {
    let version: i64 = conn
        .query_row("PRAGMA user_version", [], |row| row.get(0))
        .map_err(database)?;
    let has_tokens: bool = conn
        .query_row(
            "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'tokens')",
            [],
            |row| row.get(0),
        )
        .map_err(database)?;
    if !has_tokens || version < 1 {
        return Err(StoreError::Missing("the file is not a Latchkey database".to_string()));
    }
    if version > SUPPORTED_VERSION {
        return Err(StoreError::SchemaTooNew {
            found: version,
            supported: SUPPORTED_VERSION,
        });
    }
    Ok(())
}

fn copy_into(source: &Connection, path: &Path) -> StoreResult<()> {
    let mut target = Connection::open(path).map_err(database)?;
    {
        let backup = Backup::new(source, &mut target).map_err(database)?;
        // Every page in one step; a moment's lock (a checkpoint) is waited out.
        let mut tries = 0;
        loop {
            match backup.step(-1).map_err(database)? {
                StepResult::Done => break,
                _ if tries < MAX_TRIES => {
                    tries += 1;
                    std::thread::sleep(RETRY_PAUSE);
                }
                _ => {
                    return Err(StoreError::Database(
                        "the database stayed locked; try again".to_string(),
                    ))
                }
            }
        }
    }
    // One file, no WAL beside it: the copy can be moved as it is.
    target
        .query_row("PRAGMA journal_mode = DELETE", [], |_| Ok(()))
        .map_err(database)?;
    Ok(())
}

fn partial_path(to: &Path) -> PathBuf {
    let mut name = to.file_name().unwrap_or_default().to_os_string();
    name.push(".partial");
    to.with_file_name(name)
}

fn io(error: std::io::Error) -> StoreError {
    StoreError::Database(error.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::SqliteStore;

    #[test]
    fn a_copy_is_a_database_and_never_overwrites() {
        let dir = tempfile::tempdir().unwrap();
        let (source, copy) = (dir.path().join("live.db"), dir.path().join("copy.db"));
        drop(SqliteStore::open(&source).unwrap());
        copy_database(&source, &copy).unwrap();
        assert!(!partial_path(&copy).exists());
        let conn = Connection::open(&copy).unwrap();
        check_schema(&conn).unwrap();
        let mode: String = conn.query_row("PRAGMA journal_mode", [], |row| row.get(0)).unwrap();
        assert_eq!(mode, "delete");
        assert!(matches!(copy_database(&source, &copy), Err(StoreError::Conflict(_))));

        let not_ours = dir.path().join("other.db");
        Connection::open(&not_ours)
            .unwrap()
            .execute_batch("CREATE TABLE t (x)")
            .unwrap();
        assert!(matches!(
            copy_database(&not_ours, &dir.path().join("x.db")),
            Err(StoreError::Missing(_))
        ));
        assert!(!dir.path().join("x.db").exists() && !partial_path(&dir.path().join("x.db")).exists());
    }
}
