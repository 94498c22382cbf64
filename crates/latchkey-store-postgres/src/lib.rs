//! The PostgreSQL backend: any number of Latchkey instances share one
//! database. A pool of connections (deadpool) with bounded waits, so an
//! unreachable database turns into prompt errors (503s), never hangs.

pub mod copy;
mod rows;
mod schema;
mod tls;

use std::sync::LazyLock;
use std::time::Duration;

use async_trait::async_trait;
use deadpool_postgres::{GenericClient, Manager, ManagerConfig, Object, Pool, RecyclingMethod, Runtime};
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
use tokio_postgres::error::SqlState;
use tokio_postgres::types::ToSql;
use tokio_postgres::{IsolationLevel, NoTls, Row};

use rows::{application_from_row, credential_from_row, id_at, key_from_row, status_at, token_from_row};

pub use schema::SUPPORTED_VERSION;

/// How the connection pool behaves.
#[derive(Debug, Clone)]
pub struct PoolSettings {
    /// Most connections open at once.
    pub max_size: usize,
    /// Longest wait for a free connection before the request fails (503).
    pub wait_timeout: Duration,
    /// Longest wait to open a new connection.
    pub connect_timeout: Duration,
}

pub struct PostgresStore {
    pool: Pool,
}

pub(crate) fn database(error: impl std::error::Error) -> StoreError {
    StoreError::Database(with_causes(&error))
}

/// An error with its causes: tokio-postgres prints only its kind ("error
/// performing TLS handshake"), and what went wrong is in its source.
fn with_causes(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut cause = error.source();
    while let Some(error) = cause {
        let said = error.to_string();
        // A wrapper may print its cause already (deadpool's errors do).
        if !text.ends_with(&said) {
            text = format!("{text}: {said}");
        }
        cause = error.source();
    }
    text
}

const DIALECT: Dialect = Dialect {
    placeholder: |n| format!("${n}"),
    // PostgreSQL chooses plans from its statistics; no hint needed.
    unindexed: |column| column.to_string(),
    now_millis: "(extract(epoch from clock_timestamp()) * 1000)::bigint",
    json_array: |n| format!("jsonb_array_elements_text(${n}::text::jsonb) AS list(value)"),
    skip_locked: " FOR UPDATE SKIP LOCKED",
};

fn bind(params: &[SqlValue]) -> Vec<&(dyn ToSql + Sync)> {
    params
        .iter()
        .map(|value| match value {
            SqlValue::Text(text) => text as &(dyn ToSql + Sync),
            SqlValue::Integer(number) => number,
        })
        .collect()
}

/// The counts kept with `application` (none when it does not exist).
async fn token_counts(client: &impl GenericClient, application: &str) -> StoreResult<Option<TokenCounts>> {
    let row = client
        .query_opt(
            "SELECT token_count, active_count FROM applications WHERE id = $1",
            &[&application],
        )
        .await
        .map_err(database)?;
    Ok(row.map(|row| TokenCounts {
        total: row.get::<_, i64>(0).max(0) as u64,
        active: row.get::<_, i64>(1).max(0) as u64,
    }))
}

/// Moves an application's kept counts by `total` tokens, `active` of them
/// active; fails when the application does not exist. Locks the
/// application's row until commit.
async fn add_to_counts(client: &impl GenericClient, application: &str, total: i64, active: i64) -> StoreResult<()> {
    let changed = client
        .execute(
            "UPDATE applications SET token_count = token_count + $2, active_count = active_count + $3 WHERE id = $1",
            &[&application, &total, &active],
        )
        .await
        .map_err(database)?;
    match changed {
        0 => Err(StoreError::ApplicationMissing),
        _ => Ok(()),
    }
}

/// Locks the application's row until commit, as updating its kept counts
/// does; `false` when there is none.
///
/// A write that will move the counts of existing tokens takes this before
/// any token's row, and a deletion of the application deletes its row before
/// its tokens: locks are always taken in the same order (application, token,
/// change log), so they cannot deadlock. (An insert locks no existing token,
/// so it may update the counts last.)
/// A write that moves no count (a PATCH of the name or description, or of a
/// status to what it is) locks only the token's row: it need not wait for
/// the others.
async fn lock_application(tx: &impl GenericClient, application: &str) -> StoreResult<bool> {
    let row = tx
        .query_opt(
            "SELECT 1 FROM applications WHERE id = $1 FOR NO KEY UPDATE",
            &[&application],
        )
        .await
        .map_err(database)?;
    Ok(row.is_some())
}

/// Every key, with the table locked against other writers of keys until
/// the transaction ends.
async fn locked_keys(tx: &impl GenericClient) -> StoreResult<Vec<StoredKey<StoredSeed>>> {
    tx.batch_execute("LOCK TABLE signing_keys IN SHARE ROW EXCLUSIVE MODE")
        .await
        .map_err(database)?;
    map_rows(tx.query(SELECT_KEYS, &[]).await.map_err(database)?, key_from_row)
}

async fn insert_key(tx: &impl GenericClient, key: &StoredKey<StoredSeed>) -> StoreResult<()> {
    let (seed, cipher) = seed_columns(&key.seed);
    tx.execute(
        "INSERT INTO signing_keys (kid, seed, seed_cipher, created_at, signs_from, retired_at) VALUES ($1, $2, $3, $4, $5, $6)",
        &[&key.kid, &seed, &cipher, &key.created_at, &key.signs_from, &key.retired_at],
    )
    .await
    .map_err(database)?;
    Ok(())
}

static CHANGE_LOG: LazyLock<ChangeLogSql> = LazyLock::new(|| change_log_sql(&DIALECT));
static REVOKED: LazyLock<RevokedSql> = LazyLock::new(|| revoked_sql(&DIALECT));
static INSERT_AUDIT: LazyLock<String> = LazyLock::new(|| insert_sql(DIALECT.placeholder));

/// Inserts audit entries in the transaction of the change they record. A
/// new row locks nothing another write waits on.
async fn insert_audit(tx: &impl GenericClient, entries: &[AuditEntry]) -> StoreResult<()> {
    let statement = tx.prepare_cached(&INSERT_AUDIT).await.map_err(database)?;
    for entry in entries {
        let row = AuditRow::new(entry);
        let [primary_id, primary_type, primary_name] = &row.primary_target;
        let [secondary_id, secondary_type, secondary_name] = &row.secondary_target;
        tx.execute(
            &statement,
            &[
                &row.id,
                &row.created_at,
                &row.org_id,
                primary_id,
                primary_type,
                primary_name,
                secondary_id,
                secondary_type,
                secondary_name,
                &row.actor_id,
                &row.actor_type,
                &row.actor_name,
                &row.request_resource,
                &row.request_action,
                &row.response_status,
                &row.document,
            ],
        )
        .await
        .map_err(database)?;
    }
    Ok(())
}

/// Appends to the authentication change log, and drops entries past their
/// retention. Call it last in the transaction: an entry's number is taken
/// here, so it stays unseen only for the moment until the commit (readers
/// keep looking for numbers they have not seen: [`LogPosition`]). No lock
/// orders the appends, so transactions of many instances commit at once.
async fn log_changes(tx: &impl GenericClient, changes: &[AuthChange]) -> StoreResult<()> {
    let now: i64 = tx
        .query_one(&format!("SELECT {}", DIALECT.now_millis), &[])
        .await
        .map_err(database)?
        .get(0);
    for change in changes {
        let (kind, subject) = change.to_row();
        tx.execute(&CHANGE_LOG.append, &[&kind, &subject, &now])
            .await
            .map_err(database)?;
    }
    tx.execute(&CHANGE_LOG.prune, &[&prune_before(now)])
        .await
        .map_err(database)?;
    Ok(())
}

fn map_rows<T>(rows: Vec<Row>, from_row: fn(&Row) -> StoreResult<T>) -> StoreResult<Vec<T>> {
    rows.iter().map(from_row).collect()
}

/// A read-only transaction that sees one snapshot throughout, so a page and
/// its count agree.
async fn snapshot(client: &mut Object) -> StoreResult<deadpool_postgres::Transaction<'_>> {
    client
        .build_transaction()
        .isolation_level(IsolationLevel::RepeatableRead)
        .read_only(true)
        .start()
        .await
        .map_err(database)
}

/// One page of a listing and the count of all matches, read from one
/// snapshot; `counted` when one application's tokens are listed, whose kept
/// counts then answer `totalCount` where they can.
async fn list_page<C: Columns, T>(
    client: &mut Object,
    table: &str,
    columns: &str,
    owners: &[String],
    query: &ListQuery,
    counted: bool,
    from_row: fn(&Row) -> StoreResult<T>,
) -> StoreResult<Page<T>> {
    let tx = snapshot(client).await?;
    let counts = match (counted, owners) {
        (true, [application]) => token_counts(&tx, application).await?,
        _ => None,
    };
    let sql = listing::<C>(owners, query, &DIALECT, counts);
    let params = bind(&sql.params);
    let total_count = match sql.total_count {
        Some(known) => known,
        None => {
            let row = tx
                .query_one(&count_select(table, &sql), &params)
                .await
                .map_err(database)?;
            row.get::<_, i64>(0).max(0) as u64
        }
    };
    let items = match query.offset() {
        None => Vec::new(),
        Some(offset) => {
            let statement = tx
                .prepare_cached(&page_select(table, columns, &sql, DIALECT.placeholder))
                .await
                .map_err(database)?;
            let per_page = i64::from(query.per_page);
            let mut params = params;
            params.extend([&per_page as &(dyn ToSql + Sync), &offset]);
            map_rows(tx.query(&statement, &params).await.map_err(database)?, from_row)?
        }
    };
    tx.commit().await.map_err(database)?;
    Ok(Page { items, total_count })
}

async fn insert_named(
    client: &impl GenericClient,
    table: &str,
    what: &str,
    id: Id,
    name: &str,
    now: Millis,
) -> StoreResult<()> {
    let sql = format!("INSERT INTO {table} (id, name, created_at) VALUES ($1, $2, $3)");
    match client.execute(&sql, &[&id.to_string(), &name, &now]).await {
        Ok(_) => Ok(()),
        Err(error) if error.code() == Some(&SqlState::UNIQUE_VIOLATION) => {
            Err(StoreError::Conflict(format!("{what} {name:?}")))
        }
        Err(error) => Err(database(error)),
    }
}

async fn select_token(client: &impl GenericClient, application: Id, id: Id) -> StoreResult<Option<TokenRecord>> {
    let sql =
        format!("SELECT {TOKEN_COLUMNS} FROM tokens WHERE owner_id = $1 AND id = $2 AND owner_type = 'application'");
    let row = client
        .query_opt(&sql, &[&application.to_string(), &id.to_string()])
        .await
        .map_err(database)?;
    row.as_ref().map(token_from_row).transpose()
}

/// What [`Store::update_token`] was asked to do.
#[derive(Clone, Copy)]
struct TokenWrite<'a> {
    application: Id,
    id: Id,
    patch: &'a TokenPatch,
    updater: &'a Updater,
    now: Millis,
    audit: &'a AuditEntry,
}

/// One try at a token update, in its own transaction. The rule is checked
/// on the token's row as it is locked until commit. Without
/// `application_locked`, an update that would move the application's kept
/// counts is rolled back and `None` returned: the application's row must be
/// locked before the token's (see [`lock_application`]).
async fn update_token_in(
    client: &mut Object,
    update: &TokenWrite<'_>,
    application_locked: bool,
) -> StoreResult<Option<TokenUpdate>> {
    let TokenWrite {
        application,
        id,
        patch,
        updater,
        now,
        audit,
    } = *update;
    let tx = client.transaction().await.map_err(database)?;
    let application_id = application.to_string();
    if application_locked && !lock_application(&tx, &application_id).await? {
        return Ok(Some(TokenUpdate::NotFound));
    }
    let locked = format!(
        "SELECT {TOKEN_COLUMNS} FROM tokens WHERE owner_id = $1 AND id = $2 AND owner_type = 'application' FOR UPDATE"
    );
    let current = tx
        .query_opt(&locked, &[&application_id, &id.to_string()])
        .await
        .map_err(database)?;
    let Some(current) = current.as_ref().map(token_from_row).transpose()? else {
        return Ok(Some(TokenUpdate::NotFound));
    };
    let active = match active_count_change(&current, patch, updater) {
        Ok(active) => active,
        Err(withheld) => return Ok(Some(TokenUpdate::Escalation(withheld))),
    };
    if active != 0 {
        if !application_locked {
            tx.rollback().await.map_err(database)?;
            return Ok(None);
        }
        add_to_counts(&tx, &application_id, 0, active).await?;
    }
    let name_lower = patch.name.as_deref().map(fold_case);
    let status = patch.status.map(|status| status.as_str());
    let sql = format!(
        "UPDATE tokens SET name = coalesce($1, name), name_lower = coalesce($2, name_lower),
         description = coalesce($3, description), status = coalesce($4, status), updated_at = $5
         WHERE id = $6 RETURNING {TOKEN_COLUMNS}"
    );
    let row = tx
        .query_one(
            &sql,
            &[
                &patch.name,
                &name_lower,
                &patch.description,
                &status,
                &now,
                &id.to_string(),
            ],
        )
        .await
        .map_err(database)?;
    let updated = token_from_row(&row)?;
    insert_audit(&tx, &[token_written(audit, 200, &updated)]).await?;
    log_changes(&tx, &[AuthChange::token(&current)]).await?;
    tx.commit().await.map_err(database)?;
    Ok(Some(TokenUpdate::Updated(updated)))
}

/// A pool of connections to the database `url` names; none is opened yet.
fn pool(url: &str, settings: &PoolSettings) -> StoreResult<Pool> {
    let (url, tls) = tls::from_url(url)?;
    let mut config: tokio_postgres::Config = url
        .parse()
        .map_err(|error| StoreError::Database(format!("the PostgreSQL URL is not valid: {error}")))?;
    config.connect_timeout(settings.connect_timeout);
    config.application_name("latchkey");
    // Plan each listing for its actual owner: a cached generic plan
    // cannot tell a 100-token application from a million-token one and
    // may scan the whole table by primary key.
    config.options("-c plan_cache_mode=force_custom_plan");
    let manager_config = ManagerConfig {
        recycling_method: RecyclingMethod::Fast,
    };
    let manager = match tls {
        tls::Tls::Off => Manager::from_config(config, NoTls, manager_config),
        tls::Tls::On { negotiation, connector } => {
            config.ssl_mode(negotiation);
            Manager::from_config(config, connector, manager_config)
        }
    };
    Pool::builder(manager)
        .max_size(settings.max_size)
        .runtime(Runtime::Tokio1)
        .wait_timeout(Some(settings.wait_timeout))
        .create_timeout(Some(settings.connect_timeout))
        .recycle_timeout(Some(settings.connect_timeout))
        .build()
        .map_err(database)
}

impl PostgresStore {
    /// Connects (bounded by `settings.connect_timeout`) and migrates the
    /// schema. TLS as the URL's `sslmode` and `sslrootcert` ask, with libpq's
    /// meanings; none without them.
    pub async fn connect(url: &str, settings: &PoolSettings) -> StoreResult<PostgresStore> {
        let store = PostgresStore {
            pool: pool(url, settings)?,
        };
        let mut client = store.client().await?;
        schema::migrate(&mut client).await?;
        drop(client);
        Ok(store)
    }

    async fn client(&self) -> StoreResult<Object> {
        pooled(&self.pool).await
    }
}

/// A connection from `pool`; the error says why there is none (a TLS
/// handshake's reason, say).
async fn pooled(pool: &Pool) -> StoreResult<Object> {
    pool.get()
        .await
        .map_err(|error| StoreError::Database(format!("no PostgreSQL connection: {}", with_causes(&error))))
}

const AUDIT_DIALECT: AuditDialect = AuditDialect {
    placeholder: DIALECT.placeholder,
    json_items: |array| format!("jsonb_array_elements(CAST(CAST({array} AS text) AS jsonb)) AS item(value)"),
};

/// One page of an audit listing and the count of all it matches, read from
/// one snapshot.
async fn audit_page(
    client: &mut Object,
    listing: &AuditListing,
    window: Option<(u32, i64)>,
) -> StoreResult<Page<AuditDocument>> {
    let tx = snapshot(client).await?;
    let mut params: Vec<&(dyn ToSql + Sync)> = vec![&listing.scope];
    if let Some((start, end)) = &listing.time_range {
        params.extend([start as &(dyn ToSql + Sync), end]);
    }
    params.extend(listing.filters.iter().map(|items| items as &(dyn ToSql + Sync)));
    let count = tx
        .prepare_cached(&audit_count_select(listing))
        .await
        .map_err(database)?;
    let total_count: i64 = tx.query_one(&count, &params).await.map_err(database)?.get(0);
    let items = match window {
        None => Vec::new(),
        Some((per_page, offset)) => {
            let per_page = i64::from(per_page);
            params.extend([&per_page as &(dyn ToSql + Sync), &offset]);
            let select = tx
                .prepare_cached(&audit_page_select(listing, DIALECT.placeholder))
                .await
                .map_err(database)?;
            let rows = tx.query(&select, &params).await.map_err(database)?;
            rows.iter()
                .map(|row| document(row.get(0)))
                .collect::<StoreResult<Vec<_>>>()?
        }
    };
    tx.commit().await.map_err(database)?;
    Ok(Page {
        items,
        total_count: total_count.max(0) as u64,
    })
}

#[async_trait]
impl Store for PostgresStore {
    async fn ping(&self) -> StoreResult<()> {
        self.client().await?.simple_query("SELECT 1").await.map_err(database)?;
        Ok(())
    }

    async fn refresh_statistics(&self) -> StoreResult<()> {
        self.client()
            .await?
            .batch_execute("ANALYZE applications, tokens")
            .await
            .map_err(database)
    }

    async fn signing_keys_or_insert(
        &self,
        candidate: StoredKey<StoredSeed>,
    ) -> StoreResult<Vec<StoredKey<StoredSeed>>> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(database)?;
        // Concurrent first starts queue here, so exactly one key is made.
        let mut keys = locked_keys(&tx).await?;
        if keys.is_empty() {
            insert_key(&tx, &candidate).await?;
            keys.push(candidate);
        }
        tx.commit().await.map_err(database)?;
        Ok(keys)
    }

    async fn signing_keys(&self) -> StoreResult<Vec<StoredKey<StoredSeed>>> {
        let client = self.client().await?;
        let statement = client.prepare_cached(SELECT_KEYS).await.map_err(database)?;
        map_rows(client.query(&statement, &[]).await.map_err(database)?, key_from_row)
    }

    async fn add_signing_key(&self, key: &StoredKey<StoredSeed>, audit: &AuditEntry) -> StoreResult<()> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(database)?;
        insert_key(&tx, key).await?;
        insert_audit(&tx, std::slice::from_ref(audit)).await?;
        log_changes(&tx, &[AuthChange::Keys]).await?;
        tx.commit().await.map_err(database)
    }

    async fn encrypt_signing_keys(&self, master: &MasterKey, audit: &AuditEntry) -> StoreResult<usize> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(database)?;
        // A rotation meanwhile queues here: the keys sealed are the keys as they are.
        let sealed = seal_clear_keys(&locked_keys(&tx).await?, master)?;
        for key in &sealed {
            let (seed, cipher) = seed_columns(&key.seed);
            tx.execute(
                "UPDATE signing_keys SET seed = $1, seed_cipher = $2 WHERE kid = $3",
                &[&seed, &cipher, &key.kid],
            )
            .await
            .map_err(database)?;
        }
        if !sealed.is_empty() {
            insert_audit(&tx, std::slice::from_ref(audit)).await?;
        }
        tx.commit().await.map_err(database)?;
        Ok(sealed.len())
    }

    async fn retire_signing_key(&self, kid: &str, now: Millis, audit: &AuditEntry) -> StoreResult<KeyRetirement> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(database)?;
        // Two retirements at once queue here: the keys checked are the keys written.
        let keys = locked_keys(&tx).await?;
        let outcome = retirement(&keys, kid, now);
        if outcome == KeyRetirement::Retired {
            tx.execute("UPDATE signing_keys SET retired_at = $1 WHERE kid = $2", &[&now, &kid])
                .await
                .map_err(database)?;
            insert_audit(&tx, std::slice::from_ref(audit)).await?;
            log_changes(&tx, &[AuthChange::Keys]).await?;
            tx.commit().await.map_err(database)?;
        }
        Ok(outcome)
    }

    async fn user_or_create(&self, name: &str, now: Millis) -> StoreResult<(User, bool)> {
        let client = self.client().await?;
        let candidate = Id::generate(now / 1000);
        let inserted = client
            .query_opt(
                "INSERT INTO users (id, name, created_at) VALUES ($1, $2, $3) ON CONFLICT (name) DO NOTHING RETURNING id",
                &[&candidate.to_string(), &name, &now],
            )
            .await
            .map_err(database)?;
        if inserted.is_some() {
            return Ok((
                User {
                    id: candidate,
                    name: name.to_string(),
                },
                true,
            ));
        }
        let existing = self.user_by_name(name).await?;
        Ok((
            existing.ok_or_else(|| StoreError::Missing(format!("user {name:?} vanished while being read")))?,
            false,
        ))
    }

    async fn user_by_name(&self, name: &str) -> StoreResult<Option<User>> {
        let client = self.client().await?;
        let row = client
            .query_opt("SELECT id, name FROM users WHERE name = $1", &[&name])
            .await
            .map_err(database)?;
        row.map(|row| {
            Ok(User {
                id: rows::id_at(&row, "id")?,
                name: row.get("name"),
            })
        })
        .transpose()
    }

    async fn create_user(&self, user: &User, now: Millis, audit: &AuditEntry) -> StoreResult<()> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(database)?;
        insert_named(&tx, "users", "user", user.id, &user.name, now).await?;
        insert_audit(&tx, std::slice::from_ref(audit)).await?;
        tx.commit().await.map_err(database)
    }

    async fn create_organization(&self, org: &Organization, now: Millis, audit: &AuditEntry) -> StoreResult<()> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(database)?;
        insert_named(&tx, "organizations", "organization", org.id, &org.name, now).await?;
        insert_audit(&tx, std::slice::from_ref(audit)).await?;
        for member in &org.members {
            tx.execute(
                "INSERT INTO organization_members (organization_id, user_id) VALUES ($1, $2) ON CONFLICT DO NOTHING",
                &[&org.id.to_string(), &member.to_string()],
            )
            .await
            .map_err(database)?;
        }
        let joined: Vec<AuthChange> = org.members.iter().copied().map(AuthChange::User).collect();
        log_changes(&tx, &joined).await?;
        tx.commit().await.map_err(database)
    }

    async fn organizations_of(&self, user: Id) -> StoreResult<Vec<Id>> {
        let client = self.client().await?;
        let rows = client
            .query(
                "SELECT organization_id FROM organization_members WHERE user_id = $1 ORDER BY organization_id",
                &[&user.to_string()],
            )
            .await
            .map_err(database)?;
        rows.iter().map(|row| rows::id_at(row, "organization_id")).collect()
    }

    async fn create_application(&self, app: &Application, audit: &AuditEntry) -> StoreResult<()> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(database)?;
        tx.execute(
            "INSERT INTO applications (id, owner_type, owner_id, name, name_lower, description, created_at, updated_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            &[
                &app.id.to_string(),
                &app.owner_type.as_str(),
                &app.owner_id.to_string(),
                &app.name,
                &fold_case(&app.name),
                &app.description,
                &app.creation_date,
                &app.last_updated,
            ],
        )
        .await
        .map_err(database)?;
        insert_audit(&tx, std::slice::from_ref(audit)).await?;
        tx.commit().await.map_err(database)
    }

    async fn application(&self, id: Id) -> StoreResult<Option<Application>> {
        let client = self.client().await?;
        let sql = format!("SELECT {APPLICATION_COLUMNS} FROM applications WHERE id = $1");
        let statement = client.prepare_cached(&sql).await.map_err(database)?;
        let row = client
            .query_opt(&statement, &[&id.to_string()])
            .await
            .map_err(database)?;
        row.as_ref().map(application_from_row).transpose()
    }

    async fn list_applications(&self, owners: &[Id], query: &ListQuery) -> StoreResult<Page<Application>> {
        let owners: Vec<String> = owners.iter().map(Id::to_string).collect();
        let mut client = self.client().await?;
        list_page::<ApplicationColumns, _>(
            &mut client,
            "applications",
            APPLICATION_COLUMNS,
            &owners,
            query,
            false,
            application_from_row,
        )
        .await
    }

    async fn update_application(
        &self,
        id: Id,
        patch: &ApplicationPatch,
        now: Millis,
        audit: &AuditEntry,
    ) -> StoreResult<Option<Application>> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(database)?;
        let name_lower = patch.name.as_deref().map(fold_case);
        let sql = format!(
            "UPDATE applications SET name = coalesce($1, name), name_lower = coalesce($2, name_lower),
             description = coalesce($3, description), updated_at = $4 WHERE id = $5 RETURNING {APPLICATION_COLUMNS}"
        );
        let row = tx
            .query_opt(
                &sql,
                &[&patch.name, &name_lower, &patch.description, &now, &id.to_string()],
            )
            .await
            .map_err(database)?;
        let Some(updated) = row.as_ref().map(application_from_row).transpose()? else {
            return Ok(None);
        };
        insert_audit(&tx, &[application_written(audit, 200, &updated)]).await?;
        tx.commit().await.map_err(database)?;
        Ok(Some(updated))
    }

    async fn delete_application(&self, application: Id, audit: &AuditEntry) -> StoreResult<bool> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(database)?;
        let id = application.to_string();
        // The application's row first: inserts under way hold it, so this
        // waits for them and the next statement deletes their tokens too.
        let deleted = tx
            .query_opt(
                &format!("DELETE FROM applications WHERE id = $1 RETURNING {APPLICATION_COLUMNS}"),
                &[&id],
            )
            .await
            .map_err(database)?;
        let Some(deleted) = deleted.as_ref().map(application_from_row).transpose()? else {
            return Ok(false);
        };
        tx.execute(
            "DELETE FROM tokens WHERE owner_id = $1 AND owner_type = 'application'",
            &[&id],
        )
        .await
        .map_err(database)?;
        tx.execute(&REVOKED.forget_application, &[&id])
            .await
            .map_err(database)?;
        insert_audit(&tx, &[application_deleted(audit, &deleted)]).await?;
        log_changes(&tx, &[AuthChange::Application(application)]).await?;
        tx.commit().await.map_err(database)?;
        Ok(true)
    }

    async fn insert_tokens(&self, tokens: &[TokenRecord], audit: &AuditEntry) -> StoreResult<()> {
        let column = |value: fn(&TokenRecord) -> String| tokens.iter().map(value).collect::<Vec<String>>();
        let ids = column(|t| t.id.to_string());
        let owner_types = column(|t| t.owner_type.as_str().to_string());
        let owner_ids = column(|t| t.owner_id.to_string());
        let creator_types = column(|t| t.creator.kind.as_str().to_string());
        let creator_ids = column(|t| t.creator.id.to_string());
        let creator_names = column(|t| t.creator.name.clone());
        let names = column(|t| t.name.clone());
        let descriptions = column(|t| t.description.clone());
        let scopes = column(|t| scope_text(&t.scope));
        let statuses = column(|t| t.status.as_str().to_string());
        let names_lower = column(|t| fold_case(&t.name));
        let created: Vec<i64> = tokens.iter().map(|t| t.creation_date).collect();
        let updated: Vec<i64> = tokens.iter().map(|t| t.last_updated).collect();
        let expires: Vec<i64> = tokens.iter().map(|t| expires_at(t.expiration_date)).collect();
        let digests: Vec<&[u8]> = tokens.iter().map(|t| t.digest.as_slice()).collect();
        let last_used: Vec<i64> = tokens.iter().map(|t| last_used_at(t.last_used)).collect();

        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(database)?;
        tx.execute(
            &format!(
                "INSERT INTO tokens ({TOKEN_COLUMNS}, name_lower) SELECT * FROM UNNEST(
                    $1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[],
                    $9::text[], $10::text[], $11::int8[], $12::int8[], $13::int8[], $14::bytea[], $15::int8[],
                    $16::text[])"
            ),
            &[
                &ids,
                &owner_types,
                &owner_ids,
                &creator_types,
                &creator_ids,
                &creator_names,
                &names,
                &descriptions,
                &scopes,
                &statuses,
                &created,
                &updated,
                &expires,
                &digests,
                &last_used,
                &names_lower,
            ],
        )
        .await
        .map_err(database)?;
        insert_audit(&tx, std::slice::from_ref(audit)).await?;
        // The counts last, so the application's row is locked only for the
        // commit. New rows are invisible to a concurrent deletion of the
        // application, which cannot wait on them: either it locked the row
        // first and this finds no application (and rolls back), or it waits
        // for this commit and then deletes these tokens too.
        for (application, total, active) in count_changes(tokens) {
            add_to_counts(&tx, &application, total, active).await?;
        }
        tx.commit().await.map_err(database)
    }

    async fn credential_by_digest(&self, digest: &Digest) -> StoreResult<Option<Credential>> {
        let client = self.client().await?;
        let statement = client
            .prepare_cached(&credential_select(DIALECT.placeholder))
            .await
            .map_err(database)?;
        let row = client
            .query_opt(&statement, &[&digest.as_slice()])
            .await
            .map_err(database)?;
        row.as_ref().map(credential_from_row).transpose()
    }

    async fn token(&self, application: Id, id: Id) -> StoreResult<Option<TokenRecord>> {
        let client = self.client().await?;
        select_token(&client, application, id).await
    }

    async fn list_tokens(&self, application: Id, query: &ListQuery) -> StoreResult<Page<TokenRecord>> {
        let mut client = self.client().await?;
        let owners = [application.to_string()];
        list_page::<TokenColumns, _>(
            &mut client,
            "tokens",
            TOKEN_COLUMNS,
            &owners,
            query,
            true,
            token_from_row,
        )
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
        let mut client = self.client().await?;
        // Most updates move no count and need not lock the application; one
        // that turns out to (a status change) starts again, locking it first,
        // and then always finishes.
        let write = TokenWrite {
            application,
            id,
            patch,
            updater,
            now,
            audit,
        };
        let mut application_locked = false;
        loop {
            if let Some(update) = update_token_in(&mut client, &write, application_locked).await? {
                return Ok(update);
            }
            application_locked = true;
        }
    }

    async fn revoke_tokens(
        &self,
        application: Id,
        query: &ListQuery,
        kind: Revocation,
        now: Millis,
        audit: &AuditEntry,
    ) -> StoreResult<Option<u64>> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(database)?;
        let application_id = application.to_string();
        // With the application's row locked, no status change, deletion or
        // insert of its tokens commits meanwhile (each takes that lock), so
        // the count and the write see the same tokens.
        if !lock_application(&tx, &application_id).await? {
            return Ok(None);
        }
        let sql = listing::<TokenColumns>(std::slice::from_ref(&application_id), query, &DIALECT, None);
        let statements = revocation(&sql, kind, DIALECT.placeholder);
        let mut params = bind(&sql.params);
        let active = match kind {
            Revocation::Delete => {
                let row = tx
                    .query_one(&statements.count_active, &params)
                    .await
                    .map_err(database)?;
                row.get::<_, i64>(0).max(0) as u64
            }
            Revocation::Deactivate => {
                params.push(&now);
                0
            }
        };
        if let Some(tombstones) = &statements.tombstones {
            tx.execute(tombstones, &params).await.map_err(database)?;
        }
        let written = tx.execute(&statements.write, &params).await.map_err(database)?;
        let (total, active) = kind.count_change(written, active);
        add_to_counts(&tx, &application_id, total, active).await?;
        insert_audit(&tx, &[tokens_revoked(audit, written)]).await?;
        log_changes(&tx, &[AuthChange::Application(application)]).await?;
        tx.commit().await.map_err(database)?;
        Ok(Some(written))
    }

    async fn delete_token(&self, application: Id, id: Id, audit: &AuditEntry) -> StoreResult<Option<TokenRecord>> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(database)?;
        let application_id = application.to_string();
        if !lock_application(&tx, &application_id).await? {
            return Ok(None);
        }
        let target = "owner_id = $1 AND id = $2";
        tx.execute(&tombstones_of(target), &[&application_id, &id.to_string()])
            .await
            .map_err(database)?;
        let sql = format!("DELETE FROM tokens WHERE {target} AND owner_type = 'application' RETURNING {TOKEN_COLUMNS}");
        let row = tx
            .query_opt(&sql, &[&application_id, &id.to_string()])
            .await
            .map_err(database)?;
        let Some(token) = row.as_ref().map(token_from_row).transpose()? else {
            return Ok(None);
        };
        tx.execute(&REVOKED.prune_expired, &[&application_id])
            .await
            .map_err(database)?;
        add_to_counts(&tx, &application_id, -1, -i64::from(token.status == Status::Active)).await?;
        insert_audit(&tx, &[token_deleted(audit, &token)]).await?;
        log_changes(&tx, &[AuthChange::token(&token)]).await?;
        tx.commit().await.map_err(database)?;
        Ok(Some(token))
    }

    async fn append_audit(&self, entries: &[AuditEntry]) -> StoreResult<()> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(database)?;
        insert_audit(&tx, entries).await?;
        tx.commit().await.map_err(database)
    }

    async fn prune_audit_logs(&self, before: Millis, limit: u32) -> StoreResult<u64> {
        let client = self.client().await?;
        client
            .execute(&prune_sql(DIALECT.placeholder), &[&before, &i64::from(limit)])
            .await
            .map_err(database)
    }

    async fn list_audit_logs(&self, scope: AuditScope, query: &AuditQuery) -> StoreResult<Page<AuditDocument>> {
        let listing = audit_listing(scope, query, &AUDIT_DIALECT);
        let window = query.offset().map(|offset| (query.per_page, offset));
        audit_page(&mut self.client().await?, &listing, window).await
    }

    async fn audit_entry(&self, scope: AuditScope, id: Id) -> StoreResult<Option<AuditDocument>> {
        let client = self.client().await?;
        let statement = client
            .prepare_cached(&audit_entry_select(scope, DIALECT.placeholder))
            .await
            .map_err(database)?;
        let row = client
            .query_opt(&statement, &[&id.to_string(), &scope.id().to_string()])
            .await
            .map_err(database)?;
        row.map(|row| document(row.get(0))).transpose()
    }

    async fn record_token_uses(&self, uses: &[(Id, Millis)]) -> StoreResult<()> {
        let ids: Vec<String> = uses.iter().map(|(id, _)| id.to_string()).collect();
        let times: Vec<i64> = uses.iter().map(|(_, at)| *at).collect();
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(database)?;
        // A use is never worth making a change wait: past this, give up (the
        // caller keeps the uses for its next try) rather than hold rows that
        // a PATCH or an application's deletion is waiting for.
        tx.batch_execute("SET LOCAL lock_timeout = '200ms'")
            .await
            .map_err(database)?;
        // Rows are locked in id order, so instances writing overlapping
        // batches wait for each other instead of deadlocking.
        tx.execute(
            "WITH uses AS (SELECT * FROM unnest($1::text[], $2::int8[]) AS uses(id, at)),
             locked AS (SELECT tokens.id, uses.at FROM tokens JOIN uses ON uses.id = tokens.id
                        ORDER BY tokens.id FOR NO KEY UPDATE OF tokens)
             UPDATE tokens SET last_used = GREATEST(tokens.last_used, locked.at)
             FROM locked WHERE tokens.id = locked.id",
            &[&ids, &times],
        )
        .await
        .map_err(database)?;
        tx.commit().await.map_err(database)
    }

    async fn auth_changes(&self, from: Option<&LogPosition>) -> StoreResult<AuthChanges> {
        let client = self.client().await?;
        let span = || async {
            let row = client.query_one(&CHANGE_LOG.span, &[]).await.map_err(database)?;
            StoreResult::Ok(Span::from_row(row.get(0), row.get(1), row.get(2)))
        };
        let Some(from) = from else {
            let span = span().await?;
            let settled: Option<i64> = client
                .query_opt(&CHANGE_LOG.settled, &[&settled_before(span.now)])
                .await
                .map_err(database)?
                .map(|row| row.get(0));
            let recent = client
                .query(&CHANGE_LOG.recent, &[&recent_after(&span, settled)])
                .await
                .map_err(database)?;
            return Ok(start_from_rows(span, settled, recent.iter().map(|row| row.get(0))));
        };
        let mut rows = Vec::new();
        if from.gaps().next().is_some() {
            let gaps = client.prepare_cached(&CHANGE_LOG.gaps).await.map_err(database)?;
            rows.extend(client.query(&gaps, &[&gaps_json(from)]).await.map_err(database)?);
        }
        let after = client.prepare_cached(&CHANGE_LOG.after).await.map_err(database)?;
        rows.extend(client.query(&after, &[&(from.seen() as i64)]).await.map_err(database)?);
        changes_from_rows(
            from,
            rows.iter().map(|row| (row.get(0), row.get(1), row.get(2))),
            span().await?,
        )
    }

    async fn revoked_tokens(
        &self,
        application: Id,
        after: Option<Id>,
        limit: u32,
        now: Millis,
    ) -> StoreResult<Vec<Id>> {
        let client = self.client().await?;
        let statement = client.prepare_cached(&REVOKED.page).await.map_err(database)?;
        let after = after.map(|id| id.to_string()).unwrap_or_default();
        let rows = client
            .query(&statement, &[&application.to_string(), &after, &now, &i64::from(limit)])
            .await
            .map_err(database)?;
        rows.iter().map(|row| id_at(row, "id")).collect()
    }

    async fn token_statuses(&self, application: Id, ids: &[Id]) -> StoreResult<Vec<(Id, Status)>> {
        let client = self.client().await?;
        let rows = client
            .query(&REVOKED.statuses, &[&application.to_string(), &ids_json(ids)])
            .await
            .map_err(database)?;
        rows.iter()
            .map(|row| Ok((id_at(row, "id")?, status_at(row, "status")?)))
            .collect()
    }
}
