//! PostgreSQL's side of `latchkey admin copy` (see
//! [`latchkey_store::copy`]): rows are read with plain queries and written
//! with `COPY … FROM STDIN (FORMAT binary)`, the fastest way in.

use std::pin::pin;

use async_trait::async_trait;
use deadpool_postgres::{GenericClient, Object, Pool};
use latchkey_store::copy::{quoted, RawTables, Row, Statement, TableColumns, Value};
use latchkey_store::{StoreError, StoreResult};
use tokio_postgres::binary_copy::BinaryCopyInWriter;
use tokio_postgres::types::{ToSql, Type};

use crate::{database, pool, PoolSettings, PostgresStore};

pub struct PostgresTables {
    pool: Pool,
}

impl PostgresTables {
    /// The database `url` names as a copy's source: only read, never
    /// migrated.
    pub async fn open_source(url: &str, settings: &PoolSettings) -> StoreResult<PostgresTables> {
        let tables = PostgresTables {
            pool: pool(url, settings)?,
        };
        drop(tables.client().await?);
        Ok(tables)
    }

    /// The database `url` names as a copy's target, opened as the store
    /// opens it: its schema brought up to date.
    pub async fn open_target(url: &str, settings: &PoolSettings) -> StoreResult<PostgresTables> {
        let store = PostgresStore::connect(url, settings).await?;
        Ok(PostgresTables { pool: store.pool })
    }

    async fn client(&self) -> StoreResult<Object> {
        crate::pooled(&self.pool).await
    }

    async fn texts(&self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> StoreResult<Vec<String>> {
        let rows = self.client().await?.query(sql, params).await.map_err(database)?;
        Ok(rows.iter().map(|row| row.get(0)).collect())
    }
}

/// A value typed as the column or parameter it goes to expects.
enum Typed {
    Int4(Option<i32>),
    Int8(Option<i64>),
    Text(Option<String>),
    Bytea(Option<Vec<u8>>),
}

impl Typed {
    fn new(value: Value, ty: &Type) -> StoreResult<Typed> {
        let mismatch = |value: &Value| StoreError::Database(format!("a {value:?} value cannot go in a {ty} column"));
        Ok(match *ty {
            Type::INT4 => Typed::Int4(match value {
                Value::Null => None,
                Value::Integer(number) => Some(i32::try_from(number).map_err(|_| mismatch(&value))?),
                _ => return Err(mismatch(&value)),
            }),
            Type::INT8 => Typed::Int8(match value {
                Value::Null => None,
                Value::Integer(number) => Some(number),
                _ => return Err(mismatch(&value)),
            }),
            Type::TEXT | Type::VARCHAR => Typed::Text(match value {
                Value::Null => None,
                Value::Text(text) => Some(text),
                _ => return Err(mismatch(&value)),
            }),
            Type::BYTEA => Typed::Bytea(match value {
                Value::Null => None,
                Value::Blob(bytes) => Some(bytes),
                _ => return Err(mismatch(&value)),
            }),
            _ => return Err(mismatch(&value)),
        })
    }

    fn as_sql(&self) -> &(dyn ToSql + Sync) {
        match self {
            Typed::Int4(value) => value,
            Typed::Int8(value) => value,
            Typed::Text(value) => value,
            Typed::Bytea(value) => value,
        }
    }
}

fn typed(values: Vec<Value>, types: &[Type]) -> StoreResult<Vec<Typed>> {
    values
        .into_iter()
        .zip(types)
        .map(|(value, ty)| Typed::new(value, ty))
        .collect()
}

/// Column `at` of `row`.
fn read(row: &tokio_postgres::Row, at: usize) -> StoreResult<Value> {
    let ty = row.columns()[at].type_();
    let value = match *ty {
        Type::INT4 => row
            .try_get::<_, Option<i32>>(at)
            .map(|n| n.map(|n| Value::Integer(n.into()))),
        Type::INT8 => row.try_get::<_, Option<i64>>(at).map(|n| n.map(Value::Integer)),
        Type::TEXT | Type::VARCHAR | Type::NAME => row.try_get::<_, Option<String>>(at).map(|t| t.map(Value::Text)),
        Type::BYTEA => row.try_get::<_, Option<Vec<u8>>>(at).map(|b| b.map(Value::Blob)),
        _ => {
            let name = row.columns()[at].name();
            return Err(StoreError::Database(format!(
                "the column {name:?} is of type {ty}, which the copy does not know"
            )));
        }
    };
    Ok(value.map_err(database)?.unwrap_or(Value::Null))
}

/// Runs `statement` with its parameters typed as the server expects.
async fn run(client: &impl GenericClient, statement: Statement) -> StoreResult<u64> {
    let prepared = client.prepare(&statement.sql).await.map_err(database)?;
    let params = typed(statement.params, prepared.params())?;
    let refs: Vec<&(dyn ToSql + Sync)> = params.iter().map(Typed::as_sql).collect();
    client.execute(&prepared, &refs).await.map_err(database)
}

#[async_trait]
impl RawTables for PostgresTables {
    fn placeholder(&self, n: usize) -> String {
        format!("${n}")
    }

    async fn schema_version(&self) -> StoreResult<Option<i64>> {
        let client = self.client().await?;
        let exists: bool = client
            .query_one("SELECT to_regclass('latchkey_schema') IS NOT NULL", &[])
            .await
            .map_err(database)?
            .get(0);
        if !exists {
            return Ok(None);
        }
        let row = client
            .query_opt("SELECT version FROM latchkey_schema", &[])
            .await
            .map_err(database)?;
        Ok(row.map(|row| row.get(0)))
    }

    async fn table_names(&self) -> StoreResult<Vec<String>> {
        self.texts(
            "SELECT tablename::text FROM pg_tables WHERE schemaname = current_schema()",
            &[],
        )
        .await
    }

    async fn columns(&self, table: &str) -> StoreResult<TableColumns> {
        Ok(TableColumns {
            names: self
                .texts(
                    "SELECT column_name::text FROM information_schema.columns
                     WHERE table_schema = current_schema() AND table_name = $1 ORDER BY ordinal_position",
                    &[&table],
                )
                .await?,
            key: self
                .texts(
                    "SELECT k.column_name::text FROM information_schema.table_constraints c
                     JOIN information_schema.key_column_usage k ON k.constraint_schema = c.constraint_schema
                         AND k.constraint_name = c.constraint_name
                     WHERE c.constraint_type = 'PRIMARY KEY' AND c.table_schema = current_schema()
                         AND c.table_name = $1
                     ORDER BY k.ordinal_position",
                    &[&table],
                )
                .await?,
        })
    }

    async fn query(&self, sql: &str, params: &[Value]) -> StoreResult<Vec<Row>> {
        let client = self.client().await?;
        let prepared = client.prepare(sql).await.map_err(database)?;
        let params = typed(params.to_vec(), prepared.params())?;
        let refs: Vec<&(dyn ToSql + Sync)> = params.iter().map(Typed::as_sql).collect();
        let rows = client.query(&prepared, &refs).await.map_err(database)?;
        rows.iter()
            .map(|row| (0..row.len()).map(|at| read(row, at)).collect())
            .collect()
    }

    async fn execute(&self, statements: Vec<Statement>) -> StoreResult<()> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(database)?;
        for statement in statements {
            run(&tx, statement).await?;
        }
        tx.commit().await.map_err(database)
    }

    async fn insert(&self, table: &str, columns: &[String], rows: Vec<Row>, then: Statement) -> StoreResult<()> {
        let names: Vec<String> = columns.iter().map(|name| quoted(name)).collect();
        let names = names.join(", ");
        let table = quoted(table);
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(database)?;
        let types: Vec<Type> = tx
            .prepare(&format!("SELECT {names} FROM {table} LIMIT 0"))
            .await
            .map_err(database)?
            .columns()
            .iter()
            .map(|column| column.type_().clone())
            .collect();
        let sink = tx
            .copy_in(&format!("COPY {table} ({names}) FROM STDIN (FORMAT binary)"))
            .await
            .map_err(database)?;
        let mut writer = pin!(BinaryCopyInWriter::new(sink, &types));
        for row in rows {
            let values = typed(row, &types)?;
            let refs: Vec<&(dyn ToSql + Sync)> = values.iter().map(Typed::as_sql).collect();
            writer.as_mut().write(&refs).await.map_err(database)?;
        }
        writer.finish().await.map_err(database)?;
        run(&tx, then).await?;
        tx.commit().await.map_err(database)
    }
}
