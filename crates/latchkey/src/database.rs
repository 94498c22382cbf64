//! `--database URL`: which storage backend, where.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context};
use clap::Args;
use latchkey_store::Store;
use latchkey_store_postgres::{PoolSettings, PostgresStore};
use latchkey_store_sqlite::SqliteStore;

pub const DEFAULT_DATABASE: &str = "sqlite://latchkey.db";

/// Shared by every command that opens the database, so it is listed apart
/// from a command's own options.
const HEADING: &str = "Database options";

#[derive(Args, Clone)]
pub struct DatabaseArgs {
    /// Where tokens are kept: sqlite://PATH (a file, created if missing) or
    /// postgres://USER:PASSWORD@HOST:PORT/DATABASE (shared by many instances).
    #[arg(long, env = "LATCHKEY_DATABASE", default_value = DEFAULT_DATABASE, help_heading = HEADING)]
    pub database: String,
    /// PostgreSQL: most connections open at once.
    #[arg(long, env = "LATCHKEY_POOL_SIZE", default_value_t = 16, help_heading = HEADING)]
    pub pool_size: usize,
    /// PostgreSQL: longest wait for a free connection before a request gets 503, in milliseconds.
    #[arg(long, env = "LATCHKEY_POOL_TIMEOUT_MS", default_value_t = 2000, help_heading = HEADING)]
    pub pool_timeout_ms: u64,
    /// PostgreSQL: longest wait to open a connection, in milliseconds.
    #[arg(long, env = "LATCHKEY_CONNECT_TIMEOUT_MS", default_value_t = 2000, help_heading = HEADING)]
    pub connect_timeout_ms: u64,
}

impl std::fmt::Debug for DatabaseArgs {
    /// Shows the URL with its password masked.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DatabaseArgs")
            .field("database", &masked(&self.database))
            .field("pool_size", &self.pool_size)
            .field("pool_timeout_ms", &self.pool_timeout_ms)
            .field("connect_timeout_ms", &self.connect_timeout_ms)
            .finish()
    }
}

/// A database URL fit for messages: the password in the user info
/// (`postgres://user:***@host/db`) and in a `password=` query parameter is
/// replaced by `***`.
pub fn masked(url: &str) -> String {
    let (before_query, query) = match url.split_once('?') {
        Some((before, query)) => (before, Some(query)),
        None => (url, None),
    };
    let authority_start = before_query.find("://").map_or(0, |at| at + 3);
    // The last `@` ends the user info, even when the password holds `@` or `/`.
    let mut out = match before_query[authority_start..].rfind('@') {
        Some(at) => {
            let user_info = &before_query[authority_start..authority_start + at];
            let user = user_info.split_once(':').map_or(user_info, |(user, _)| user);
            let password = if user.len() < user_info.len() { ":***" } else { "" };
            format!(
                "{}{user}{password}{}",
                &before_query[..authority_start],
                &before_query[authority_start + at..]
            )
        }
        None => before_query.to_string(),
    };
    if let Some(query) = query {
        let pairs: Vec<String> = query
            .split('&')
            .map(|pair| match pair.split_once('=') {
                Some((key, _)) if key.eq_ignore_ascii_case("password") => format!("{key}=***"),
                _ => pair.to_string(),
            })
            .collect();
        out.push('?');
        out.push_str(&pairs.join("&"));
    }
    out
}

/// The SQLite file a URL names: `sqlite://PATH`, `sqlite:PATH`, or a bare path.
fn sqlite_path(url: &str) -> Option<PathBuf> {
    let path = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))
        .unwrap_or(url);
    (!path.is_empty() && !path.contains("://")).then(|| PathBuf::from(path))
}

fn is_postgres(url: &str) -> bool {
    url.starts_with("postgres://") || url.starts_with("postgresql://")
}

/// `sqlite:///ABS/PATH`: the URL of a SQLite file that means the same file
/// from any folder.
pub fn sqlite_url(absolute: &Path) -> String {
    format!("sqlite://{}", absolute.display())
}

impl DatabaseArgs {
    /// The SQLite file `--database` names, as an absolute path (canonical once
    /// the file exists), so it means the same file from any folder; `None` for
    /// PostgreSQL (or a URL that names no database, which `open` refuses).
    pub fn sqlite_file(&self) -> Option<PathBuf> {
        if is_postgres(&self.database) {
            return None;
        }
        let given = sqlite_path(&self.database)?;
        Some(
            std::fs::canonicalize(&given)
                .or_else(|_| std::path::absolute(&given))
                .unwrap_or(given),
        )
    }

    /// For the administrator's commands: opens the database like `open`, and
    /// when that created a new SQLite file, says so on stderr: a command
    /// run in the wrong folder would otherwise quietly work on a database no
    /// server uses. Returns whether it did.
    pub async fn open_noting_new(&self) -> anyhow::Result<(Arc<dyn Store>, bool)> {
        let is_new = self.sqlite_file().is_some_and(|path| !path.exists());
        let store = self.open().await?;
        if let Some(path) = self.sqlite_file().filter(|_| is_new) {
            eprintln!(
                "latchkey: created a new database {}; a server started in another folder does not use it \
                 (run this in the server's folder, or pass the server's --database)",
                sqlite_url(&path)
            );
        }
        Ok((store, is_new))
    }

    pub async fn open(&self) -> anyhow::Result<Arc<dyn Store>> {
        let url = self.database.as_str();
        match Location::of("--database", url)? {
            Location::Postgres => {
                let settings = PoolSettings {
                    max_size: self.pool_size.max(1),
                    wait_timeout: Duration::from_millis(self.pool_timeout_ms),
                    connect_timeout: Duration::from_millis(self.connect_timeout_ms),
                };
                let store = PostgresStore::connect(url, &settings)
                    .await
                    .with_context(|| format!("opening the PostgreSQL database {}", masked(url)))?;
                Ok(Arc::new(store))
            }
            Location::Sqlite(path) => {
                let store =
                    SqliteStore::open(&path).with_context(|| format!("opening the SQLite database {}", masked(url)))?;
                Ok(Arc::new(store))
            }
        }
    }
}

/// Which backend a database URL names.
pub enum Location {
    Sqlite(PathBuf),
    Postgres,
}

impl Location {
    /// The backend `url` names; an error naming `flag` when it names none.
    pub fn of(flag: &str, url: &str) -> anyhow::Result<Location> {
        if is_postgres(url) {
            return Ok(Location::Postgres);
        }
        match sqlite_path(url) {
            Some(path) => Ok(Location::Sqlite(path)),
            None => bail!(
                "{flag} {} is not a database URL; use sqlite://PATH or postgres://USER:PASSWORD@HOST:PORT/DATABASE",
                masked(url)
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_urls() {
        assert_eq!(sqlite_path("sqlite://latchkey.db"), Some(PathBuf::from("latchkey.db")));
        assert_eq!(
            sqlite_path("sqlite:///var/lib/k.db"),
            Some(PathBuf::from("/var/lib/k.db"))
        );
        assert_eq!(sqlite_path("sqlite:k.db"), Some(PathBuf::from("k.db")));
        assert_eq!(sqlite_path("k.db"), Some(PathBuf::from("k.db")));
        assert_eq!(sqlite_path("mysql://x"), None);
        assert_eq!(sqlite_path("sqlite://"), None);
    }

    #[test]
    fn passwords_are_masked() {
        let cases = [
            (
                "postgres://user:hunter2@db:5432/latchkey",
                "postgres://user:***@db:5432/latchkey",
            ),
            (
                "postgresql://u:p@ss/w@rd@db/k?sslmode=disable",
                "postgresql://u:***@db/k?sslmode=disable",
            ),
            (
                "postgres://db/k?user=u&password=hunter2",
                "postgres://db/k?user=u&password=***",
            ),
            ("mysql://root:hunter2@db/k", "mysql://root:***@db/k"),
            ("root:hunter2@db", "root:***@db"),
            ("postgres://user@db/k", "postgres://user@db/k"),
            ("sqlite://latchkey.db", "sqlite://latchkey.db"),
        ];
        for (url, expected) in cases {
            assert_eq!(masked(url), expected);
        }
    }

    #[test]
    fn debug_masks_the_password() {
        let args = DatabaseArgs {
            database: "postgres://latchkey:hunter2@db/latchkey".to_string(),
            pool_size: 16,
            pool_timeout_ms: 2000,
            connect_timeout_ms: 2000,
        };
        let debug = format!("{args:?}");
        assert!(!debug.contains("hunter2"), "{debug}");
        assert!(debug.contains("postgres://latchkey:***@db/latchkey"), "{debug}");
    }

    #[tokio::test]
    async fn open_errors_mask_the_password() {
        for url in ["mysql://root:hunter2@db/k", "postgres://root:hunter2@127.0.0.1:1/k"] {
            let args = DatabaseArgs {
                database: url.to_string(),
                pool_size: 1,
                pool_timeout_ms: 100,
                connect_timeout_ms: 100,
            };
            let error = format!("{:#}", args.open().await.err().expect("the database cannot be opened"));
            assert!(!error.contains("hunter2"), "{error}");
            assert!(error.contains("root:***@"), "{error}");
        }
    }
}
