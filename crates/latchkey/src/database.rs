//! `--database URL`: which storage backend, where.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context};
use clap::Args;
use latchkey_store::Store;
use latchkey_store_postgres::{PoolSettings, PostgresStore};
use latchkey_store_sqlite::SqliteStore;

pub const DEFAULT_DATABASE: &str = "sqlite://latchkey.db";

#[derive(Args, Debug, Clone)]
pub struct DatabaseArgs {
    /// Where tokens are kept: sqlite://PATH (a file, created if missing) or
    /// postgres://USER:PASSWORD@HOST:PORT/DATABASE (shared by many instances).
    #[arg(long, env = "LATCHKEY_DATABASE", default_value = DEFAULT_DATABASE)]
    pub database: String,
    /// PostgreSQL: most connections open at once.
    #[arg(long, env = "LATCHKEY_POOL_SIZE", default_value_t = 16)]
    pub pool_size: usize,
    /// PostgreSQL: longest wait for a free connection before a request gets 503, in milliseconds.
    #[arg(long, env = "LATCHKEY_POOL_TIMEOUT_MS", default_value_t = 2000)]
    pub pool_timeout_ms: u64,
    /// PostgreSQL: longest wait to open a connection, in milliseconds.
    #[arg(long, env = "LATCHKEY_CONNECT_TIMEOUT_MS", default_value_t = 2000)]
    pub connect_timeout_ms: u64,
}

/// The SQLite file a URL names: `sqlite://PATH`, `sqlite:PATH`, or a bare path.
fn sqlite_path(url: &str) -> Option<PathBuf> {
    let path = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))
        .unwrap_or(url);
    (!path.is_empty() && !path.contains("://")).then(|| PathBuf::from(path))
}

impl DatabaseArgs {
    pub async fn open(&self) -> anyhow::Result<Arc<dyn Store>> {
        let url = self.database.as_str();
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            let settings = PoolSettings {
                max_size: self.pool_size.max(1),
                wait_timeout: Duration::from_millis(self.pool_timeout_ms),
                connect_timeout: Duration::from_millis(self.connect_timeout_ms),
            };
            let store = PostgresStore::connect(url, &settings)
                .await
                .context("opening the PostgreSQL database")?;
            return Ok(Arc::new(store));
        }
        let Some(path) = sqlite_path(url) else {
            bail!("--database {url:?} is not a database URL; use sqlite://PATH or postgres://…");
        };
        let store =
            SqliteStore::open(&path).with_context(|| format!("opening the SQLite database {}", path.display()))?;
        Ok(Arc::new(store))
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
}
