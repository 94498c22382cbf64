//! The authentication change log: every write that can make a cached
//! authentication wrong (a token updated or deleted, an application deleted,
//! a user given organizations) appends an entry in its own transaction.
//! Every instance reads the log a few times a second and evicts what it
//! names, so it can keep authentications cached far longer than the time
//! within which it must see another instance's revocation.
//!
//! Entries are numbered in commit order (backends serialize the appends), so
//! a reader that has seen entry `n` has seen every entry before it.

use std::time::Duration;

use latchkey_core::model::Digest;
use latchkey_core::Id;

use crate::{StoreError, StoreResult};

/// Something whose cached authentications must be forgotten.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthChange {
    /// The token with this digest was updated or deleted.
    Token(Digest),
    /// The application was deleted, and all its tokens with it; or any
    /// number of its tokens were revoked at once (one entry, however many).
    Application(Id),
    /// The user joined organizations, so reaches more applications.
    User(Id),
}

/// One read of the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthChanges {
    /// The position after the last entry read: the next read starts here.
    pub cursor: u64,
    /// The entries, oldest first; at most [`AUTH_CHANGES_PER_READ`].
    pub changes: Vec<AuthChange>,
}

/// Most entries one read returns; a full read means more may be waiting.
pub const AUTH_CHANGES_PER_READ: usize = 10_000;

/// How long entries are kept. A reader that could not read the log for
/// longer may have missed entries, and must start over from an empty cache.
pub const AUTH_CHANGE_RETENTION: Duration = Duration::from_secs(600);

impl AuthChange {
    /// The stored `kind` and `subject` of the entry.
    pub fn to_row(&self) -> (&'static str, Vec<u8>) {
        match self {
            AuthChange::Token(digest) => ("token", digest.to_vec()),
            AuthChange::Application(id) => ("application", id.to_string().into_bytes()),
            AuthChange::User(id) => ("user", id.to_string().into_bytes()),
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
            "token" => Ok(AuthChange::Token(subject.try_into().map_err(|_| corrupt())?)),
            "application" => Ok(AuthChange::Application(id()?)),
            "user" => Ok(AuthChange::User(id()?)),
            _ => Err(corrupt()),
        }
    }
}

/// The SQL of the log.
pub struct ChangeLogSql {
    /// Appends an entry: kind, subject, and the time by the database's clock
    /// (the dialect's `now_millis`), never an instance's.
    pub append: String,
    /// Deletes entries stamped before a time ([`prune_before`]).
    pub prune: String,
    /// The entries after a cursor, oldest first: `seq, kind, subject`.
    pub after: String,
    /// The newest entry's number, or 0.
    pub newest: &'static str,
}

/// Entries stamped before this are pruned, `now` by the database's clock:
/// an instance whose own clock is off can never prune entries that others
/// have yet to read.
pub fn prune_before(now: i64) -> i64 {
    now - AUTH_CHANGE_RETENTION.as_millis() as i64
}

/// A read of the log from its stored rows (`seq, kind, subject`, oldest
/// first) after `cursor`.
pub fn changes_from_rows(
    cursor: u64,
    rows: impl IntoIterator<Item = (i64, String, Vec<u8>)>,
) -> StoreResult<AuthChanges> {
    let mut read = AuthChanges {
        cursor,
        changes: Vec::new(),
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
        prune: format!("DELETE FROM auth_changes WHERE changed_at < {}", p(1)),
        after: format!(
            "SELECT seq, kind, subject FROM auth_changes WHERE seq > {} ORDER BY seq LIMIT {AUTH_CHANGES_PER_READ}",
            p(1)
        ),
        newest: "SELECT coalesce(max(seq), 0) FROM auth_changes",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_change_reads_back_as_itself() {
        let id: Id = Id::generate(1_700_000_000);
        for change in [
            AuthChange::Token([7; 32]),
            AuthChange::Application(id),
            AuthChange::User(id),
        ] {
            let (kind, subject) = change.to_row();
            assert_eq!(AuthChange::from_row(kind, &subject).unwrap(), change);
        }
    }

    #[test]
    fn a_read_ends_at_its_newest_entry() {
        let rows = vec![
            (4, "token".to_string(), vec![1; 32]),
            (9, "token".to_string(), vec![2; 32]),
        ];
        let read = changes_from_rows(3, rows).unwrap();
        assert_eq!(read.cursor, 9);
        assert_eq!(read.changes, [AuthChange::Token([1; 32]), AuthChange::Token([2; 32])]);
        assert_eq!(changes_from_rows(9, Vec::new()).unwrap().cursor, 9);
    }

    #[test]
    fn a_garbled_entry_is_an_error_not_a_panic() {
        assert!(AuthChange::from_row("token", &[1, 2, 3]).is_err());
        assert!(AuthChange::from_row("application", b"not an id").is_err());
        assert!(AuthChange::from_row("user", &[0xff, 0xfe]).is_err());
        assert!(AuthChange::from_row("planet", b"").is_err());
    }
}
