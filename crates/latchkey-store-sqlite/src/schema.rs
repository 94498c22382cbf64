//! Versioned schema migrations, tracked in `PRAGMA user_version`.

use latchkey_store::audit::AUDIT_SCHEMA;
use latchkey_store::keys::{KEY_ROTATION_SCHEMA, SEED_CIPHER_SCHEMA};
use latchkey_store::sql::{LAST_USED_SCHEMA, SCHEMA_V4};
use latchkey_store::StoreError;
use rusqlite::{Connection, TransactionBehavior};

/// Migration `n` (from 1) brings the schema from version `n - 1` to `n`.
const MIGRATIONS: &[&str] = &[
    r#"
CREATE TABLE signing_keys (
    kid TEXT PRIMARY KEY,
    seed BLOB NOT NULL,
    created_at INTEGER NOT NULL
);
CREATE TABLE users (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    created_at INTEGER NOT NULL
);
CREATE TABLE organizations (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    created_at INTEGER NOT NULL
);
CREATE TABLE organization_members (
    organization_id TEXT NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    PRIMARY KEY (organization_id, user_id)
) WITHOUT ROWID;
CREATE INDEX organization_members_by_user ON organization_members(user_id);
CREATE TABLE applications (
    id TEXT PRIMARY KEY,
    owner_type TEXT NOT NULL,
    owner_id TEXT NOT NULL,
    name TEXT NOT NULL,
    name_lower TEXT NOT NULL,
    description TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    -- maintained with every token insert and delete, so an unfiltered
    -- listing's totalCount never counts rows
    token_count INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX applications_by_owner ON applications(owner_id);
CREATE TABLE tokens (
    id TEXT PRIMARY KEY,
    owner_type TEXT NOT NULL,
    owner_id TEXT NOT NULL,
    creator_type TEXT NOT NULL,
    creator_id TEXT NOT NULL,
    creator_name TEXT NOT NULL,
    name TEXT NOT NULL,
    name_lower TEXT NOT NULL,
    description TEXT NOT NULL,
    scope TEXT NOT NULL,
    status TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    -- 9223372036854775807 when the token never expires
    expires_at INTEGER NOT NULL,
    digest BLOB NOT NULL UNIQUE
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
ALTER TABLE applications ADD COLUMN active_count INTEGER NOT NULL DEFAULT 0;
UPDATE applications SET active_count = (
    SELECT COUNT(*) FROM tokens
    WHERE tokens.owner_id = applications.id AND tokens.owner_type = 'application' AND tokens.status = 'active'
);
"#,
    r#"
-- The authentication change log (latchkey_store::changes). AUTOINCREMENT:
-- a number is never reused once older entries are pruned.
CREATE TABLE auth_changes (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    kind TEXT NOT NULL,
    subject BLOB NOT NULL,
    changed_at INTEGER NOT NULL
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
    owner_id TEXT NOT NULL,
    id TEXT NOT NULL,
    expires_at INTEGER NOT NULL,
    PRIMARY KEY (owner_id, id)
) WITHOUT ROWID;
DELETE FROM auth_changes WHERE kind = 'token';
"#,
    SEED_CIPHER_SCHEMA,
];

pub const SUPPORTED_VERSION: i64 = MIGRATIONS.len() as i64;

fn database(error: rusqlite::Error) -> StoreError {
    StoreError::Database(error.to_string())
}

/// Brings the schema up to date, or refuses a schema newer than this program.
pub fn migrate(conn: &mut Connection) -> Result<(), StoreError> {
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(database)?;
    let found: i64 = tx
        .query_row("PRAGMA user_version", [], |row| row.get(0))
        .map_err(database)?;
    if found > SUPPORTED_VERSION {
        return Err(StoreError::SchemaTooNew {
            found,
            supported: SUPPORTED_VERSION,
        });
    }
    for migration in &MIGRATIONS[found as usize..] {
        tx.execute_batch(migration).map_err(database)?;
    }
    tx.pragma_update(None, "user_version", SUPPORTED_VERSION)
        .map_err(database)?;
    tx.commit().map_err(database)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A database from before version 4: a name stored with a word-final
    /// `ς` is refolded to `σ`, as globs fold it, and a token whose
    /// application is gone is deleted.
    #[test]
    fn migrating_to_v4_refolds_final_sigmas_and_deletes_orphaned_tokens() {
        let mut conn = Connection::open_in_memory().unwrap();
        let before = MIGRATIONS.iter().position(|m| *m == SCHEMA_V4).unwrap();
        for migration in &MIGRATIONS[..before] {
            conn.execute_batch(migration).unwrap();
        }
        conn.pragma_update(None, "user_version", before as i64).unwrap();
        conn.execute_batch(
            "INSERT INTO applications (id, owner_type, owner_id, name, name_lower, description, created_at, updated_at)
             VALUES ('a', 'user', 'u', 'ΟΔΟΣ', 'οδος', '', 0, 0);
             INSERT INTO tokens (id, owner_type, owner_id, creator_type, creator_id, creator_name, name, name_lower,
                 description, scope, status, created_at, updated_at, expires_at, digest)
             VALUES ('t', 'application', 'a', 'user', 'u', 'admin', 'ΟΔΟΣ ΟΔΟΣ', 'οδος οδος', '', '', 'active', 0, 0, 0, x'00'),
                    ('orphan', 'application', 'gone', 'user', 'u', 'admin', 'o', 'o', '', '', 'active', 0, 0, 0, x'01'),
                    ('user token', 'user', 'u', 'user', 'u', 'admin', 'u', 'u', '', '', 'active', 0, 0, 0, x'02');",
        )
        .unwrap();
        migrate(&mut conn).unwrap();
        let names: (String, String) = conn
            .query_row(
                "SELECT applications.name_lower, tokens.name_lower FROM applications, tokens WHERE tokens.id = 't'",
                [],
                |row| Ok((row.get(0)?, row.get(1)?)),
            )
            .unwrap();
        assert_eq!(names, ("οδοσ".to_string(), "οδοσ οδοσ".to_string()));
        let ids: Vec<String> = conn
            .prepare("SELECT id FROM tokens ORDER BY id")
            .unwrap()
            .query_map([], |row| row.get(0))
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap();
        assert_eq!(ids, ["t", "user token"], "the orphan goes, a user token stays");
    }

    /// A database from before keys could be encrypted: its keys read as in
    /// clear, seeds unchanged.
    #[test]
    fn migrating_to_seed_cipher_keeps_every_key_in_clear() {
        let mut conn = Connection::open_in_memory().unwrap();
        let before = MIGRATIONS.iter().position(|m| *m == SEED_CIPHER_SCHEMA).unwrap();
        for migration in &MIGRATIONS[..before] {
            conn.execute_batch(migration).unwrap();
        }
        conn.pragma_update(None, "user_version", before as i64).unwrap();
        let seed = [7u8; 32];
        conn.execute(
            "INSERT INTO signing_keys (kid, seed, created_at) VALUES ('k', ?1, 0)",
            [seed.as_slice()],
        )
        .unwrap();
        migrate(&mut conn).unwrap();
        let key = conn
            .query_row(latchkey_store::keys::SELECT_KEYS, [], crate::rows::key_from_row)
            .unwrap();
        assert!(key.seed == latchkey_core::model::StoredSeed::Clear(seed.into()));
    }

    /// A database from before last use was kept: its tokens count as never
    /// used, and the listing indexes exist.
    #[test]
    fn migrating_to_last_use_makes_every_token_never_used() {
        let mut conn = Connection::open_in_memory().unwrap();
        let before = MIGRATIONS.iter().position(|m| *m == LAST_USED_SCHEMA).unwrap();
        for migration in &MIGRATIONS[..before] {
            conn.execute_batch(migration).unwrap();
        }
        conn.pragma_update(None, "user_version", before as i64).unwrap();
        conn.execute_batch(
            "INSERT INTO tokens (id, owner_type, owner_id, creator_type, creator_id, creator_name, name, name_lower,
                 description, scope, status, created_at, updated_at, expires_at, digest)
             VALUES ('t', 'application', 'a', 'user', 'u', 'admin', 't', 't', '', '', 'active', 0, 0, 0, x'00');",
        )
        .unwrap();
        migrate(&mut conn).unwrap();
        let last_used: i64 = conn
            .query_row("SELECT last_used FROM tokens WHERE id = 't'", [], |row| row.get(0))
            .unwrap();
        assert_eq!(last_used, latchkey_store::sql::NEVER_USED);
        let indexes: i64 = conn
            .query_row(
                "SELECT COUNT(*) FROM sqlite_master WHERE type = 'index' AND name LIKE 'tokens_by_last_used%'",
                [],
                |row| row.get(0),
            )
            .unwrap();
        assert_eq!(indexes, 2);
    }
}
