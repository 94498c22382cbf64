//! SQLite's side of `latchkey admin copy` (see [`latchkey_store::copy`]):
//! one connection of its own, used by one copy at a time.

use std::path::Path;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use latchkey_store::copy::{quoted, RawTables, Row, Statement, TableColumns, Value};
use latchkey_store::{StoreError, StoreResult};
use rusqlite::types::{Value as SqliteValue, ValueRef};
use rusqlite::{params_from_iter, Connection, OpenFlags};

use crate::{database, open_connection, schema};

pub struct SqliteTables {
    conn: Arc<Mutex<Connection>>,
}

impl SqliteTables {
    /// The database at `path` as a copy's source: only read, never created
    /// or migrated.
    pub fn open_source(path: &Path) -> StoreResult<SqliteTables> {
        let conn = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY).map_err(database)?;
        conn.busy_timeout(std::time::Duration::from_secs(5)).map_err(database)?;
        Ok(SqliteTables::new(conn))
    }

    /// The database at `path` as a copy's target, opened as the store opens
    /// it: created if missing, its schema brought up to date.
    pub fn open_target(path: &Path) -> StoreResult<SqliteTables> {
        let mut conn = open_connection(path)?;
        schema::migrate(&mut conn)?;
        Ok(SqliteTables::new(conn))
    }

    fn new(conn: Connection) -> SqliteTables {
        SqliteTables {
            conn: Arc::new(Mutex::new(conn)),
        }
    }

    /// Runs `work` on the connection, off the async threads.
    async fn with<T: Send + 'static>(
        &self,
        work: impl FnOnce(&mut Connection) -> rusqlite::Result<T> + Send + 'static,
    ) -> StoreResult<T> {
        let conn = self.conn.clone();
        tokio::task::spawn_blocking(move || {
            let mut conn = conn.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            work(&mut conn)
        })
        .await
        .map_err(|error| StoreError::Database(error.to_string()))?
        .map_err(database)
    }

    async fn texts(&self, sql: &'static str, param: Option<String>) -> StoreResult<Vec<String>> {
        self.with(move |conn| {
            conn.prepare(sql)?
                .query_map(params_from_iter(param), |row| row.get(0))?
                .collect()
        })
        .await
    }
}

fn bound(value: &Value) -> SqliteValue {
    match value {
        Value::Null => SqliteValue::Null,
        Value::Integer(number) => SqliteValue::Integer(*number),
        Value::Text(text) => SqliteValue::Text(text.clone()),
        Value::Blob(bytes) => SqliteValue::Blob(bytes.clone()),
    }
}

/// Column `at` of `row`.
fn read(row: &rusqlite::Row<'_>, at: usize) -> rusqlite::Result<Value> {
    Ok(match row.get_ref(at)? {
        ValueRef::Null => Value::Null,
        ValueRef::Integer(number) => Value::Integer(number),
        ValueRef::Text(text) => Value::Text(
            std::str::from_utf8(text)
                .map_err(rusqlite::Error::Utf8Error)?
                .to_string(),
        ),
        ValueRef::Blob(bytes) => Value::Blob(bytes.to_vec()),
        // No Latchkey column holds a REAL.
        ValueRef::Real(_) => {
            let name = row.as_ref().column_name(at)?.to_string();
            return Err(rusqlite::Error::InvalidColumnType(
                at,
                name,
                rusqlite::types::Type::Real,
            ));
        }
    })
}

fn run(conn: &Connection, statement: &Statement) -> rusqlite::Result<()> {
    conn.execute(&statement.sql, params_from_iter(statement.params.iter().map(bound)))?;
    Ok(())
}

#[async_trait]
impl RawTables for SqliteTables {
    fn placeholder(&self, n: usize) -> String {
        format!("?{n}")
    }

    async fn schema_version(&self) -> StoreResult<Option<i64>> {
        let version: i64 = self
            .with(|conn| conn.query_row("PRAGMA user_version", [], |row| row.get(0)))
            .await?;
        Ok((version > 0).then_some(version))
    }

    async fn table_names(&self) -> StoreResult<Vec<String>> {
        self.texts(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\'",
            None,
        )
        .await
    }

    async fn columns(&self, table: &str) -> StoreResult<TableColumns> {
        let table = table.to_string();
        Ok(TableColumns {
            names: self
                .texts(
                    "SELECT name FROM pragma_table_info(?1) ORDER BY cid",
                    Some(table.clone()),
                )
                .await?,
            key: self
                .texts(
                    "SELECT name FROM pragma_table_info(?1) WHERE pk > 0 ORDER BY pk",
                    Some(table),
                )
                .await?,
        })
    }

    async fn query(&self, sql: &str, params: &[Value]) -> StoreResult<Vec<Row>> {
        let (sql, params): (String, Vec<SqliteValue>) = (sql.to_string(), params.iter().map(bound).collect());
        self.with(move |conn| {
            let mut statement = conn.prepare(&sql)?;
            let width = statement.column_count();
            let rows = statement.query_map(params_from_iter(params), |row| {
                (0..width).map(|at| read(row, at)).collect()
            })?;
            rows.collect()
        })
        .await
    }

    async fn execute(&self, statements: Vec<Statement>) -> StoreResult<()> {
        self.with(move |conn| {
            let tx = conn.transaction()?;
            for statement in &statements {
                run(&tx, statement)?;
            }
            tx.commit()
        })
        .await
    }

    async fn insert(&self, table: &str, columns: &[String], rows: Vec<Row>, then: Statement) -> StoreResult<()> {
        let names: Vec<String> = columns.iter().map(|name| quoted(name)).collect();
        let placeholders: Vec<String> = (1..=columns.len()).map(|n| self.placeholder(n)).collect();
        let sql = format!(
            "INSERT INTO {} ({}) VALUES ({})",
            quoted(table),
            names.join(", "),
            placeholders.join(", ")
        );
        self.with(move |conn| {
            let tx = conn.transaction()?;
            {
                let mut insert = tx.prepare(&sql)?;
                for row in &rows {
                    insert.execute(params_from_iter(row.iter().map(bound)))?;
                }
            }
            run(&tx, &then)?;
            tx.commit()
        })
        .await
    }
}
