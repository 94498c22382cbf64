//! `latchkey admin copy --from URL --to URL`: moves a database between
//! SQLite and PostgreSQL (either way) with every token working and every id
//! kept; resumes after an interruption. The copying itself is
//! [`latchkey_store::copy`].

use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use clap::Args;
use latchkey_store::copy::{copy, RawTables, Report, MARKER};
use latchkey_store_postgres::copy::PostgresTables;
use latchkey_store_postgres::PoolSettings;
use latchkey_store_sqlite::copy::SqliteTables;

use crate::database::{masked, sqlite_url, DatabaseArgs, Location};

#[derive(Args)]
pub struct CopyArgs {
    /// The database to copy: sqlite://PATH or postgres://…; it is only read.
    #[arg(long, value_name = "URL")]
    from: String,
    /// The database to copy into: new or empty (a SQLite file is created), or an interrupted copy's.
    #[arg(long, value_name = "URL")]
    to: String,
    /// Print no progress.
    #[arg(long)]
    quiet: bool,
}

impl std::fmt::Debug for CopyArgs {
    /// Shows the URLs with their passwords masked.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CopyArgs")
            .field("from", &masked(&self.from))
            .field("to", &masked(&self.to))
            .field("quiet", &self.quiet)
            .finish()
    }
}

/// One connection at a time is all a copy uses.
const POOL: PoolSettings = PoolSettings {
    max_size: 2,
    wait_timeout: Duration::from_secs(30),
    connect_timeout: Duration::from_secs(10),
};

/// Longest time between two progress lines of a table.
const REPORT_EVERY: Duration = Duration::from_secs(1);

/// An opened end of the copy and its name for messages (never a password).
struct End {
    tables: Box<dyn RawTables>,
    name: String,
}

/// Opens `url` (given as `flag`) to be read only.
async fn open_source(flag: &str, url: &str) -> anyhow::Result<End> {
    match Location::of(flag, url)? {
        Location::Sqlite(path) => {
            if !path.exists() {
                bail!("{flag}: there is no database at {}", masked(url));
            }
            let name = sqlite_url(&std::fs::canonicalize(&path)?);
            let tables = SqliteTables::open_source(&path).with_context(|| format!("opening {name}"))?;
            Ok(End {
                tables: Box::new(tables),
                name,
            })
        }
        Location::Postgres => {
            let name = masked(url);
            let tables = PostgresTables::open_source(url, &POOL)
                .await
                .with_context(|| format!("opening {name}"))?;
            Ok(End {
                tables: Box::new(tables),
                name,
            })
        }
    }
}

/// Refuses to serve the target of an unfinished copy: it lacks the rows not
/// copied yet, so tokens issued long ago would be refused.
pub async fn refuse_unfinished_copy(database: &DatabaseArgs) -> anyhow::Result<()> {
    if database.sqlite_file().is_some_and(|path| !path.exists()) {
        return Ok(());
    }
    let end = open_source("--database", &database.database).await?;
    if end.tables.table_names().await?.iter().any(|table| table == MARKER) {
        bail!(
            "{} holds an unfinished `latchkey admin copy` (its table {MARKER}): run the same copy again to \
             finish it, then start the server",
            end.name
        );
    }
    Ok(())
}

async fn open_target(url: &str) -> anyhow::Result<End> {
    match Location::of("--to", url)? {
        Location::Sqlite(path) => {
            let tables = SqliteTables::open_target(&path).with_context(|| format!("opening {}", masked(url)))?;
            Ok(End {
                tables: Box::new(tables),
                name: sqlite_url(&std::fs::canonicalize(&path)?),
            })
        }
        Location::Postgres => {
            let name = masked(url);
            let tables = PostgresTables::open_target(url, &POOL)
                .await
                .with_context(|| format!("opening {name}"))?;
            Ok(End {
                tables: Box::new(tables),
                name,
            })
        }
    }
}

/// Progress lines on stderr: at most one every [`REPORT_EVERY`] while a
/// table is copied, and one when it is done, with the rate of this run.
struct Progress {
    quiet: bool,
    /// The table being copied, when it started, and how many of its rows
    /// were copied already then (by an interrupted run).
    table: Option<(String, Instant, u64)>,
    last_line: Instant,
}

impl Progress {
    fn report(&mut self, report: Report, source: &str) {
        if self.quiet {
            return;
        }
        let (table, copied, total, done) = match report {
            Report::Resuming => return eprintln!("latchkey: resuming the unfinished copy from {source}"),
            Report::Table {
                table,
                copied,
                total,
                done,
            } => (table, copied, total, done),
        };
        let now = Instant::now();
        let Some((_, started, copied_before)) = self.table.as_ref().filter(|(name, ..)| *name == table) else {
            self.table = Some((table, now, copied));
            self.last_line = now;
            return;
        };
        if !done && now.duration_since(self.last_line) < REPORT_EVERY {
            return;
        }
        self.last_line = now;
        let rate = (copied - copied_before) as f64 / now.duration_since(*started).as_secs_f64().max(0.001);
        let verb = if done { "copied" } else { "copying" };
        eprintln!("latchkey: {verb} {table}: {copied}/{total} rows, {rate:.0} rows/s");
    }
}

pub async fn run(args: CopyArgs) -> anyhow::Result<()> {
    let started = Instant::now();
    let source = open_source("--from", &args.from).await?;
    let target = open_target(&args.to).await?;
    let mut progress = Progress {
        quiet: args.quiet,
        table: None,
        last_line: started,
    };
    let source_name = source.name.clone();
    copy(&*source.tables, &*target.tables, &source.name, &mut |report| {
        progress.report(report, &source_name)
    })
    .await
    .with_context(|| format!("copying {} to {}", source.name, target.name))?;
    // As after a bulk load: the planner's statistics are brought up to date.
    let to = DatabaseArgs {
        database: args.to.clone(),
        pool_size: POOL.max_size,
        pool_timeout_ms: POOL.wait_timeout.as_millis() as u64,
        connect_timeout_ms: POOL.connect_timeout.as_millis() as u64,
    };
    to.open().await?.refresh_statistics().await?;
    if !args.quiet {
        eprintln!(
            "latchkey: copied {} to {} in {:.1} s",
            source.name,
            target.name,
            started.elapsed().as_secs_f64()
        );
    }
    Ok(())
}
