//! `latchkey admin copy`: every row a Latchkey database keeps, copied as
//! stored into another database (SQLite or PostgreSQL, either way), so every
//! token keeps working and every id stays.
//!
//! The logic lives here once; a backend supplies only its dialect through
//! [`RawTables`]: raw rows in and out, its catalog, its placeholders. That
//! is a trait of its own, not part of [`crate::Store`]: raw rows bypass
//! every rule the store keeps, and only this command may see them.
//!
//! Resuming: the target gets a marker table first ([`MARKER`]), naming the
//! source and holding, per table, how many rows were copied and the primary
//! key of the last one. Rows are read from the source in batches by keyset
//! (primary key order, never the whole table in memory), and each batch is
//! inserted in one transaction together with the marker's progress, so after
//! a kill at any point the target holds exactly the batches its marker
//! counts, and a run again continues after the last one. The marker is
//! dropped when every table is copied: the target is then an ordinary
//! database.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::{StoreError, StoreResult};

/// The tables copied, in an order that inserts what a row refers to before
/// the row (an organization's members after its users and itself). A table
/// listed here that the source's schema lacks is skipped.
pub const COPIED_TABLES: &[&str] = &[
    "signing_keys",
    "users",
    "organizations",
    "organization_members",
    "applications",
    "tokens",
    "audit_logs",
    // Tombstones of deleted application tokens, for the verifier feed.
    "deleted_tokens",
];

/// The tables not copied: the authentication change log is transient (a new
/// database starts it empty), each database keeps its own schema version,
/// and the marker is the copy's own. Any other table is refused, so a table
/// added to the schema cannot be left behind unnoticed.
pub const NOT_COPIED: &[&str] = &["auth_changes", "latchkey_schema", MARKER];

/// The target's marker table while a copy is unfinished.
pub const MARKER: &str = "latchkey_copy";

/// Most rows read, held and inserted at once.
pub const BATCH_ROWS: usize = 10_000;

/// One stored value, as either backend keeps it. Its `Debug` shows the kind
/// and size only: rows hold signing keys and token digests.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Value {
    Null,
    Integer(i64),
    Text(String),
    Blob(Vec<u8>),
}

impl std::fmt::Debug for Value {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Value::Null => write!(f, "Null"),
            Value::Integer(_) => write!(f, "Integer"),
            Value::Text(text) => write!(f, "Text({} bytes)", text.len()),
            Value::Blob(bytes) => write!(f, "Blob({} bytes)", bytes.len()),
        }
    }
}

pub type Row = Vec<Value>;

/// A statement and its parameters, bound in order.
#[derive(Debug, Clone)]
pub struct Statement {
    pub sql: String,
    pub params: Vec<Value>,
}

/// A table's columns, in their order, and its primary key's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableColumns {
    pub names: Vec<String>,
    pub key: Vec<String>,
}

/// A database's tables as raw rows: what a backend supplies to the copy.
#[async_trait]
pub trait RawTables: Send + Sync {
    /// Parameter `n` (from 1) in a statement.
    fn placeholder(&self, n: usize) -> String;
    /// The schema version; `None` when this is no Latchkey database.
    async fn schema_version(&self) -> StoreResult<Option<i64>>;
    /// Every table's name, the database engine's own tables excluded.
    async fn table_names(&self) -> StoreResult<Vec<String>>;
    async fn columns(&self, table: &str) -> StoreResult<TableColumns>;
    async fn query(&self, sql: &str, params: &[Value]) -> StoreResult<Vec<Row>>;
    /// Runs the statements in one transaction.
    async fn execute(&self, statements: Vec<Statement>) -> StoreResult<()>;
    /// Inserts `rows` (values for `columns`, in order) into `table`, then
    /// runs `then`, in one durable transaction.
    async fn insert(&self, table: &str, columns: &[String], rows: Vec<Row>, then: Statement) -> StoreResult<()>;
}

#[derive(Debug, thiserror::Error)]
pub enum CopyError {
    #[error("the source is not a Latchkey database")]
    SourceNotLatchkey,
    #[error(
        "the source's schema is version {source_version}, the target's {target_version}; upgrade the older \
         (any latchkey command of the newer version on it does) or copy with the latchkey that matches"
    )]
    SchemaVersions { source_version: i64, target_version: i64 },
    #[error("the source has a table {0:?} this latchkey does not know how to copy")]
    UnknownTable(String),
    #[error("the table {0:?} has no primary key to copy it by")]
    NoPrimaryKey(String),
    #[error("the table {table:?} has columns {source_columns:?} in the source but {target_columns:?} in the target")]
    ColumnsDiffer {
        table: String,
        source_columns: Vec<String>,
        target_columns: Vec<String>,
    },
    #[error("the target is not empty (its table {0:?} has rows); copy into a new, empty database")]
    TargetNotEmpty(String),
    #[error(
        "the target holds an unfinished copy from {0}, not from this source; finish that copy, or copy into a \
         new, empty database"
    )]
    OtherSource(String),
    #[error(
        "the source changed during the copy (its table {table:?} has {source_rows} rows, {copied} were copied); \
         stop every server on the source and copy again into a new, empty database"
    )]
    SourceChanged {
        table: String,
        source_rows: u64,
        copied: u64,
    },
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What the copy tells as it goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Report {
    /// The target holds an unfinished copy from this source: it goes on.
    Resuming,
    /// `copied` of the source's `total` rows of `table` are in the target;
    /// `done` once the table is finished.
    Table {
        table: String,
        copied: u64,
        total: u64,
        done: bool,
    },
}

/// Copies every table of `from` into `to`, resuming an unfinished copy from
/// the same source. `source` names the source in the marker (never with a
/// password): a run with another name does not resume it. Both databases
/// must have the same schema version; `to` must be empty or hold an
/// unfinished copy from `source`.
pub async fn copy(
    from: &dyn RawTables,
    to: &dyn RawTables,
    source: &str,
    report: &mut (dyn FnMut(Report) + Send),
) -> Result<(), CopyError> {
    let source_version = from.schema_version().await?.ok_or(CopyError::SourceNotLatchkey)?;
    let target_version = to.schema_version().await?.unwrap_or(0);
    if source_version != target_version {
        return Err(CopyError::SchemaVersions {
            source_version,
            target_version,
        });
    }
    let tables = tables_to_copy(&from.table_names().await?)?;
    if start(to, source, &tables).await? {
        report(Report::Resuming);
    }
    for table in &tables {
        copy_table(from, to, table, report).await?;
    }
    for table in &tables {
        let (source_rows, copied) = (count(from, table).await?, count(to, table).await?);
        if source_rows != copied {
            return Err(CopyError::SourceChanged {
                table: table.clone(),
                source_rows,
                copied,
            });
        }
    }
    to.execute(vec![statement(format!("DROP TABLE {MARKER}"), vec![])])
        .await?;
    Ok(())
}

/// The tables of the source to copy, in [`COPIED_TABLES`]' order; refuses a
/// table that is in neither list.
fn tables_to_copy(source_tables: &[String]) -> Result<Vec<String>, CopyError> {
    if let Some(unknown) = source_tables
        .iter()
        .find(|table| !COPIED_TABLES.contains(&table.as_str()) && !NOT_COPIED.contains(&table.as_str()))
    {
        return Err(CopyError::UnknownTable(unknown.clone()));
    }
    Ok(COPIED_TABLES
        .iter()
        .filter(|table| source_tables.iter().any(|name| name == *table))
        .map(|table| table.to_string())
        .collect())
}

/// Writes the marker into an empty target, or finds the one an unfinished
/// copy from `source` left; `true` when resuming.
async fn start(to: &dyn RawTables, source: &str, tables: &[String]) -> Result<bool, CopyError> {
    let target_tables = to.table_names().await?;
    if target_tables.iter().any(|table| table == MARKER) {
        let rows = to.query(&format!("SELECT source FROM {MARKER} LIMIT 1"), &[]).await?;
        return match rows.first().and_then(|row| row.first()) {
            Some(Value::Text(marked)) if marked == source => Ok(true),
            Some(Value::Text(marked)) => Err(CopyError::OtherSource(marked.clone())),
            _ => Err(CopyError::OtherSource("an unknown source".to_string())),
        };
    }
    for table in COPIED_TABLES
        .iter()
        .filter(|table| target_tables.iter().any(|name| name == *table))
    {
        let any = to
            .query(&format!("SELECT 1 FROM {} LIMIT 1", quoted(table)), &[])
            .await?;
        if !any.is_empty() {
            return Err(CopyError::TargetNotEmpty(table.to_string()));
        }
    }
    let mut statements = vec![statement(
        format!(
            "CREATE TABLE {MARKER} (table_name TEXT PRIMARY KEY, source TEXT NOT NULL, copied BIGINT NOT NULL, \
             last_key TEXT)"
        ),
        vec![],
    )];
    let insert = format!(
        "INSERT INTO {MARKER} (table_name, source, copied) VALUES ({}, {}, 0)",
        to.placeholder(1),
        to.placeholder(2)
    );
    for table in tables {
        statements.push(statement(
            insert.clone(),
            vec![Value::Text(table.clone()), Value::Text(source.to_string())],
        ));
    }
    to.execute(statements).await?;
    Ok(false)
}

/// Copies the rows of `table` after the last one the marker counts, batch
/// by batch.
async fn copy_table(
    from: &dyn RawTables,
    to: &dyn RawTables,
    table: &str,
    report: &mut (dyn FnMut(Report) + Send),
) -> Result<(), CopyError> {
    let columns = from.columns(table).await?;
    if columns.key.is_empty() {
        return Err(CopyError::NoPrimaryKey(table.to_string()));
    }
    let target_columns = to.columns(table).await?;
    if sorted(&columns.names) != sorted(&target_columns.names) {
        return Err(CopyError::ColumnsDiffer {
            table: table.to_string(),
            source_columns: columns.names,
            target_columns: target_columns.names,
        });
    }
    let key_positions: Vec<usize> = columns
        .key
        .iter()
        .map(|key| columns.names.iter().position(|name| name == key))
        .collect::<Option<_>>()
        .ok_or_else(|| StoreError::Database(format!("the primary key of {table:?} is not among its columns")))?;
    let total = count(from, table).await?;
    let (mut copied, mut after) = progress(to, table).await?;
    report(Report::Table {
        table: table.to_string(),
        copied,
        total,
        done: false,
    });
    let select = |after: bool| batch_select(from, table, &columns, after);
    let (first, next) = (select(false), select(true));
    let record = format!(
        "UPDATE {MARKER} SET copied = {}, last_key = {} WHERE table_name = {}",
        to.placeholder(1),
        to.placeholder(2),
        to.placeholder(3)
    );
    loop {
        let rows = match &after {
            None => from.query(&first, &[]).await?,
            Some(key) => from.query(&next, key).await?,
        };
        let Some(last) = rows.last() else { break };
        let last_key: Vec<Value> = key_positions.iter().map(|at| last[*at].clone()).collect();
        let full = rows.len() == BATCH_ROWS;
        copied += rows.len() as u64;
        let recorded = statement(
            record.clone(),
            vec![
                Value::Integer(copied as i64),
                Value::Text(serde_json::to_string(&last_key).expect("values serialize")),
                Value::Text(table.to_string()),
            ],
        );
        to.insert(table, &columns.names, rows, recorded).await?;
        report(Report::Table {
            table: table.to_string(),
            copied,
            total,
            done: false,
        });
        if !full {
            break;
        }
        after = Some(last_key);
    }
    report(Report::Table {
        table: table.to_string(),
        copied,
        total,
        done: true,
    });
    Ok(())
}

/// `SELECT` of the first batch of `table` in primary key order, or with
/// `after`, of the batch after the key bound as its parameters.
fn batch_select(from: &dyn RawTables, table: &str, columns: &TableColumns, after: bool) -> String {
    let list = |names: &[String]| names.iter().map(|name| quoted(name)).collect::<Vec<_>>().join(", ");
    let keys = list(&columns.key);
    let condition = if after {
        let placeholders: Vec<String> = (1..=columns.key.len()).map(|n| from.placeholder(n)).collect();
        format!(" WHERE ({keys}) > ({})", placeholders.join(", "))
    } else {
        String::new()
    };
    format!(
        "SELECT {} FROM {}{condition} ORDER BY {keys} LIMIT {BATCH_ROWS}",
        list(&columns.names),
        quoted(table)
    )
}

/// How many rows of `table` the marker counts as copied, and the key of the
/// last one.
async fn progress(to: &dyn RawTables, table: &str) -> Result<(u64, Option<Vec<Value>>), CopyError> {
    let rows = to
        .query(
            &format!(
                "SELECT copied, last_key FROM {MARKER} WHERE table_name = {}",
                to.placeholder(1)
            ),
            &[Value::Text(table.to_string())],
        )
        .await?;
    match rows.first().map(Vec::as_slice) {
        Some([Value::Integer(copied), Value::Null]) => Ok((*copied as u64, None)),
        Some([Value::Integer(copied), Value::Text(key)]) => {
            let key = serde_json::from_str(key)
                .map_err(|error| StoreError::Database(format!("the copy's marker is unreadable: {error}")))?;
            Ok((*copied as u64, Some(key)))
        }
        _ => Err(StoreError::Database(format!("the copy's marker has no row for {table:?}")).into()),
    }
}

async fn count(tables: &dyn RawTables, table: &str) -> Result<u64, CopyError> {
    let rows = tables
        .query(&format!("SELECT COUNT(*) FROM {}", quoted(table)), &[])
        .await?;
    match rows.first().and_then(|row| row.first()) {
        Some(Value::Integer(count)) => Ok(*count as u64),
        _ => Err(StoreError::Database(format!("no row count for {table:?}")).into()),
    }
}

fn statement(sql: String, params: Vec<Value>) -> Statement {
    Statement { sql, params }
}

/// An identifier quoted as both dialects quote it.
pub fn quoted(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

fn sorted(names: &[String]) -> Vec<&String> {
    let mut names: Vec<&String> = names.iter().collect();
    names.sort();
    names
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_table_is_copied_or_named_as_not_copied() {
        let tables: Vec<String> = ["tokens", "auth_changes", "users"].map(String::from).to_vec();
        assert_eq!(tables_to_copy(&tables).unwrap(), ["users", "tokens"]);
        let with_new: Vec<String> = ["tokens", "new_table"].map(String::from).to_vec();
        assert!(matches!(tables_to_copy(&with_new), Err(CopyError::UnknownTable(table)) if table == "new_table"));
    }

    #[test]
    fn values_never_show_their_contents() {
        let shown = format!(
            "{:?}",
            vec![Value::Text("hunter2".into()), Value::Blob(b"seed".to_vec())]
        );
        assert_eq!(shown, "[Text(7 bytes), Blob(4 bytes)]");
    }
}
