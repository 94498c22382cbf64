//! The authentication change log: every write that can make a cached
//! authentication wrong (a token updated or deleted, an application deleted,
//! a user given organizations, a signing key added or retired) appends an
//! entry in its own transaction. Every instance reads the log a few times a
//! second and evicts what it names, so it can keep authentications cached
//! far longer than the time within which it must see another instance's
//! revocation; the verifier feed (spec 1.6) serves the same entries.
//!
//! Entries are numbered as they are appended, not always in commit order: a
//! reader keeps a [`LogPosition`], not just a number.

pub mod position;

use std::time::Duration;

use latchkey_core::model::{Digest, TokenRecord};
use latchkey_core::time::Millis;
use latchkey_core::Id;

pub use position::LogPosition;

use crate::sql::Dialect;
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
    /// The position after this read: the next read starts here.
    pub position: LogPosition,
    /// The entries, oldest first; at most [`AUTH_CHANGES_PER_READ`].
    pub changes: Vec<AuthChange>,
    /// Entries after the position were pruned unread, or it is ahead of
    /// the log (it came from another database, or one restored from a
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
    /// The entries after a number, oldest first: `seq, kind, subject`.
    pub after: String,
    /// The entries whose numbers are in a JSON array (a position's gaps).
    pub gaps: String,
    /// The number of the last entry appended before a time, if any: a
    /// reader starting now need not wait for anything below it.
    pub settled: String,
    /// The numbers after a number, ascending (where a reader starts).
    pub recent: String,
    /// The oldest and the newest entry's numbers (0 and 0 when empty), and
    /// the database's time.
    pub span: String,
}

/// Entries stamped before this are pruned, `now` by the database's clock:
/// an instance whose own clock is off can never prune entries that others
/// have yet to read.
pub fn prune_before(now: i64) -> i64 {
    now - AUTH_CHANGE_RETENTION.as_millis() as i64
}

/// The log's span as [`ChangeLogSql::span`] reads it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Span {
    pub oldest: u64,
    pub newest: u64,
    pub now: Millis,
}

impl Span {
    pub fn from_row(oldest: i64, newest: i64, now: Millis) -> Span {
        Span {
            oldest: oldest.max(0) as u64,
            newest: newest.max(0) as u64,
            now,
        }
    }
}

/// A read of the log from `from`: its stored rows (`seq, kind, subject`;
/// gaps filled, then entries after `from.seen()`, each ascending) and the
/// log's `span`, read after them.
pub fn changes_from_rows(
    from: &LogPosition,
    rows: impl IntoIterator<Item = (i64, String, Vec<u8>)>,
    span: Span,
) -> StoreResult<AuthChanges> {
    // Pruning only ever removes the oldest entries, so reading the span
    // after the rows can only make this more cautious.
    // (A gap is looked for only for a minute, far less than entries are
    // kept: it cannot have been pruned unread.)
    let pruned_unread = span.oldest > 0 && from.seen().saturating_add(1) < span.oldest;
    let mut read = AuthChanges {
        position: from.clone(),
        changes: Vec::new(),
        expired: pruned_unread || from.seen() > span.newest,
    };
    let mut numbers = Vec::new();
    for (seq, kind, subject) in rows {
        read.changes.push(AuthChange::from_row(&kind, &subject)?);
        numbers.push(seq.max(0) as u64);
    }
    read.position.advance(numbers, span.now);
    Ok(read)
}

/// Where a reader starting now begins (see [`LogPosition::start`]), from
/// the log's span, the number [`ChangeLogSql::settled`] read (none: 0),
/// and the numbers [`ChangeLogSql::recent`] read after
/// [`LogPosition::start_floor`].
pub fn start_from_rows(span: Span, settled: Option<i64>, recent: impl IntoIterator<Item = i64>) -> AuthChanges {
    let recent: Vec<u64> = recent.into_iter().map(|seq| seq.max(0) as u64).collect();
    AuthChanges {
        position: LogPosition::start(&recent, settled_number(settled), span.newest, span.now),
        changes: Vec::new(),
        expired: false,
    }
}

/// What [`ChangeLogSql::settled`] read, as a number (none: 0).
fn settled_number(settled: Option<i64>) -> u64 {
    settled.unwrap_or(0).max(0) as u64
}

/// The number [`ChangeLogSql::recent`] binds for a reader starting now.
pub fn recent_after(span: &Span, settled: Option<i64>) -> i64 {
    LogPosition::start_floor(settled_number(settled), span.newest) as i64
}

/// The time [`ChangeLogSql::settled`] binds: entries appended before it
/// have committed or never will.
pub fn settled_before(now: Millis) -> Millis {
    now - position::GAP_PATIENCE
}

/// A position's gaps as the JSON array [`ChangeLogSql::gaps`] binds.
pub fn gaps_json(position: &LogPosition) -> String {
    let numbers: Vec<String> = position.gaps().map(|number| number.to_string()).collect();
    format!("[{}]", numbers.join(","))
}

/// The SQL of the log in a backend's dialect.
pub fn change_log_sql(dialect: &Dialect) -> ChangeLogSql {
    let p = dialect.placeholder;
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
            "DELETE FROM auth_changes WHERE seq IN (SELECT seq FROM auth_changes \
             WHERE changed_at < {} AND seq < (SELECT max(seq) FROM auth_changes){})",
            p(1),
            dialect.skip_locked
        ),
        after: format!(
            "SELECT seq, kind, subject FROM auth_changes WHERE seq > {} ORDER BY seq LIMIT {AUTH_CHANGES_PER_READ}",
            p(1)
        ),
        gaps: format!(
            "SELECT seq, kind, subject FROM auth_changes \
             WHERE seq IN (SELECT CAST(value AS BIGINT) FROM {}) ORDER BY seq",
            (dialect.json_array)(1)
        ),
        // The time index, walked backward from the time: one row.
        settled: format!(
            "SELECT seq FROM auth_changes WHERE changed_at < {} ORDER BY changed_at DESC LIMIT 1",
            p(1)
        ),
        recent: format!("SELECT seq FROM auth_changes WHERE seq > {} ORDER BY seq", p(1)),
        span: format!(
            "SELECT coalesce(min(seq), 0), coalesce(max(seq), 0), {} FROM auth_changes",
            dialect.now_millis
        ),
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

    fn at(seen: u64) -> LogPosition {
        seen.to_string().parse().unwrap()
    }

    fn span(oldest: u64, newest: u64) -> Span {
        Span { oldest, newest, now: 0 }
    }

    #[test]
    fn a_read_ends_at_its_newest_entry() {
        let rows = vec![
            (4, "keys".to_string(), vec![]),
            (9, "user".to_string(), b"0".repeat(24)),
        ];
        let read = changes_from_rows(&at(3), rows, span(1, 9)).unwrap();
        assert_eq!(read.position.seen(), 9);
        assert_eq!(read.position.gaps().collect::<Vec<_>>(), [5, 6, 7, 8]);
        assert_eq!(read.changes[0], AuthChange::Keys);
        assert!(!read.expired);
        assert_eq!(
            changes_from_rows(&at(9), Vec::new(), span(1, 9)).unwrap().position,
            at(9)
        );
    }

    #[test]
    fn a_position_past_pruned_or_future_entries_has_expired() {
        let expired = |seen, span| changes_from_rows(&at(seen), Vec::new(), span).unwrap().expired;
        // Entry 5 is the oldest kept: a reader at 4 missed nothing, at 3 it
        // missed entry 4.
        assert!(!expired(4, span(5, 9)));
        assert!(expired(3, span(5, 9)));
        // An empty log, never written: only 0 is its end.
        assert!(!expired(0, span(0, 0)));
        assert!(expired(12, span(0, 0)));
        // A position from a longer log (another database, a restored backup).
        assert!(expired(10, span(5, 9)));
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
