//! Versioned schema migrations, tracked in `latchkey_schema`. Many instances
//! may start at once on one database: a transaction-scoped advisory lock lets
//! one migrate while the others wait, then find nothing left to do.

use latchkey_store::audit::AUDIT_SCHEMA;
use latchkey_store::keys::{KEY_ROTATION_SCHEMA, SEED_CIPHER_SCHEMA};
use latchkey_store::sql::{LAST_USED_SCHEMA, SCHEMA_V4};
use latchkey_store::StoreError;
use tokio_postgres::Client;

use crate::database;

/// Any constant shared by every instance; it names Latchkey's migration lock.
const MIGRATION_LOCK: i64 = 0x6c61_7463_686b_6579; // "latchkey"

/// Migration `n` (from 1) brings the schema from version `n - 1` to `n`.
/// Ordered text columns use the "C" collation: byte order is code-point
/// order, as the SQLite backend sorts, and prefix ranges can use an index.
const MIGRATIONS: &[&str] = &[
    r#"
CREATE TABLE signing_keys (
    kid TEXT PRIMARY KEY,
    seed BYTEA NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE TABLE users (
    id TEXT COLLATE "C" PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    created_at BIGINT NOT NULL
);
CREATE TABLE organizations (
    id TEXT COLLATE "C" PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    created_at BIGINT NOT NULL
);
CREATE TABLE organization_members (
    organization_id TEXT COLLATE "C" NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    user_id TEXT COLLATE "C" NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    PRIMARY KEY (organization_id, user_id)
);
CREATE INDEX organization_members_by_user ON organization_members(user_id);
CREATE TABLE applications (
    id TEXT COLLATE "C" PRIMARY KEY,
    owner_type TEXT NOT NULL,
    owner_id TEXT COLLATE "C" NOT NULL,
    name TEXT NOT NULL,
    name_lower TEXT COLLATE "C" NOT NULL,
    description TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    -- maintained with every token insert and delete, so an unfiltered
    -- listing's totalCount never counts rows
    token_count BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX applications_by_owner ON applications(owner_id);
CREATE TABLE tokens (
    id TEXT COLLATE "C" PRIMARY KEY,
    owner_type TEXT NOT NULL,
    owner_id TEXT COLLATE "C" NOT NULL,
    creator_type TEXT NOT NULL,
    creator_id TEXT NOT NULL,
    creator_name TEXT NOT NULL,
    name TEXT NOT NULL,
    name_lower TEXT COLLATE "C" NOT NULL,
    description TEXT NOT NULL,
    scope TEXT NOT NULL,
    status TEXT COLLATE "C" NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    -- 9223372036854775807 when the token never expires
    expires_at BIGINT NOT NULL,
    digest BYTEA NOT NULL UNIQUE
);
-- One index per sort order, ties broken by id ascending (spec 1.1).
CREATE INDEX tokens_by_id ON tokens(owner_id, id);
CREATE INDEX tokens_by_name ON tokens(owner_id, name_lower, id);
CREATE INDEX tokens_by_name_desc ON tokens(owner_id, name_lower DESC, id);
CREATE INDEX tokens_by_status ON tokens(owner_id, status, id);
CREATE INDEX tokens_by_status_desc ON tokens(owner_id, status DESC, id);
CREATE INDEX tokens_by_created ON tokens(owner_id, created_at, id);
CREATE INDEX tokens_by_created_desc ON tokens(owner_id, created_at DESC, id);
CREATE INDEX tokens_by_updated ON tokens(owner_id, updated_at, id);
CREATE INDEX tokens_by_updated_desc ON tokens(owner_id, updated_at DESC, id);
CREATE INDEX tokens_by_expiry ON tokens(owner_id, expires_at, id);
CREATE INDEX tokens_by_expiry_desc ON tokens(owner_id, expires_at DESC, id);
"#,
    r#"
-- Kept with token_count, so a status filter's totalCount never counts rows.
ALTER TABLE applications ADD COLUMN active_count BIGINT NOT NULL DEFAULT 0;
UPDATE applications SET active_count = (
    SELECT COUNT(*) FROM tokens
    WHERE tokens.owner_id = applications.id AND tokens.owner_type = 'application' AND tokens.status = 'active'
);
"#,
    r#"
-- The authentication change log (latchkey_store::changes). Appends take an
-- advisory lock, so numbers are handed out in commit order.
CREATE TABLE auth_changes (
    seq BIGSERIAL PRIMARY KEY,
    kind TEXT NOT NULL,
    subject BYTEA NOT NULL,
    changed_at BIGINT NOT NULL
);
CREATE INDEX auth_changes_by_time ON auth_changes(changed_at);
"#,
    SCHEMA_V4,
    AUDIT_SCHEMA,
    LAST_USED_SCHEMA,
    KEY_ROTATION_SCHEMA,
    r#"
-- Tombstones of deleted application tokens (latchkey_store::revoked), and
-- token entries of the change log in their new form (with the token's id and
-- owner): entries of the old form are dropped, every reader starts over.
CREATE TABLE deleted_tokens (
    owner_id TEXT COLLATE "C" NOT NULL,
    id TEXT COLLATE "C" NOT NULL,
    expires_at BIGINT NOT NULL,
    PRIMARY KEY (owner_id, id)
);
DELETE FROM auth_changes WHERE kind = 'token';
"#,
    SEED_CIPHER_SCHEMA,
];

pub const SUPPORTED_VERSION: i64 = MIGRATIONS.len() as i64;

/// Brings the schema up to date, or refuses a schema newer than this program.
pub async fn migrate(client: &mut Client) -> Result<(), StoreError> {
    let tx = client.transaction().await.map_err(database)?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
        .await
        .map_err(database)?;
    tx.batch_execute("CREATE TABLE IF NOT EXISTS latchkey_schema (version BIGINT NOT NULL)")
        .await
        .map_err(database)?;
    let found: i64 = match tx
        .query_opt("SELECT version FROM latchkey_schema", &[])
        .await
        .map_err(database)?
    {
        Some(row) => row.get(0),
        None => {
            tx.execute("INSERT INTO latchkey_schema (version) VALUES (0)", &[])
                .await
                .map_err(database)?;
            0
        }
    };
    if found > SUPPORTED_VERSION {
        return Err(StoreError::SchemaTooNew {
            found,
            supported: SUPPORTED_VERSION,
        });
    }
    for migration in &MIGRATIONS[found as usize..] {
        tx.batch_execute(migration).await.map_err(database)?;
    }
    tx.execute("UPDATE latchkey_schema SET version = $1", &[&SUPPORTED_VERSION])
        .await
        .map_err(database)?;
    tx.commit().await.map_err(database)
}
