//! SQL for listings, shared by the SQL backends: the filter as `LIKE` over a
//! case-folded column (narrowed to an index range by the glob's literal
//! prefix), the order with ties broken by `id` ascending, and the page window.

use latchkey_core::list::{FilterField, ListQuery, SortDirection, SortField};

/// A value to bind to a placeholder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SqlValue {
    Text(String),
    Int(i64),
}

/// How a backend spells placeholder number `n` (from 1): `?1` or `$1`.
pub type Placeholder = fn(usize) -> String;

/// The parts of a listing query that depend on its parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListingSql {
    /// Conditions after `WHERE`, starting with the owner condition.
    pub conditions: String,
    /// `ORDER BY …` including the `id` tie-break.
    pub order_by: String,
    /// The values for the placeholders in `conditions`, in order.
    pub params: Vec<SqlValue>,
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
            SortField::Name | SortField::Status | SortField::ExpirationDate => "name_lower",
            SortField::Id => "id",
            SortField::CreationDate => "created_at",
            SortField::LastUpdated => "updated_at",
        }
    }

    fn filter_column(_: FilterField) -> &'static str {
        "name_lower"
    }
}

/// The query for one page of a listing.
pub fn page_select(table: &str, columns: &str, sql: &ListingSql, per_page: u32, offset: i64) -> String {
    format!(
        "SELECT {columns} FROM {table} WHERE {} {} LIMIT {per_page} OFFSET {offset}",
        sql.conditions, sql.order_by
    )
}

/// The query counting every row a listing matches.
pub fn count_select(table: &str, sql: &ListingSql) -> String {
    format!("SELECT COUNT(*) FROM {table} WHERE {}", sql.conditions)
}

/// Builds the listing conditions for rows whose `owner_id` is one of `owners`.
pub fn listing<C: Columns>(owners: &[String], query: &ListQuery, placeholder: Placeholder) -> ListingSql {
    let mut params: Vec<SqlValue> = Vec::new();
    let mut bind = |value: SqlValue| {
        params.push(value);
        placeholder(params.len())
    };
    let owner_list: Vec<String> = owners.iter().map(|owner| bind(SqlValue::Text(owner.clone()))).collect();
    let mut conditions = format!("owner_id IN ({})", owner_list.join(", "));
    match &query.filter {
        None => {}
        // No stored value holds NUL (bodies refuse it), and PostgreSQL text
        // cannot even carry it as a parameter: such a glob matches nothing.
        Some(filter) if filter.glob.as_str().contains('\0') => conditions.push_str(" AND 1 = 0"),
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
        }
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
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use latchkey_core::list::TOKEN_LISTING;

    fn question(n: usize) -> String {
        format!("?{n}")
    }

    #[test]
    fn a_prefix_glob_becomes_an_index_range() {
        let query = TOKEN_LISTING
            .parse([
                ("filterField", "name"),
                ("filter", "Seed-0001*"),
                ("sortField", "status"),
                ("sortDirection", "desc"),
            ])
            .unwrap();
        let sql = listing::<TokenColumns>(&["a".into()], &query, question);
        assert_eq!(
            sql.conditions,
            "owner_id IN (?1) AND name_lower LIKE ?2 ESCAPE '\\' AND name_lower >= ?3 AND name_lower < ?4"
        );
        assert_eq!(sql.order_by, "ORDER BY status DESC, id ASC");
        assert_eq!(
            sql.params,
            [
                SqlValue::Text("a".into()),
                SqlValue::Text("seed-0001%".into()),
                SqlValue::Text("seed-0001".into()),
                SqlValue::Text("seed-0002".into())
            ]
        );
    }

    #[test]
    fn a_glob_holding_nul_matches_nothing_and_binds_nothing() {
        let query = TOKEN_LISTING
            .parse([("filterField", "name"), ("filter", "a\0*")])
            .unwrap();
        let sql = listing::<TokenColumns>(&["a".into()], &query, question);
        assert_eq!(sql.conditions, "owner_id IN (?1) AND 1 = 0");
        assert_eq!(sql.params, [SqlValue::Text("a".into())]);
    }

    #[test]
    fn an_infix_glob_has_no_range() {
        let query = TOKEN_LISTING
            .parse([("filterField", "name"), ("filter", "*1*"), ("sortField", "id")])
            .unwrap();
        let sql = listing::<TokenColumns>(&["a".into(), "b".into()], &query, |n| format!("${n}"));
        assert_eq!(
            sql.conditions,
            "owner_id IN ($1, $2) AND name_lower LIKE $3 ESCAPE '\\'"
        );
        assert_eq!(sql.order_by, "ORDER BY id ASC");
    }
}
