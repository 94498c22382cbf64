//! What a verifier needs to refuse an application's tokens by itself (spec
//! 1.6): the ids of its revoked tokens. A token is revoked while it is
//! `inactive`, and once deleted: its row is gone, so the deletion leaves a
//! tombstone (the id, the application, the expiry; never the digest) that
//! lasts until the token would have expired anyway, or as long as its
//! application.

use latchkey_core::Id;

use crate::sql::Dialect;

/// Most ids one page of the revoked list holds.
pub const MAX_REVOKED_PER_PAGE: u32 = 100_000;

/// Copies the tombstones of the application tokens that `condition`
/// (over `tokens`) selects, in the transaction that deletes them.
pub fn tombstones_of(condition: &str) -> String {
    format!(
        "INSERT INTO deleted_tokens (owner_id, id, expires_at) \
         SELECT owner_id, id, expires_at FROM tokens WHERE owner_type = 'application' AND {condition}"
    )
}

/// The SQL of the revoked list and of the tombstones' upkeep.
pub struct RevokedSql {
    /// The application's (placeholder 1) revoked token ids after an id
    /// (placeholder 2; `''` for the first page), at a time (placeholder 3:
    /// tombstones of expired tokens are left out), in id order, at most
    /// placeholder 4. Each half walks an index in id order and stops at the
    /// page's length, so a page costs its own length, wherever it starts.
    pub page: String,
    /// Drops the application's (placeholder 1) tombstones of tokens expired
    /// by the database's clock.
    pub prune_expired: String,
    /// Drops all of an application's (placeholder 1) tombstones, with it.
    pub forget_application: String,
    /// `id, status` of the application's (placeholder 1) tokens among the
    /// ids of a JSON array (placeholder 2, [`ids_json`]).
    pub statuses: String,
}

/// Ids as the JSON array [`RevokedSql::statuses`] binds (hex digits need no
/// escaping).
pub fn ids_json(ids: &[Id]) -> String {
    let quoted: Vec<String> = ids.iter().map(|id| format!("\"{id}\"")).collect();
    format!("[{}]", quoted.join(","))
}

/// The revoked list's SQL in a backend's dialect.
pub fn revoked_sql(dialect: &Dialect) -> RevokedSql {
    let p = dialect.placeholder;
    RevokedSql {
        // Each half ordered and cut on its own: a planner given the union
        // whole (PostgreSQL) reads and sorts every revoked token per page.
        page: format!(
            "SELECT id FROM (SELECT id FROM tokens WHERE owner_id = {app} AND owner_type = 'application' \
             AND status = 'inactive' AND id > {after} ORDER BY id LIMIT {limit}) AS inactive \
             UNION ALL \
             SELECT id FROM (SELECT id FROM deleted_tokens WHERE owner_id = {app} AND id > {after} \
             AND expires_at > {now} ORDER BY id LIMIT {limit}) AS deleted \
             ORDER BY id LIMIT {limit}",
            app = p(1),
            after = p(2),
            now = p(3),
            limit = p(4)
        ),
        prune_expired: format!(
            "DELETE FROM deleted_tokens WHERE owner_id = {} AND expires_at <= {}",
            p(1),
            dialect.now_millis
        ),
        forget_application: format!("DELETE FROM deleted_tokens WHERE owner_id = {}", p(1)),
        statuses: format!(
            "SELECT id, status FROM tokens WHERE owner_id = {} AND owner_type = 'application' \
             AND id IN (SELECT value FROM {})",
            p(1),
            (dialect.json_array)(2)
        ),
    }
}
