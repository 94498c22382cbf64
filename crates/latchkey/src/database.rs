//! `--database URL`: which storage backend, where.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{bail, Context};
use clap::Args;
use latchkey_store::Store;
use latchkey_store_sqlite::SqliteStore;

pub const DEFAULT_DATABASE: &str = "sqlite://latchkey.db";

#[derive(Args, Debug, Clone)]
pub struct DatabaseArgs {
    /// Where tokens are kept: sqlite://PATH (a file, created if missing).
    #[arg(long, env = "LATCHKEY_DATABASE", default_value = DEFAULT_DATABASE)]
    pub database: String,
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
    pub fn open(&self) -> anyhow::Result<Arc<dyn Store>> {
        let url = self.database.as_str();
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            bail!("PostgreSQL is not supported by this build yet; use sqlite://PATH");
        }
        let Some(path) = sqlite_path(url) else {
            bail!("--database {url:?} is not a database URL; use sqlite://PATH");
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
