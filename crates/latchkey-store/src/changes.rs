//! The authentication change log: every write that can make a cached
//! authentication wrong (a token updated or deleted, an application deleted,
//! a user given organizations, a signing key added or retired) appends an
//! entry in its own transaction. Every instance reads the log a few times a
//! second and evicts what it names, so it can keep authentications cached
//! far longer than the time within which it must see another instance's
//! revocation; the verifier feed (spec 1.6) serves the same entries.
//!
//! Entries are numbered in commit order (backends serialize the appends), so
//! a reader that has seen entry `n` has seen every entry before it.

use std::time::Duration;

use latchkey_core::model::{Digest, TokenRecord};
use latchkey_core::Id;

use crate::{StoreError, StoreResult};

/// Something whose cached authentications must be forgotten.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthChange {
    /// The token was updated or deleted; `owner` is its application (or
    /// user), which the verifier feed filters on.
    Token { digest: Digest, id: Id, owner: Id },
    /// The application was deleted, and all its tokens with it; or any
    /// number of its tokens were revoked at once (one entry, however many).
    Application(Id),
    /// The user joined organizations, so reaches more applications.
    User(Id),
    /// A signing key was added or retired.
    Keys,
}

/// One read of the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthChanges {
    /// The position after the last entry read: the next read starts here.
    pub cursor: u64,
    /// The entries, oldest first; at most [`AUTH_CHANGES_PER_READ`].
    pub changes: Vec<AuthChange>,
    /// Entries after the cursor were pruned unread, or the cursor is ahead
    /// of the log (it came from another database, or one restored from a
    /// backup): what was read is not all that changed, and a reader must
    /// start over.
    pub expired: bool,
}

/// Most entries one read returns; a full read means more may be waiting.
pub const AUTH_CHANGES_PER_READ: usize = 10_000;

/// How long entries are kept. A reader that could not read the log for
/// longer may have missed entries, and must start over from an empty cache.
pub const AUTH_CHANGE_RETENTION: Duration = Duration::from_secs(600);

/// Bytes of a token entry's subject: digest, token id, owner id.
const TOKEN_SUBJECT_LEN: usize = 32 + 12 + 12;

impl AuthChange {
    /// The entry for a change to `token`.
    pub fn token(token: &TokenRecord) -> AuthChange {
        AuthChange::Token {
            digest: token.digest,
            id: token.id,
            owner: token.owner_id,
        }
    }

    /// The stored `kind` and `subject` of the entry.
    pub fn to_row(&self) -> (&'static str, Vec<u8>) {
        match self {
            AuthChange::Token { digest, id, owner } => {
                let mut subject = Vec::with_capacity(TOKEN_SUBJECT_LEN);
                subject.extend_from_slice(digest);
                subject.extend_from_slice(id.as_bytes());
                subject.extend_from_slice(owner.as_bytes());
                ("token", subject)
            }
            AuthChange::Application(id) => ("application", id.to_string().into_bytes()),
            AuthChange::User(id) => ("user", id.to_string().into_bytes()),
            AuthChange::Keys => ("keys", Vec::new()),
        }
    }

    /// The entry a stored `kind` and `subject` describe.
    pub fn from_row(kind: &str, subject: &[u8]) -> StoreResult<AuthChange> {
        let corrupt = || StoreError::Database(format!("unreadable authentication change of kind {kind:?}"));
        let id = || {
            std::str::from_utf8(subject)
                .ok()
                .and_then(|text| text.parse().ok())
                .ok_or_else(corrupt)
        };
        match kind {
            "token" => {
                let subject: &[u8; TOKEN_SUBJECT_LEN] = subject.try_into().map_err(|_| corrupt())?;
                let (digest, ids) = subject.split_at(32);
                let (id, owner) = ids.split_at(12);
                let id_from = |bytes: &[u8]| Id::from_bytes(bytes.try_into().expect("12 bytes"));
                Ok(AuthChange::Token {
                    digest: digest.try_into().expect("32 bytes"),
                    id: id_from(id),
                    owner: id_from(owner),
                })
            }
            "application" => Ok(AuthChange::Application(id()?)),
            "user" => Ok(AuthChange::User(id()?)),
            "keys" if subject.is_empty() => Ok(AuthChange::Keys),
            _ => Err(corrupt()),
        }
    }
}

/// The SQL of the log.
pub struct ChangeLogSql {
    /// Appends an entry: kind, subject, and the time by the database's clock
    /// (the dialect's `now_millis`), never an instance's.
    pub append: String,
    /// Deletes entries stamped before a time ([`prune_before`]), but never
    /// the newest: the log's end stays known, so a cursor from elsewhere
    /// (ahead of it) is told apart from one that is merely up to date.
    pub prune: String,
    /// The entries after a cursor, oldest first: `seq, kind, subject`.
    pub after: String,
    /// The oldest and the newest entry's numbers, or 0 and 0.
    pub span: &'static str,
}

/// Entries stamped before this are pruned, `now` by the database's clock:
/// an instance whose own clock is off can never prune entries that others
/// have yet to read.
pub fn prune_before(now: i64) -> i64 {
    now - AUTH_CHANGE_RETENTION.as_millis() as i64
}

/// A read of the log from its stored rows (`seq, kind, subject`, oldest
/// first) after `cursor`, and the log's `span` (oldest and newest entry)
/// read after them.
pub fn changes_from_rows(
    cursor: u64,
    rows: impl IntoIterator<Item = (i64, String, Vec<u8>)>,
    (oldest, newest): (i64, i64),
) -> StoreResult<AuthChanges> {
    // Pruning only ever removes the oldest entries, so reading the span
    // after the rows can only make this more cautious.
    let pruned_unread = oldest > 0 && cursor.saturating_add(1) < oldest as u64;
    let mut read = AuthChanges {
        cursor,
        changes: Vec::new(),
        expired: pruned_unread || cursor > newest.max(0) as u64,
    };
    for (seq, kind, subject) in rows {
        read.changes.push(AuthChange::from_row(&kind, &subject)?);
        read.cursor = read.cursor.max(seq.max(0) as u64);
    }
    Ok(read)
}

/// The SQL of the log in a backend's placeholders.
pub fn change_log_sql(placeholder: fn(usize) -> String) -> ChangeLogSql {
    let p = placeholder;
    ChangeLogSql {
        append: format!(
            "INSERT INTO auth_changes (kind, subject, changed_at) VALUES ({}, {}, {})",
            p(1),
            p(2),
            p(3)
        ),
        // A bound time, not the clock in the statement: planned knowing it,
        // the prune walks the index over the few oldest entries.
        prune: format!(
            "DELETE FROM auth_changes WHERE changed_at < {} AND seq < (SELECT max(seq) FROM auth_changes)",
            p(1)
        ),
        after: format!(
            "SELECT seq, kind, subject FROM auth_changes WHERE seq > {} ORDER BY seq LIMIT {AUTH_CHANGES_PER_READ}",
            p(1)
        ),
        span: "SELECT coalesce(min(seq), 0), coalesce(max(seq), 0) FROM auth_changes",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_change_reads_back_as_itself() {
        let id: Id = Id::generate(1_700_000_000);
        let other: Id = Id::generate(1_800_000_000);
        for change in [
            AuthChange::Token {
                digest: [7; 32],
                id,
                owner: other,
            },
            AuthChange::Application(id),
            AuthChange::User(id),
            AuthChange::Keys,
        ] {
            let (kind, subject) = change.to_row();
            assert_eq!(AuthChange::from_row(kind, &subject).unwrap(), change);
        }
    }

    #[test]
    fn a_read_ends_at_its_newest_entry() {
        let rows = vec![
            (4, "keys".to_string(), vec![]),
            (9, "user".to_string(), b"0".repeat(24)),
        ];
        let read = changes_from_rows(3, rows, (1, 9)).unwrap();
        assert_eq!(read.cursor, 9);
        assert_eq!(read.changes[0], AuthChange::Keys);
        assert!(!read.expired);
        assert_eq!(changes_from_rows(9, Vec::new(), (1, 9)).unwrap().cursor, 9);
    }

    #[test]
    fn a_cursor_past_pruned_or_future_entries_has_expired() {
        let expired = |cursor, span| changes_from_rows(cursor, Vec::new(), span).unwrap().expired;
        // Entry 5 is the oldest kept: a reader at 4 missed nothing, at 3 it
        // missed entry 4.
        assert!(!expired(4, (5, 9)));
        assert!(expired(3, (5, 9)));
        // An empty log, never written: only cursor 0 is its end.
        assert!(!expired(0, (0, 0)));
        assert!(expired(12, (0, 0)));
        // A cursor from a longer log (another database, a restored backup).
        assert!(expired(10, (5, 9)));
    }

    #[test]
    fn a_garbled_entry_is_an_error_not_a_panic() {
        assert!(AuthChange::from_row("token", &[1, 2, 3]).is_err());
        assert!(AuthChange::from_row("token", &[1; 32]).is_err());
        assert!(AuthChange::from_row("keys", b"x").is_err());
        assert!(AuthChange::from_row("application", b"not an id").is_err());
        assert!(AuthChange::from_row("user", &[0xff, 0xfe]).is_err());
        assert!(AuthChange::from_row("planet", b"").is_err());
    }
}
