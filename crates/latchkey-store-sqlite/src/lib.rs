//! The embedded SQLite backend: one file, WAL journal, `synchronous=FULL` so a
//! committed write survives a crash the next instant. One writer connection
//! (SQLite allows one writer at a time anyway) and a small pool of readers;
//! every call runs on tokio's blocking pool.

#[cfg(test)]
mod audit_plans;
pub mod backup;
pub mod copy;
mod pool;
mod rows;
mod schema;
mod writer;

use std::path::Path;
use std::sync::{Arc, LazyLock};
use std::time::Duration;

use async_trait::async_trait;
use latchkey_core::audit::AuditEntry;
use latchkey_core::audit_list::AuditQuery;
use latchkey_core::glob::fold_case;
use latchkey_core::list::{ListQuery, Page};
use latchkey_core::master_key::{seal_clear_keys, MasterKey};
use latchkey_core::model::{Application, Digest, Organization, Status, StoredKey, StoredSeed, TokenRecord, User};
use latchkey_core::time::Millis;
use latchkey_core::validate::{ApplicationPatch, TokenPatch};
use latchkey_core::Id;
use latchkey_store::audit::{
    application_deleted, application_written, insert_sql, prune_sql, token_deleted, token_written, tokens_revoked,
    AuditRow,
};
use latchkey_store::audit_list::{
    audit_count_select, audit_entry_select, audit_listing, audit_page_select, document, AuditDialect, AuditListing,
};
use latchkey_store::changes::{
    change_log_sql, changes_from_rows, gaps_json, prune_before, recent_after, settled_before, start_from_rows,
    ChangeLogSql, LogPosition, Span,
};
use latchkey_store::keys::{retirement, seed_columns, KeyRetirement, SELECT_KEYS};
use latchkey_store::revoked::{ids_json, revoked_sql, tombstones_of, RevokedSql};
use latchkey_store::sql::{
    count_changes, count_select, credential_select, expires_at, last_used_at, listing, page_select, revocation,
    scope_text, ApplicationColumns, Columns, Dialect, Revocation, SqlValue, TokenColumns, TokenCounts,
    APPLICATION_COLUMNS, TOKEN_COLUMNS,
};
use latchkey_store::update::active_count_change;
use latchkey_store::{
    AuditDocument, AuditScope, AuthChange, AuthChanges, Credential, Store, StoreError, StoreResult, TokenUpdate,
    Updater,
};
use rusqlite::types::Value;
use rusqlite::{params, params_from_iter, Connection, ErrorCode, OptionalExtension, Transaction};

use pool::{Busy, Pool};
use rows::{application_from_row, id_at, status_at, token_from_row};
use writer::Writer;

pub use schema::SUPPORTED_VERSION;

const READERS: usize = 4;
/// Longest wait for a free reader before the request fails (503), as long as
/// PostgreSQL's default pool wait.
const READER_WAIT: Duration = Duration::from_secs(2);

pub struct SqliteStore {
    inner: Arc<Inner>,
}

struct Inner {
    writer: Writer,
    readers: Pool,
}

pub(crate) fn database(error: rusqlite::Error) -> StoreError {
    StoreError::Database(error.to_string())
}

fn open_connection(path: &Path) -> StoreResult<Connection> {
    let conn = Connection::open(path).map_err(database)?;
    conn.busy_timeout(std::time::Duration::from_secs(5)).map_err(database)?;
    conn.execute_batch("PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON;")
        .map_err(database)?;
    Ok(conn)
}

const DIALECT: Dialect = Dialect {
    placeholder: |n| format!("?{n}"),
    // A unary plus keeps SQLite from serving the condition from an index.
    unindexed: |column| format!("+{column}"),
    now_millis: "CAST(unixepoch('subsec') * 1000 AS INTEGER)",
    json_array: |n| format!("json_each(?{n})"),
    skip_locked: "",
};

/// The counts kept with `application` (none when it does not exist).
fn token_counts(tx: &Connection, application: &str) -> rusqlite::Result<Option<TokenCounts>> {
    tx.prepare_cached("SELECT token_count, active_count FROM applications WHERE id = ?1")?
        .query_row([application], |row| {
            Ok(TokenCounts {
                total: row.get::<_, i64>(0)?.max(0) as u64,
                active: row.get::<_, i64>(1)?.max(0) as u64,
            })
        })
        .optional()
}

/// Runs a listing: one page of rows and the count of all matches, read in
/// one transaction so they agree.
fn list_page<C: Columns, T>(
    tx: &Transaction<'_>,
    table: &str,
    columns: &str,
    owners: &[String],
    query: &ListQuery,
    counts: Option<TokenCounts>,
    from_row: fn(&rusqlite::Row<'_>) -> rusqlite::Result<T>,
) -> rusqlite::Result<Page<T>> {
    let sql = listing::<C>(owners, query, &DIALECT, counts);
    let total_count = match sql.total_count {
        Some(known) => known,
        None => {
            let count: i64 = tx
                .prepare_cached(&count_select(table, &sql))?
                .query_row(params_from_iter(sql.params.iter().map(bound)), |row| row.get(0))?;
            count.max(0) as u64
        }
    };
    let items = match query.offset() {
        None => Vec::new(),
        Some(offset) => {
            let text = page_select(table, columns, &sql, DIALECT.placeholder);
            let mut statement = tx.prepare_cached(&text)?;
            let window = [Value::Integer(i64::from(query.per_page)), Value::Integer(offset)];
            let params = sql.params.iter().map(bound).chain(window);
            let rows = statement.query_map(params_from_iter(params), from_row)?;
            rows.collect::<rusqlite::Result<Vec<T>>>()?
        }
    };
    Ok(Page { items, total_count })
}

/// A listing's value as SQLite binds it.
fn bound(value: &SqlValue) -> Value {
    match value {
        SqlValue::Text(text) => Value::Text(text.clone()),
        SqlValue::Integer(number) => Value::Integer(*number),
    }
}

/// Uses as the JSON array `[["id", at], …]` that `json_each` walks (ids are
/// hexadecimal: nothing to escape).
fn uses_json(uses: &[(Id, Millis)]) -> String {
    let pairs: Vec<String> = uses.iter().map(|(id, at)| format!("[\"{id}\",{at}]")).collect();
    format!("[{}]", pairs.join(","))
}

/// Moves an application's kept counts by `total` tokens, `active` of them
/// active; fails when the application does not exist.
fn add_to_counts(tx: &Connection, application: &str, total: i64, active: i64) -> StoreResult<()> {
    let changed = tx
        .prepare_cached(
            "UPDATE applications SET token_count = token_count + ?2, active_count = active_count + ?3 WHERE id = ?1",
        )
        .and_then(|mut statement| statement.execute(params![application, total, active]))
        .map_err(database)?;
    match changed {
        0 => Err(StoreError::ApplicationMissing),
        _ => Ok(()),
    }
}

fn all_keys(tx: &Connection) -> rusqlite::Result<Vec<StoredKey<StoredSeed>>> {
    tx.prepare_cached(SELECT_KEYS)?
        .query_map([], rows::key_from_row)?
        .collect()
}

fn insert_key(tx: &Connection, key: &StoredKey<StoredSeed>) -> StoreResult<()> {
    let (seed, cipher) = seed_columns(&key.seed);
    tx.execute(
        "INSERT INTO signing_keys (kid, seed, seed_cipher, created_at, signs_from, retired_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![key.kid, seed, cipher, key.created_at, key.signs_from, key.retired_at],
    )
    .map_err(database)?;
    Ok(())
}

static CHANGE_LOG: LazyLock<ChangeLogSql> = LazyLock::new(|| change_log_sql(&DIALECT));
static REVOKED: LazyLock<RevokedSql> = LazyLock::new(|| revoked_sql(&DIALECT));
static INSERT_AUDIT: LazyLock<String> = LazyLock::new(|| insert_sql(DIALECT.placeholder));

/// Inserts audit entries in the transaction of the change they record.
fn insert_audit<'a>(tx: &Connection, entries: impl IntoIterator<Item = &'a AuditEntry>) -> StoreResult<()> {
    let mut insert = tx.prepare_cached(&INSERT_AUDIT).map_err(database)?;
    for entry in entries {
        let row = AuditRow::new(entry);
        let [primary_id, primary_type, primary_name] = row.primary_target;
        let [secondary_id, secondary_type, secondary_name] = row.secondary_target;
        insert
            .execute(params![
                row.id,
                row.created_at,
                row.org_id,
                primary_id,
                primary_type,
                primary_name,
                secondary_id,
                secondary_type,
                secondary_name,
                row.actor_id,
                row.actor_type,
                row.actor_name,
                row.request_resource,
                row.request_action,
                row.response_status,
                row.document,
            ])
            .map_err(database)?;
    }
    Ok(())
}

/// Appends to the authentication change log, and drops entries past their
/// retention. SQLite has one writer at a time, so entries are numbered in
/// commit order.
fn log_changes(tx: &Connection, changes: &[AuthChange]) -> StoreResult<()> {
    let now: i64 = tx
        .prepare_cached(&format!("SELECT {}", DIALECT.now_millis))
        .and_then(|mut clock| clock.query_row([], |row| row.get(0)))
        .map_err(database)?;
    let mut append = tx.prepare_cached(&CHANGE_LOG.append).map_err(database)?;
    for change in changes {
        let (kind, subject) = change.to_row();
        append.execute(params![kind, subject, now]).map_err(database)?;
    }
    tx.prepare_cached(&CHANGE_LOG.prune)
        .and_then(|mut prune| prune.execute([prune_before(now)]))
        .map_err(database)?;
    Ok(())
}

impl SqliteStore {
    /// Opens (creating if needed) the database file and migrates its schema.
    pub fn open(path: &Path) -> StoreResult<SqliteStore> {
        let mut writer = open_connection(path)?;
        schema::migrate(&mut writer)?;
        let readers = (0..READERS)
            .map(|_| open_connection(path))
            .collect::<StoreResult<Vec<_>>>()?;
        Ok(SqliteStore {
            inner: Arc::new(Inner {
                writer: Writer::start(writer),
                readers: Pool::new(readers, READER_WAIT),
            }),
        })
    }

    async fn read<T, F>(&self, work: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&Transaction<'_>) -> rusqlite::Result<T> + Send + 'static,
    {
        let inner = self.inner.clone();
        tokio::task::spawn_blocking(move || {
            inner.readers.with(|conn| {
                let tx = conn.transaction()?;
                let result = work(&tx)?;
                tx.commit()?;
                Ok(result)
            })
        })
        .await
        .map_err(|error| StoreError::Database(error.to_string()))?
        .map_err(|Busy(waited)| StoreError::Database(format!("every SQLite reader was busy for {waited:?}")))?
        .map_err(database)
    }

    /// Runs `work` in the next group commit (see [`writer`]).
    async fn write<T, F>(&self, work: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> StoreResult<T> + Send + 'static,
    {
        self.inner.writer.write(work).await
    }
}

fn insert_named(tx: &Connection, table: &str, what: &str, id: Id, name: &str, now: Millis) -> StoreResult<()> {
    let sql = format!("INSERT INTO {table} (id, name, created_at) VALUES (?1, ?2, ?3)");
    match tx.execute(&sql, params![id.to_string(), name, now]) {
        Ok(_) => Ok(()),
        Err(rusqlite::Error::SqliteFailure(error, _)) if error.code == ErrorCode::ConstraintViolation => {
            Err(StoreError::Conflict(format!("{what} {name:?}")))
        }
        Err(error) => Err(database(error)),
    }
}

fn user_named(tx: &Connection, name: &str) -> rusqlite::Result<Option<User>> {
    tx.prepare_cached("SELECT id, name FROM users WHERE name = ?1")?
        .query_row([name], |row| {
            Ok(User {
                id: rows::id_at(row, 0)?,
                name: row.get(1)?,
            })
        })
        .optional()
}

fn select_token(tx: &Connection, application: Id, id: Id) -> rusqlite::Result<Option<TokenRecord>> {
    tx.prepare_cached(&format!(
        "SELECT {TOKEN_COLUMNS} FROM tokens WHERE owner_id = ?1 AND id = ?2 AND owner_type = 'application'"
    ))?
    .query_row([application.to_string(), id.to_string()], token_from_row)
    .optional()
}

const AUDIT_DIALECT: AuditDialect = AuditDialect {
    placeholder: DIALECT.placeholder,
    json_items: |array| format!("json_each({array}) AS item"),
};

/// The values of an audit listing's placeholders, before the page window's.
fn audit_values(listing: &AuditListing) -> Vec<Value> {
    let range = listing
        .time_range
        .map(|(start, end)| [Value::Integer(start), Value::Integer(end)]);
    std::iter::once(Value::Text(listing.scope.clone()))
        .chain(range.into_iter().flatten())
        .chain(listing.filters.iter().cloned().map(Value::Text))
        .collect()
}

/// One page of an audit listing and the count of all it matches, read in one
/// transaction so they agree.
fn audit_page(
    tx: &Transaction<'_>,
    listing: &AuditListing,
    window: Option<(u32, i64)>,
) -> rusqlite::Result<Page<String>> {
    let bound: Vec<Value> = audit_values(listing);
    let total_count: i64 = tx
        .prepare_cached(&audit_count_select(listing))?
        .query_row(params_from_iter(bound.iter()), |row| row.get(0))?;
    let items = match window {
        None => Vec::new(),
        Some((per_page, offset)) => {
            let window = [Value::Integer(i64::from(per_page)), Value::Integer(offset)];
            tx.prepare_cached(&audit_page_select(listing, DIALECT.placeholder))?
                .query_map(params_from_iter(bound.iter().chain(&window)), |row| row.get(0))?
                .collect::<rusqlite::Result<Vec<String>>>()?
        }
    };
    Ok(Page {
        items,
        total_count: total_count.max(0) as u64,
    })
}

#[async_trait]
impl Store for SqliteStore {
    async fn ping(&self) -> StoreResult<()> {
        self.read(|tx| tx.query_row("SELECT 1", [], |_| Ok(()))).await
    }

    /// Nothing to do: SQLite answers listings from their indexes alone (the
    /// query-plan test pins every plan), with or without statistics.
    async fn refresh_statistics(&self) -> StoreResult<()> {
        Ok(())
    }

    async fn signing_keys_or_insert(
        &self,
        candidate: StoredKey<StoredSeed>,
    ) -> StoreResult<Vec<StoredKey<StoredSeed>>> {
        self.write(move |tx| {
            let keys = all_keys(tx).map_err(database)?;
            if !keys.is_empty() {
                return Ok(keys);
            }
            insert_key(tx, &candidate)?;
            Ok(vec![candidate])
        })
        .await
    }

    async fn signing_keys(&self) -> StoreResult<Vec<StoredKey<StoredSeed>>> {
        self.read(|tx| all_keys(tx)).await
    }

    async fn add_signing_key(&self, key: &StoredKey<StoredSeed>, audit: &AuditEntry) -> StoreResult<()> {
        let (key, audit) = (key.clone(), audit.clone());
        self.write(move |tx| {
            insert_key(tx, &key)?;
            insert_audit(tx, [&audit])?;
            log_changes(tx, &[AuthChange::Keys])
        })
        .await
    }

    async fn encrypt_signing_keys(&self, master: &MasterKey, audit: &AuditEntry) -> StoreResult<usize> {
        let (master, audit) = (master.clone(), audit.clone());
        // The one writer runs this whole closure alone: the keys sealed are
        // the keys as they are.
        self.write(move |tx| {
            let sealed = seal_clear_keys(&all_keys(tx).map_err(database)?, &master)?;
            for key in &sealed {
                let (seed, cipher) = seed_columns(&key.seed);
                tx.execute(
                    "UPDATE signing_keys SET seed = ?1, seed_cipher = ?2 WHERE kid = ?3",
                    params![seed, cipher, key.kid],
                )
                .map_err(database)?;
            }
            if !sealed.is_empty() {
                insert_audit(tx, [&audit])?;
            }
            Ok(sealed.len())
        })
        .await
    }

    async fn retire_signing_key(&self, kid: &str, now: Millis, audit: &AuditEntry) -> StoreResult<KeyRetirement> {
        let (kid, audit) = (kid.to_string(), audit.clone());
        // The one writer runs this whole closure alone: the keys checked are
        // the keys written.
        self.write(move |tx| {
            let keys = all_keys(tx).map_err(database)?;
            let outcome = retirement(&keys, &kid, now);
            if outcome == KeyRetirement::Retired {
                tx.execute(
                    "UPDATE signing_keys SET retired_at = ?1 WHERE kid = ?2",
                    params![now, kid],
                )
                .map_err(database)?;
                insert_audit(tx, [&audit])?;
                log_changes(tx, &[AuthChange::Keys])?;
            }
            Ok(outcome)
        })
        .await
    }

    async fn user_or_create(&self, name: &str, now: Millis) -> StoreResult<(User, bool)> {
        let name = name.to_string();
        self.write(move |tx| {
            if let Some(user) = user_named(tx, &name).map_err(database)? {
                return Ok((user, false));
            }
            let user = User {
                id: Id::generate(now / 1000),
                name,
            };
            insert_named(tx, "users", "user", user.id, &user.name, now)?;
            Ok((user, true))
        })
        .await
    }

    async fn user_by_name(&self, name: &str) -> StoreResult<Option<User>> {
        let name = name.to_string();
        self.read(move |tx| user_named(tx, &name)).await
    }

    async fn create_user(&self, user: &User, now: Millis, audit: &AuditEntry) -> StoreResult<()> {
        let (user, audit) = (user.clone(), audit.clone());
        self.write(move |tx| {
            insert_named(tx, "users", "user", user.id, &user.name, now)?;
            insert_audit(tx, [&audit])
        })
        .await
    }

    async fn create_organization(&self, org: &Organization, now: Millis, audit: &AuditEntry) -> StoreResult<()> {
        let (org, audit) = (org.clone(), audit.clone());
        self.write(move |tx| {
            insert_named(tx, "organizations", "organization", org.id, &org.name, now)?;
            insert_audit(tx, [&audit])?;
            for member in &org.members {
                tx.execute(
                    "INSERT OR IGNORE INTO organization_members (organization_id, user_id) VALUES (?1, ?2)",
                    [org.id.to_string(), member.to_string()],
                )
                .map_err(database)?;
            }
            let joined: Vec<AuthChange> = org.members.iter().copied().map(AuthChange::User).collect();
            log_changes(tx, &joined)
        })
        .await
    }

    async fn organizations_of(&self, user: Id) -> StoreResult<Vec<Id>> {
        self.read(move |tx| {
            tx.prepare_cached(
                "SELECT organization_id FROM organization_members WHERE user_id = ?1 ORDER BY organization_id",
            )?
            .query_map([user.to_string()], |row| rows::id_at(row, 0))?
            .collect()
        })
        .await
    }

    async fn create_application(&self, app: &Application, audit: &AuditEntry) -> StoreResult<()> {
        let (app, audit) = (app.clone(), audit.clone());
        self.write(move |tx| {
            tx.execute(
                "INSERT INTO applications (id, owner_type, owner_id, name, name_lower, description, created_at, updated_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                params![
                    app.id.to_string(),
                    app.owner_type.as_str(),
                    app.owner_id.to_string(),
                    app.name,
                    fold_case(&app.name),
                    app.description,
                    app.creation_date,
                    app.last_updated
                ],
            )
            .map_err(database)?;
            insert_audit(tx, [&audit])
        })
        .await
    }

    async fn application(&self, id: Id) -> StoreResult<Option<Application>> {
        self.read(move |tx| {
            tx.prepare_cached(&format!("SELECT {APPLICATION_COLUMNS} FROM applications WHERE id = ?1"))?
                .query_row([id.to_string()], application_from_row)
                .optional()
        })
        .await
    }

    async fn list_applications(&self, owners: &[Id], query: &ListQuery) -> StoreResult<Page<Application>> {
        let owners: Vec<String> = owners.iter().map(Id::to_string).collect();
        let query = query.clone();
        self.read(move |tx| {
            list_page::<ApplicationColumns, _>(
                tx,
                "applications",
                APPLICATION_COLUMNS,
                &owners,
                &query,
                None,
                application_from_row,
            )
        })
        .await
    }

    async fn update_application(
        &self,
        id: Id,
        patch: &ApplicationPatch,
        now: Millis,
        audit: &AuditEntry,
    ) -> StoreResult<Option<Application>> {
        let (patch, audit) = (patch.clone(), audit.clone());
        self.write(move |tx| {
            let name_lower = patch.name.as_deref().map(fold_case);
            let updated = tx
                .prepare_cached(&format!(
                "UPDATE applications SET name = coalesce(?1, name), name_lower = coalesce(?2, name_lower),
                 description = coalesce(?3, description), updated_at = ?4 WHERE id = ?5 RETURNING {APPLICATION_COLUMNS}"
            ))
                .and_then(|mut statement| {
                    statement
                        .query_row(
                            params![patch.name, name_lower, patch.description, now, id.to_string()],
                            application_from_row,
                        )
                        .optional()
                })
                .map_err(database)?;
            if let Some(updated) = &updated {
                insert_audit(tx, [&application_written(&audit, 200, updated)])?;
            }
            Ok(updated)
        })
        .await
    }

    async fn delete_application(&self, application: Id, audit: &AuditEntry) -> StoreResult<bool> {
        let audit = audit.clone();
        self.write(move |tx| {
            let id = application.to_string();
            tx.execute(
                "DELETE FROM tokens WHERE owner_id = ?1 AND owner_type = 'application'",
                [&id],
            )
            .map_err(database)?;
            let deleted = tx
                .query_row(
                    &format!("DELETE FROM applications WHERE id = ?1 RETURNING {APPLICATION_COLUMNS}"),
                    [&id],
                    application_from_row,
                )
                .optional()
                .map_err(database)?;
            let Some(deleted) = deleted else {
                return Ok(false);
            };
            tx.execute(&REVOKED.forget_application, [&id]).map_err(database)?;
            insert_audit(tx, [&application_deleted(&audit, &deleted)])?;
            log_changes(tx, &[AuthChange::Application(application)])?;
            Ok(true)
        })
        .await
    }

    async fn insert_tokens(&self, tokens: &[TokenRecord], audit: &AuditEntry) -> StoreResult<()> {
        let (tokens, audit) = (tokens.to_vec(), audit.clone());
        self.write(move |tx| {
            for (application, total, active) in count_changes(&tokens) {
                add_to_counts(tx, &application, total, active)?;
            }
            let mut insert = tx
                .prepare_cached(&format!(
                    "INSERT INTO tokens ({TOKEN_COLUMNS}, name_lower) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)"
                ))
                .map_err(database)?;
            for token in &tokens {
                insert
                    .execute(params![
                        token.id.to_string(),
                        token.owner_type.as_str(),
                        token.owner_id.to_string(),
                        token.creator.kind.as_str(),
                        token.creator.id.to_string(),
                        token.creator.name,
                        token.name,
                        token.description,
                        scope_text(&token.scope),
                        token.status.as_str(),
                        token.creation_date,
                        token.last_updated,
                        expires_at(token.expiration_date),
                        token.digest.as_slice(),
                        last_used_at(token.last_used),
                        fold_case(&token.name),
                    ])
                    .map_err(database)?;
            }
            insert_audit(tx, [&audit])
        })
        .await
    }

    async fn credential_by_digest(&self, digest: &Digest) -> StoreResult<Option<Credential>> {
        let digest = *digest;
        self.read(move |tx| {
            tx.prepare_cached(&credential_select(DIALECT.placeholder))?
                .query_row([digest.as_slice()], rows::credential_from_row)
                .optional()
        })
        .await
    }

    async fn token(&self, application: Id, id: Id) -> StoreResult<Option<TokenRecord>> {
        self.read(move |tx| select_token(tx, application, id)).await
    }

    async fn list_tokens(&self, application: Id, query: &ListQuery) -> StoreResult<Page<TokenRecord>> {
        let query = query.clone();
        self.read(move |tx| {
            let application = application.to_string();
            let counts = token_counts(tx, &application)?;
            list_page::<TokenColumns, _>(
                tx,
                "tokens",
                TOKEN_COLUMNS,
                &[application],
                &query,
                counts,
                token_from_row,
            )
        })
        .await
    }

    async fn update_token(
        &self,
        application: Id,
        id: Id,
        patch: &TokenPatch,
        updater: &Updater,
        now: Millis,
        audit: &AuditEntry,
    ) -> StoreResult<TokenUpdate> {
        let (patch, updater, audit) = (patch.clone(), updater.clone(), audit.clone());
        // The one writer runs this whole closure alone: the row checked is
        // the row written.
        self.write(move |tx| {
            let Some(current) = select_token(tx, application, id).map_err(database)? else {
                return Ok(TokenUpdate::NotFound);
            };
            let active = match active_count_change(&current, &patch, &updater) {
                Ok(active) => active,
                Err(withheld) => return Ok(TokenUpdate::Escalation(withheld)),
            };
            if active != 0 {
                add_to_counts(tx, &application.to_string(), 0, active)?;
            }
            let name_lower = patch.name.as_deref().map(fold_case);
            let updated = tx
                .prepare_cached(&format!(
                    "UPDATE tokens SET name = coalesce(?1, name), name_lower = coalesce(?2, name_lower),
                 description = coalesce(?3, description), status = coalesce(?4, status), updated_at = ?5
                 WHERE id = ?6 RETURNING {TOKEN_COLUMNS}"
                ))
                .and_then(|mut statement| {
                    statement.query_row(
                        params![
                            patch.name,
                            name_lower,
                            patch.description,
                            patch.status.map(|status| status.as_str()),
                            now,
                            id.to_string()
                        ],
                        token_from_row,
                    )
                })
                .map_err(database)?;
            insert_audit(tx, [&token_written(&audit, 200, &updated)])?;
            log_changes(tx, &[AuthChange::token(&current)])?;
            Ok(TokenUpdate::Updated(updated))
        })
        .await
    }

    async fn revoke_tokens(
        &self,
        application: Id,
        query: &ListQuery,
        kind: Revocation,
        now: Millis,
        audit: &AuditEntry,
    ) -> StoreResult<Option<u64>> {
        let (query, audit) = (query.clone(), audit.clone());
        // The one writer runs this whole closure alone: the tokens counted
        // are the tokens written.
        self.write(move |tx| {
            let application_id = application.to_string();
            if token_counts(tx, &application_id).map_err(database)?.is_none() {
                return Ok(None);
            }
            // No kept counts: the plan should use the filter's own index.
            let sql = listing::<TokenColumns>(std::slice::from_ref(&application_id), &query, &DIALECT, None);
            let statements = revocation(&sql, kind, DIALECT.placeholder);
            let params = || sql.params.iter().map(bound);
            let active = match kind {
                Revocation::Delete => tx
                    .prepare(&statements.count_active)
                    .and_then(|mut count| count.query_row(params_from_iter(params()), |row| row.get::<_, i64>(0)))
                    .map_err(database)?
                    .max(0) as u64,
                Revocation::Deactivate => 0,
            };
            if let Some(tombstones) = &statements.tombstones {
                tx.execute(tombstones, params_from_iter(params())).map_err(database)?;
            }
            let written = match kind {
                Revocation::Deactivate => tx.execute(
                    &statements.write,
                    params_from_iter(params().chain([Value::Integer(now)])),
                ),
                Revocation::Delete => tx.execute(&statements.write, params_from_iter(params())),
            }
            .map_err(database)? as u64;
            let (total, active) = kind.count_change(written, active);
            add_to_counts(tx, &application_id, total, active)?;
            insert_audit(tx, [&tokens_revoked(&audit, written)])?;
            log_changes(tx, &[AuthChange::Application(application)])?;
            Ok(Some(written))
        })
        .await
    }

    async fn delete_token(&self, application: Id, id: Id, audit: &AuditEntry) -> StoreResult<Option<TokenRecord>> {
        let audit = audit.clone();
        self.write(move |tx| {
            let Some(token) = select_token(tx, application, id).map_err(database)? else {
                return Ok(None);
            };
            tx.execute(&tombstones_of("id = ?1"), [id.to_string()])
                .and_then(|_| tx.execute("DELETE FROM tokens WHERE id = ?1", [id.to_string()]))
                .and_then(|_| tx.execute(&REVOKED.prune_expired, [application.to_string()]))
                .map_err(database)?;
            add_to_counts(
                tx,
                &application.to_string(),
                -1,
                -i64::from(token.status == Status::Active),
            )?;
            insert_audit(tx, [&token_deleted(&audit, &token)])?;
            log_changes(tx, &[AuthChange::token(&token)])?;
            Ok(Some(token))
        })
        .await
    }

    async fn append_audit(&self, entries: &[AuditEntry]) -> StoreResult<()> {
        let entries = entries.to_vec();
        self.write(move |tx| insert_audit(tx, &entries)).await
    }

    async fn prune_audit_logs(&self, before: Millis, limit: u32) -> StoreResult<u64> {
        self.write(move |tx| {
            tx.prepare_cached(&prune_sql(DIALECT.placeholder))
                .and_then(|mut prune| prune.execute(params![before, limit]))
                .map(|deleted| deleted as u64)
                .map_err(database)
        })
        .await
    }

    async fn list_audit_logs(&self, scope: AuditScope, query: &AuditQuery) -> StoreResult<Page<AuditDocument>> {
        let listing = audit_listing(scope, query, &AUDIT_DIALECT);
        let window = query.offset().map(|offset| (query.per_page, offset));
        let page = self.read(move |tx| audit_page(tx, &listing, window)).await?;
        Ok(Page {
            items: page
                .items
                .iter()
                .map(|text| document(text))
                .collect::<StoreResult<_>>()?,
            total_count: page.total_count,
        })
    }

    async fn audit_entry(&self, scope: AuditScope, id: Id) -> StoreResult<Option<AuditDocument>> {
        let text: Option<String> = self
            .read(move |tx| {
                tx.prepare_cached(&audit_entry_select(scope, DIALECT.placeholder))?
                    .query_row([id.to_string(), scope.id().to_string()], |row| row.get(0))
                    .optional()
            })
            .await?;
        text.as_deref().map(document).transpose()
    }

    async fn record_token_uses(&self, uses: &[(Id, Millis)]) -> StoreResult<()> {
        let uses = uses_json(uses);
        self.write(move |tx| {
            tx.prepare_cached(
                "UPDATE tokens SET last_used = max(tokens.last_used, uses.value ->> 1) \
                 FROM json_each(?1) AS uses WHERE tokens.id = uses.value ->> 0",
            )
            .and_then(|mut statement| statement.execute([uses]))
            .map_err(database)?;
            Ok(())
        })
        .await
    }

    async fn auth_changes(&self, from: Option<&LogPosition>) -> StoreResult<AuthChanges> {
        let from = from.cloned();
        self.read(move |tx| {
            let span = |tx: &Transaction| {
                tx.prepare_cached(&CHANGE_LOG.span)?
                    .query_row([], |row| Ok(Span::from_row(row.get(0)?, row.get(1)?, row.get(2)?)))
            };
            let Some(from) = from else {
                let span = span(tx)?;
                let settled: Option<i64> = tx
                    .prepare_cached(&CHANGE_LOG.settled)?
                    .query_row([settled_before(span.now)], |row| row.get(0))
                    .optional()?;
                let recent = tx
                    .prepare_cached(&CHANGE_LOG.recent)?
                    .query_map([recent_after(&span, settled)], |row| row.get(0))?
                    .collect::<rusqlite::Result<Vec<i64>>>()?;
                return Ok(Ok(start_from_rows(span, settled, recent)));
            };
            let entry = |row: &rusqlite::Row<'_>| Ok((row.get(0)?, row.get(1)?, row.get(2)?));
            let mut rows: Vec<(i64, String, Vec<u8>)> = Vec::new();
            if from.gaps().next().is_some() {
                let mut gaps = tx.prepare_cached(&CHANGE_LOG.gaps)?;
                rows.extend(
                    gaps.query_map([gaps_json(&from)], entry)?
                        .collect::<rusqlite::Result<Vec<_>>>()?,
                );
            }
            let mut after = tx.prepare_cached(&CHANGE_LOG.after)?;
            rows.extend(
                after
                    .query_map([from.seen() as i64], entry)?
                    .collect::<rusqlite::Result<Vec<_>>>()?,
            );
            Ok(changes_from_rows(&from, rows, span(tx)?))
        })
        .await?
    }

    async fn revoked_tokens(
        &self,
        application: Id,
        after: Option<Id>,
        limit: u32,
        now: Millis,
    ) -> StoreResult<Vec<Id>> {
        let after = after.map(|id| id.to_string()).unwrap_or_default();
        self.read(move |tx| {
            tx.prepare_cached(&REVOKED.page)?
                .query_map(params![application.to_string(), after, now, limit], |row| id_at(row, 0))?
                .collect()
        })
        .await
    }

    async fn token_statuses(&self, application: Id, ids: &[Id]) -> StoreResult<Vec<(Id, Status)>> {
        let ids = ids_json(ids);
        self.read(move |tx| {
            tx.prepare_cached(&REVOKED.statuses)?
                .query_map(params![application.to_string(), ids], |row| {
                    Ok((id_at(row, 0)?, status_at(row, 1)?))
                })?
                .collect()
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use latchkey_core::list::TOKEN_LISTING;

    /// Every token sort order in both directions, a prefix glob, and a filter
    /// on a common status must be answered by walking an index with no sort
    /// step, so page 0 costs the same at a hundred tokens as at a million.
    #[test]
    fn every_token_listing_walks_an_index() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join("plan.db")).unwrap();
        let fields = [
            "name",
            "status",
            "id",
            "creationDate",
            "lastUpdated",
            "expirationDate",
            "lastUsed",
        ];
        let filters: [&[(&str, &str)]; 4] = [
            &[],
            &[("filterField", "name"), ("filter", "seed-0001*")],
            &[("filterField", "status"), ("filter", "active")],
            &[("lastUsedBefore", "1700000000000")],
        ];
        let counts = Some(TokenCounts {
            total: 1_000_000,
            active: 999_000,
        });
        store
            .inner
            .readers
            .with(|conn| {
                for field in fields {
                    for direction in ["asc", "desc"] {
                        for filter in filters {
                            let mut pairs = vec![("sortField", field), ("sortDirection", direction)];
                            pairs.extend_from_slice(filter);
                            let query = TOKEN_LISTING.parse(pairs.iter().copied()).unwrap();
                            let sql = listing::<TokenColumns>(&["0".repeat(24)], &query, &DIALECT, counts);
                            let text = page_select("tokens", TOKEN_COLUMNS, &sql, DIALECT.placeholder);
                            let mut explain = conn.prepare(&format!("EXPLAIN QUERY PLAN {text}")).unwrap();
                            let window = [Value::Integer(100), Value::Integer(0)];
                            let params = sql.params.iter().map(bound).chain(window);
                            let plan: Vec<String> = explain
                                .query_map(params_from_iter(params), |row| row.get::<_, String>(3))
                                .unwrap()
                                .collect::<rusqlite::Result<_>>()
                                .unwrap();
                            let plan = plan.join("; ");
                            assert!(plan.contains("USING INDEX"), "{field} {direction} {filter:?}: {plan}");
                            // A prefix glob or a lastUsedBefore range under another sort
                            // may sort its (narrowed) range.
                            let narrowed = match filter.first() {
                                Some(("filterField", "name")) => field != "name",
                                Some(("lastUsedBefore", _)) => field != "lastUsed",
                                _ => false,
                            };
                            if !narrowed {
                                assert!(!plan.contains("TEMP B-TREE"), "{field} {direction} {filter:?}: {plan}");
                            }
                        }
                    }
                }
            })
            .unwrap();
    }
}
