//! `latchkey admin backup` and `admin restore`: a consistent copy of a
//! SQLite database taken while servers use it, and putting one back. For
//! PostgreSQL, `pg_dump` and `pg_restore` do this (README, "Backups").

use std::path::PathBuf;

use anyhow::{bail, Context};
use clap::Args;
use latchkey_store_sqlite::backup::copy_database;

use crate::database::{sqlite_url, DatabaseArgs};

#[derive(Args, Debug)]
pub struct BackupArgs {
    #[command(flatten)]
    database: DatabaseArgs,
    /// The file to write the copy to; it must not exist.
    #[arg(long, value_name = "FILE")]
    to: PathBuf,
}

#[derive(Args, Debug)]
pub struct RestoreArgs {
    /// The backup to restore (a file `admin backup` wrote).
    #[arg(long, value_name = "FILE")]
    from: PathBuf,
    #[command(flatten)]
    database: DatabaseArgs,
    /// Replace the database if it exists (stop every server on it first).
    #[arg(long)]
    force: bool,
}

/// The SQLite file `database` names, or an error pointing PostgreSQL users
/// to its own tools.
fn sqlite_file(database: &DatabaseArgs, what: &str) -> anyhow::Result<PathBuf> {
    database.sqlite_file().with_context(|| {
        format!("{what} works on SQLite databases; for PostgreSQL use pg_dump and pg_restore (README, \"Backups\")")
    })
}

pub fn backup(args: BackupArgs) -> anyhow::Result<()> {
    let from = sqlite_file(&args.database, "backup")?;
    if !from.exists() {
        bail!("there is no database at {}", sqlite_url(&from));
    }
    if args.to.exists() {
        bail!("{} exists already; back up to a new file", args.to.display());
    }
    copy_database(&from, &args.to).with_context(|| format!("backing up {}", sqlite_url(&from)))?;
    eprintln!("latchkey: backed up {} to {}", sqlite_url(&from), args.to.display());
    Ok(())
}

pub fn restore(args: RestoreArgs) -> anyhow::Result<()> {
    let to = sqlite_file(&args.database, "restore")?;
    if to.exists() {
        if !args.force {
            bail!(
                "{} exists; stop every server on it and pass --force to replace it",
                sqlite_url(&to)
            );
        }
        for suffix in ["", "-wal", "-shm"] {
            let file = PathBuf::from(format!("{}{suffix}", to.display()));
            if file.exists() {
                std::fs::remove_file(&file).with_context(|| format!("removing {}", file.display()))?;
            }
        }
    }
    copy_database(&args.from, &to).with_context(|| format!("restoring {}", args.from.display()))?;
    eprintln!("latchkey: restored {} to {}", args.from.display(), sqlite_url(&to));
    Ok(())
}
