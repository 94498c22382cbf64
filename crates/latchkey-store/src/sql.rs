//! SQL for listings, shared by the SQL backends: the filter as `LIKE` over a
//! case-folded column (narrowed to an index range by the glob's literal
//! prefix), the order with ties broken by `id` ascending, and the page window.

use std::collections::BTreeMap;

use latchkey_core::list::{FilterField, ListQuery, SortDirection, SortField};
use latchkey_core::model::{Status, TokenOwnerType, TokenRecord};
use latchkey_core::time::Millis;

/// The token columns every query reads, in this order.
pub const TOKEN_COLUMNS: &str = "id, owner_type, owner_id, creator_type, creator_id, creator_name, name, \
    description, scope, status, created_at, updated_at, expires_at, digest, last_used";

/// The query for a credential: the token with this digest (placeholder 1)
/// and, for an application token, its application's owner type, named
/// `application_owner` and read right after the token's columns.
pub fn credential_select(placeholder: fn(usize) -> String) -> String {
    format!(
        "SELECT {TOKEN_COLUMNS}, (SELECT applications.owner_type FROM applications \
         WHERE applications.id = tokens.owner_id AND tokens.owner_type = 'application') AS application_owner \
         FROM tokens WHERE digest = {}",
        placeholder(1)
    )
}

/// Schema version 4, the same on both backends:
/// - names were once folded with `str::to_lowercase`, which writes a
///   word-final sigma as `ς`; a glob is folded a character at a time (`ς` as
///   `σ`), so stored names are refolded to match;
/// - a token created while its application was being deleted could outlive
///   it (no longer: see `Store::insert_tokens`); such tokens are deleted.
pub const SCHEMA_V4: &str = "
UPDATE tokens SET name_lower = replace(name_lower, 'ς', 'σ') WHERE name_lower LIKE '%ς%';
UPDATE applications SET name_lower = replace(name_lower, 'ς', 'σ') WHERE name_lower LIKE '%ς%';
DELETE FROM tokens WHERE owner_type = 'application'
    AND NOT EXISTS (SELECT 1 FROM applications WHERE applications.id = tokens.owner_id);
";

/// Adds each token's last use (see [`crate::Store::record_token_uses`]), the same on both
/// backends: `last_used` holds [`NEVER_USED`] until the first use, so the
/// never-used sort first in ascending order and `last_used < t` is one index
/// range that includes them (a NULL would need its own branch of the plan,
/// and SQLite's `max()` of a NULL is NULL). Two indexes, as for every sort.
pub const LAST_USED_SCHEMA: &str = "
ALTER TABLE tokens ADD COLUMN last_used BIGINT NOT NULL DEFAULT -9223372036854775808;
CREATE INDEX tokens_by_last_used ON tokens(owner_id, last_used, id);
CREATE INDEX tokens_by_last_used_desc ON tokens(owner_id, last_used DESC, id);
";

/// The application columns every query reads, in this order.
pub const APPLICATION_COLUMNS: &str = "id, owner_type, owner_id, name, description, created_at, updated_at";

/// `expires_at` of a token that never expires: it sorts as infinitely late.
const NEVER: Millis = i64::MAX;

/// The stored `expires_at` of an expiration date.
pub fn expires_at(expiration: Option<Millis>) -> Millis {
    expiration.unwrap_or(NEVER)
}

/// The expiration date a stored `expires_at` means.
pub fn expiration_date(expires_at: Millis) -> Option<Millis> {
    (expires_at != NEVER).then_some(expires_at)
}

/// `last_used` of a token never used: it sorts as used infinitely early.
pub const NEVER_USED: Millis = i64::MIN;

/// The stored `last_used` of a last use.
pub fn last_used_at(last_used: Option<Millis>) -> Millis {
    last_used.unwrap_or(NEVER_USED)
}

/// The last use a stored `last_used` means.
pub fn last_use(last_used_at: Millis) -> Option<Millis> {
    (last_used_at != NEVER_USED).then_some(last_used_at)
}

/// The stored `scope`: names joined by single spaces (no name holds one).
pub fn scope_text(scope: &[String]) -> String {
    scope.join(" ")
}

/// The scope names a stored `scope` holds.
pub fn scope_names(text: &str) -> Vec<String> {
    text.split(' ')
        .filter(|name| !name.is_empty())
        .map(String::from)
        .collect()
}

/// How a backend spells the SQL where backends differ.
pub struct Dialect {
    /// Placeholder number `n` (from 1): `?1` or `$1`.
    pub placeholder: fn(usize) -> String,
    /// `column` in a condition that must not pick the index (SQLite: `+column`),
    /// so the planner walks the sort order's index instead. PostgreSQL plans
    /// from statistics and needs no hint.
    pub unindexed: fn(&str) -> String,
    /// The database's clock in milliseconds since the Unix epoch, as an
    /// expression: every instance that shares a database agrees on it,
    /// whatever its own clock.
    pub now_millis: &'static str,
    /// A table of the elements of the JSON array text bound to placeholder
    /// `n`, as text in a column `value`.
    pub json_array: fn(usize) -> String,
    /// Ends a subquery that picks rows to delete, so that transactions
    /// deleting at once take different rows rather than wait for each
    /// other (PostgreSQL: `FOR UPDATE SKIP LOCKED`; SQLite has one writer).
    pub skip_locked: &'static str,
}

/// The token counts kept with an application: they answer `totalCount` for
/// an unfiltered or status-filtered listing without counting rows, and tell
/// how common a status is when choosing a plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TokenCounts {
    pub total: u64,
    pub active: u64,
}

impl TokenCounts {
    fn with_status(self, status: Status) -> u64 {
        match status {
            Status::Active => self.active,
            Status::Inactive => self.total.saturating_sub(self.active),
        }
    }
}

/// How much inserting `tokens` moves each application's kept counts:
/// `(application, tokens, active tokens)`, in the order of the applications'
/// ids, so concurrent inserts lock applications in the same order.
pub fn count_changes(tokens: &[TokenRecord]) -> Vec<(String, i64, i64)> {
    let mut changes: BTreeMap<String, (i64, i64)> = BTreeMap::new();
    for token in tokens
        .iter()
        .filter(|token| token.owner_type == TokenOwnerType::Application)
    {
        let counts = changes.entry(token.owner_id.to_string()).or_default();
        counts.0 += 1;
        counts.1 += i64::from(token.status == Status::Active);
    }
    changes
        .into_iter()
        .map(|(application, (total, active))| (application, total, active))
        .collect()
}

/// A status filter on a sort by another field walks that sort's index,
/// checking each row, when at least one row in this many matches: the walk
/// then stops after a few pages' worth. Rarer statuses read their own index
/// and sort what matched, which is small.
const WALK_WHEN_ONE_IN: u64 = 8;

/// A value bound to a listing's placeholder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SqlValue {
    Text(String),
    Integer(i64),
}

/// The parts of a listing query that depend on its parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListingSql {
    /// Conditions after `WHERE`, starting with the owner condition.
    pub conditions: String,
    /// `ORDER BY …` including the `id` tie-break.
    pub order_by: String,
    /// The values for the placeholders in `conditions`, in order.
    pub params: Vec<SqlValue>,
    /// `totalCount` when the kept counts answer it; `None` means count rows.
    pub total_count: Option<u64>,
}

/// Column names of a listed table, per sort and filter field.
pub trait Columns {
    fn sort_column(field: SortField) -> &'static str;
    fn filter_column(field: FilterField) -> &'static str;
}

/// Columns of the `tokens` table.
pub struct TokenColumns;

impl Columns for TokenColumns {
    fn sort_column(field: SortField) -> &'static str {
        match field {
            SortField::Name => "name_lower",
            SortField::Status => "status",
            SortField::Id => "id",
            SortField::CreationDate => "created_at",
            SortField::LastUpdated => "updated_at",
            // Never-expiring tokens hold i64::MAX: they sort as infinitely late.
            SortField::ExpirationDate => "expires_at",
            // Never-used tokens hold i64::MIN: they sort as infinitely early.
            SortField::LastUsed => "last_used",
        }
    }

    fn filter_column(field: FilterField) -> &'static str {
        match field {
            FilterField::Name => "name_lower",
            FilterField::Status => "status",
        }
    }
}

/// Columns of the `applications` table.
pub struct ApplicationColumns;

impl Columns for ApplicationColumns {
    fn sort_column(field: SortField) -> &'static str {
        match field {
            SortField::Name | SortField::Status | SortField::ExpirationDate | SortField::LastUsed => "name_lower",
            SortField::Id => "id",
            SortField::CreationDate => "created_at",
            SortField::LastUpdated => "updated_at",
        }
    }

    fn filter_column(_: FilterField) -> &'static str {
        "name_lower"
    }
}

/// The query for one page of a listing. Its window is bound, not written
/// in: `LIMIT` and `OFFSET` are the two placeholders after `sql.params`, so
/// every page of one listing shape is the same prepared statement.
pub fn page_select(table: &str, columns: &str, sql: &ListingSql, placeholder: fn(usize) -> String) -> String {
    let bound = sql.params.len();
    format!(
        "SELECT {columns} FROM {table} WHERE {} {} LIMIT {} OFFSET {}",
        sql.conditions,
        sql.order_by,
        placeholder(bound + 1),
        placeholder(bound + 2)
    )
}

/// The query counting every row a listing matches.
pub fn count_select(table: &str, sql: &ListingSql) -> String {
    format!("SELECT COUNT(*) FROM {table} WHERE {}", sql.conditions)
}

/// What a bulk revocation does to the tokens it matches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Revocation {
    /// Sets them inactive (already inactive ones are left as they are).
    Deactivate,
    /// Deletes them.
    Delete,
}

/// The statements of a bulk revocation of the tokens `sql` (a token
/// [`listing`] of one application) matches, run in one transaction after the
/// application's row is locked, so the set they see cannot change between
/// them. Both bind `sql.params`; the deactivation binds `updated_at` after them.
pub struct RevocationSql {
    /// Counts the matching active tokens: the kept active count drops by it.
    pub count_active: String,
    /// Deactivates or deletes the matching tokens; the rows it changes are
    /// the revoked tokens.
    pub write: String,
    /// For a deletion: leaves the matching tokens' tombstones (run before
    /// `write`, binding `sql.params`; see [`crate::revoked`]).
    pub tombstones: Option<String>,
}

impl Revocation {
    /// How the application's kept counts move, `(tokens, active tokens)`,
    /// when the write changed `changed` rows of which `active` were active
    /// (a deactivation changes only active ones).
    pub fn count_change(self, changed: u64, active: u64) -> (i64, i64) {
        let (changed, active) = (changed as i64, active as i64);
        match self {
            Revocation::Deactivate => (0, -changed),
            Revocation::Delete => (-changed, -active),
        }
    }
}

/// [`RevocationSql`] for the matches of a token listing. The listing's own
/// conditions are reused as they are, so a bulk call revokes exactly what
/// the same parameters list.
pub fn revocation(sql: &ListingSql, revocation: Revocation, placeholder: fn(usize) -> String) -> RevocationSql {
    let matching = &sql.conditions;
    let write = match revocation {
        // Only active tokens change: an inactive one keeps its `updated_at`,
        // and the count is of tokens this call revoked.
        Revocation::Deactivate => format!(
            "UPDATE tokens SET status = 'inactive', updated_at = {} WHERE {matching} AND status = 'active'",
            placeholder(sql.params.len() + 1)
        ),
        Revocation::Delete => format!("DELETE FROM tokens WHERE {matching}"),
    };
    RevocationSql {
        count_active: format!("SELECT COUNT(*) FROM tokens WHERE {matching} AND status = 'active'"),
        write,
        tombstones: (revocation == Revocation::Delete).then(|| crate::revoked::tombstones_of(matching)),
    }
}

/// Builds the listing conditions for rows whose `owner_id` is one of
/// `owners`; `counts` are the kept counts when one application is listed.
pub fn listing<C: Columns>(
    owners: &[String],
    query: &ListQuery,
    dialect: &Dialect,
    counts: Option<TokenCounts>,
) -> ListingSql {
    let mut params: Vec<SqlValue> = Vec::new();
    let mut bind = |value: SqlValue| {
        params.push(value);
        (dialect.placeholder)(params.len())
    };
    let owner_list: Vec<String> = owners.iter().map(|owner| bind(SqlValue::Text(owner.clone()))).collect();
    let mut conditions = format!("owner_id IN ({})", owner_list.join(", "));
    let mut total_count = counts.map(|counts| counts.total);
    match &query.filter {
        None => {}
        // No stored value holds NUL (bodies refuse it), and PostgreSQL text
        // cannot even carry it as a parameter: such a glob matches nothing.
        Some(filter) if filter.glob.as_str().contains('\0') => {
            conditions.push_str(" AND 1 = 0");
            total_count = Some(0);
        }
        // A status is one of two values: the glob picks which, exactly.
        Some(filter) if filter.field == FilterField::Status => {
            let column = C::filter_column(filter.field);
            let statuses: Vec<Status> = Status::ALL
                .into_iter()
                .filter(|status| filter.glob.matches(status.as_str()))
                .collect();
            match statuses[..] {
                [] => {
                    conditions.push_str(" AND 1 = 0");
                    total_count = Some(0);
                }
                [status] => {
                    let matching = counts.map(|counts| counts.with_status(status));
                    let common = counts
                        .zip(matching)
                        .is_some_and(|(counts, matching)| matching.saturating_mul(WALK_WHEN_ONE_IN) >= counts.total);
                    let walk_sort_index = common && query.sort_field != SortField::Status;
                    let column = if walk_sort_index {
                        (dialect.unindexed)(column)
                    } else {
                        column.to_string()
                    };
                    let value = bind(SqlValue::Text(status.as_str().to_string()));
                    conditions.push_str(&format!(" AND {column} = {value}"));
                    total_count = matching;
                }
                _ => {}
            }
        }
        Some(filter) => {
            let column = C::filter_column(filter.field);
            let like = bind(SqlValue::Text(filter.glob.to_sql_like()));
            conditions.push_str(&format!(" AND {column} LIKE {like} ESCAPE '\\'"));
            let prefix = filter.glob.literal_prefix();
            if !prefix.is_empty() {
                let low = bind(SqlValue::Text(prefix.to_string()));
                conditions.push_str(&format!(" AND {column} >= {low}"));
            }
            if let Some(upper) = filter.glob.prefix_upper_bound() {
                let high = bind(SqlValue::Text(upper));
                conditions.push_str(&format!(" AND {column} < {high}"));
            }
            total_count = None;
        }
    }
    if let Some(before) = query.last_used_before {
        // Never-used tokens hold the smallest value: the range includes them.
        let before = bind(SqlValue::Integer(before));
        conditions.push_str(&format!(" AND last_used < {before}"));
        total_count = None;
    }
    if let Some(before) = query.created_before {
        let before = bind(SqlValue::Integer(before));
        conditions.push_str(&format!(" AND created_at < {before}"));
        total_count = None;
    }
    let direction = match query.sort_direction {
        SortDirection::Asc => "ASC",
        SortDirection::Desc => "DESC",
    };
    let column = C::sort_column(query.sort_field);
    let order_by = if column == "id" {
        format!("ORDER BY id {direction}")
    } else {
        format!("ORDER BY {column} {direction}, id ASC")
    };
    ListingSql {
        conditions,
        order_by,
        params,
        total_count,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use latchkey_core::list::TOKEN_LISTING;

    const QUESTION: Dialect = Dialect {
        placeholder: |n| format!("?{n}"),
        unindexed: |column| format!("+{column}"),
        now_millis: "0",
        json_array: |n| format!("json_each(?{n})"),
        skip_locked: "",
    };

    fn tokens(query: &[(&str, &str)], counts: Option<TokenCounts>) -> ListingSql {
        let query = TOKEN_LISTING.parse(query.iter().copied()).unwrap();
        listing::<TokenColumns>(&["a".into()], &query, &QUESTION, counts)
    }

    fn text(value: &str) -> SqlValue {
        SqlValue::Text(value.to_string())
    }

    #[test]
    fn a_prefix_glob_becomes_an_index_range() {
        let sql = tokens(
            &[
                ("filterField", "name"),
                ("filter", "Seed-0001*"),
                ("sortField", "status"),
                ("sortDirection", "desc"),
            ],
            Some(TokenCounts { total: 10, active: 10 }),
        );
        assert_eq!(
            sql.conditions,
            "owner_id IN (?1) AND name_lower LIKE ?2 ESCAPE '\\' AND name_lower >= ?3 AND name_lower < ?4"
        );
        assert_eq!(sql.order_by, "ORDER BY status DESC, id ASC");
        assert_eq!(
            sql.params,
            [text("a"), text("seed-0001%"), text("seed-0001"), text("seed-0002")]
        );
        assert_eq!(sql.total_count, None, "a name filter is counted");
    }

    #[test]
    fn an_infix_glob_has_no_range() {
        let query = TOKEN_LISTING
            .parse([("filterField", "name"), ("filter", "*1*"), ("sortField", "id")])
            .unwrap();
        let dollar = Dialect {
            placeholder: |n| format!("${n}"),
            unindexed: |column| column.to_string(),
            now_millis: "0",
            ..QUESTION
        };
        let sql = listing::<TokenColumns>(&["a".into(), "b".into()], &query, &dollar, None);
        assert_eq!(
            sql.conditions,
            "owner_id IN ($1, $2) AND name_lower LIKE $3 ESCAPE '\\'"
        );
        assert_eq!(sql.order_by, "ORDER BY id ASC");
    }

    #[test]
    fn last_used_sorts_by_its_column_and_filters_as_one_range() {
        let counts = Some(TokenCounts { total: 100, active: 95 });
        let sql = tokens(
            &[
                ("sortField", "lastUsed"),
                ("sortDirection", "desc"),
                ("filterField", "status"),
                ("filter", "active"),
                ("lastUsedBefore", "1700000000000"),
            ],
            counts,
        );
        assert_eq!(sql.conditions, "owner_id IN (?1) AND +status = ?2 AND last_used < ?3");
        assert_eq!(sql.params[2], SqlValue::Integer(1_700_000_000_000));
        assert_eq!(sql.order_by, "ORDER BY last_used DESC, id ASC");
        assert_eq!(sql.total_count, None, "the kept counts know nothing of uses");
        assert_eq!(last_use(last_used_at(None)), None);
        assert_eq!(last_use(last_used_at(Some(5))), Some(5));
    }

    #[test]
    fn a_revocation_acts_on_what_the_same_parameters_list() {
        let sql = tokens(
            &[("filterField", "name"), ("filter", "ci-*"), ("createdBefore", "7")],
            None,
        );
        assert_eq!(
            sql.conditions,
            "owner_id IN (?1) AND name_lower LIKE ?2 ESCAPE '\\' AND name_lower >= ?3 AND name_lower < ?4 AND created_at < ?5"
        );
        let deactivate = revocation(&sql, Revocation::Deactivate, QUESTION.placeholder);
        assert_eq!(
            deactivate.write,
            format!(
                "UPDATE tokens SET status = 'inactive', updated_at = ?6 WHERE {} AND status = 'active'",
                sql.conditions
            )
        );
        let delete = revocation(&sql, Revocation::Delete, QUESTION.placeholder);
        assert_eq!(delete.write, format!("DELETE FROM tokens WHERE {}", sql.conditions));
        assert_eq!(
            delete.count_active,
            format!(
                "SELECT COUNT(*) FROM tokens WHERE {} AND status = 'active'",
                sql.conditions
            )
        );
    }

    #[test]
    fn a_glob_holding_nul_matches_nothing_and_binds_nothing() {
        let sql = tokens(&[("filterField", "name"), ("filter", "a\0*")], None);
        assert_eq!(sql.conditions, "owner_id IN (?1) AND 1 = 0");
        assert_eq!((sql.params.len(), sql.total_count), (1, Some(0)));
    }

    #[test]
    fn a_status_glob_picks_its_statuses_and_is_counted_from_the_kept_counts() {
        let counts = Some(TokenCounts { total: 100, active: 95 });
        let common = tokens(&[("filterField", "status"), ("filter", "ACT*")], counts);
        assert_eq!(
            common.conditions, "owner_id IN (?1) AND +status = ?2",
            "walk the name index"
        );
        assert_eq!((&common.params[1], common.total_count), (&text("active"), Some(95)));

        let rare = tokens(&[("filterField", "status"), ("filter", "in*")], counts);
        assert_eq!(
            rare.conditions, "owner_id IN (?1) AND status = ?2",
            "read the status index"
        );
        assert_eq!(rare.total_count, Some(5));

        let by_status = tokens(
            &[("filterField", "status"), ("filter", "active"), ("sortField", "status")],
            counts,
        );
        assert_eq!(by_status.conditions, "owner_id IN (?1) AND status = ?2");

        let both = tokens(&[("filterField", "status"), ("filter", "*active")], counts);
        assert_eq!(
            (both.conditions.as_str(), both.total_count),
            ("owner_id IN (?1)", Some(100))
        );
        let neither = tokens(&[("filterField", "status"), ("filter", "act")], counts);
        assert_eq!(
            (neither.conditions.as_str(), neither.total_count),
            ("owner_id IN (?1) AND 1 = 0", Some(0))
        );
        assert_eq!(tokens(&[], counts).total_count, Some(100));
    }
}
