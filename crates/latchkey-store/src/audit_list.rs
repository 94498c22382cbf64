//! Reading the audit log, the SQL shared by both backends: one organization's
//! or one application's entries, in a time range, filtered by
//! `auditLogFilter`, in one of three orders, a page at a time.
//!
//! Every value is bound, the page window included, and each kind of filter
//! is bound whole as one JSON array that the database reads item by item. So
//! the statement's text depends only on the scope, the order, whether there
//! is a time range and which kinds are filtered (2 × 6 × 2 × 2⁵ shapes at
//! most): walking pages or changing values reuses one prepared statement,
//! and no request can grow a connection's statement cache past that.
//!
//! Without a time range, every order walks its own index (`AUDIT_SCHEMA`);
//! with one, the database may instead read the range from the creation-time
//! index and sort what it holds.

use latchkey_core::audit_list::{AuditFilter, AuditQuery, AuditSortField, NamedMatch};
use latchkey_core::list::SortDirection;
use latchkey_core::Id;
use serde_json::{json, Map, Value};

use crate::{StoreError, StoreResult};

/// An entry's wire form, as stored (`schemas/auditLog.json`).
pub type AuditDocument = Value;

/// Whose audit log is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuditScope {
    /// Entries about an organization and its applications (`orgId`).
    Organization(Id),
    /// Entries whose primary target is the application.
    Application(Id),
}

impl AuditScope {
    fn column(self) -> &'static str {
        match self {
            AuditScope::Organization(_) => "org_id",
            AuditScope::Application(_) => "primary_target_id",
        }
    }

    pub fn id(self) -> Id {
        match self {
            AuditScope::Organization(id) | AuditScope::Application(id) => id,
        }
    }
}

/// How a backend spells what the audit listing needs beyond placeholders.
pub struct AuditDialect {
    /// Placeholder number `n` (from 1): `?1` or `$1`.
    pub placeholder: fn(usize) -> String,
    /// A `FROM` item named `item` whose column `value` holds each element of
    /// the JSON array (text) bound at the given placeholder, so that
    /// `item.value ->> 'key'` is an element's field as text.
    pub json_items: fn(&str) -> String,
}

/// A filter kind: each item's JSON field and the column it must equal, as
/// text.
type FilterColumns = &'static [(&'static str, &'static str)];

const PRIMARY_TARGET: FilterColumns = &[
    ("id", "primary_target_id"),
    ("type", "primary_target_type"),
    ("name", "primary_target_name"),
];
const SECONDARY_TARGET: FilterColumns = &[
    ("id", "secondary_target_id"),
    ("type", "secondary_target_type"),
    ("name", "secondary_target_name"),
];
const ACTOR: FilterColumns = &[("id", "actor_id"), ("type", "actor_type"), ("name", "actor_name")];
const REQUEST: FilterColumns = &[("resource", "request_resource"), ("action", "request_action")];
const RESPONSE_CODE: FilterColumns = &[("code", "CAST(response_status AS TEXT)")];

/// A listing's statement parts and the values to bind, in placeholder order:
/// the scope's id (1), the time range's start and end when there is one
/// (2, 3), then each filtered kind's items, then the page window.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditListing {
    /// Conditions after `WHERE`.
    pub conditions: String,
    /// `ORDER BY …`, ties broken by `id` in the same direction.
    pub order_by: String,
    pub scope: String,
    /// Start and end, both included, when `start` or `end` was given.
    pub time_range: Option<(i64, i64)>,
    /// Each filtered kind's items as a JSON array.
    pub filters: Vec<String>,
}

impl AuditListing {
    /// Placeholders before the page window's.
    fn bound(&self) -> usize {
        1 + 2 * usize::from(self.time_range.is_some()) + self.filters.len()
    }
}

fn named_items(items: &[NamedMatch]) -> Vec<Value> {
    items
        .iter()
        .map(|item| {
            let mut fields = Map::new();
            if let Some(id) = item.id {
                fields.insert("id".into(), id.to_string().into());
            }
            if let Some(kind) = item.kind {
                fields.insert("type".into(), kind.into());
            }
            if let Some(name) = &item.name {
                fields.insert("name".into(), name.clone().into());
            }
            Value::Object(fields)
        })
        .collect()
}

/// Each filtered kind's columns and items, in a fixed order.
fn filtered_kinds(filter: &AuditFilter) -> Vec<(FilterColumns, Vec<Value>)> {
    let requests = filter
        .request
        .iter()
        .map(|item| {
            let mut fields = Map::new();
            if let Some(resource) = &item.resource {
                fields.insert("resource".into(), resource.clone().into());
            }
            if let Some(action) = &item.action {
                fields.insert("action".into(), action.clone().into());
            }
            Value::Object(fields)
        })
        .collect();
    // Compared as text, like every other field.
    let codes = filter
        .response_code
        .iter()
        .map(|code| json!({"code": code.to_string()}))
        .collect();
    [
        (PRIMARY_TARGET, named_items(&filter.primary_target)),
        (SECONDARY_TARGET, named_items(&filter.secondary_target)),
        (ACTOR, named_items(&filter.actor)),
        (REQUEST, requests),
        (RESPONSE_CODE, codes),
    ]
    .into_iter()
    .filter(|(_, items)| !items.is_empty())
    .collect()
}

/// Builds a listing of `scope`'s entries that `query` matches.
pub fn audit_listing(scope: AuditScope, query: &AuditQuery, dialect: &AuditDialect) -> AuditListing {
    let placeholder = dialect.placeholder;
    let mut conditions = format!("{} = {}", scope.column(), placeholder(1));
    let time_range = (query.start.is_some() || query.end.is_some())
        .then(|| (query.start.unwrap_or(i64::MIN), query.end.unwrap_or(i64::MAX)));
    if time_range.is_some() {
        conditions.push_str(&format!(
            " AND created_at >= {} AND created_at <= {}",
            placeholder(2),
            placeholder(3)
        ));
    }
    let before_filters = 1 + 2 * usize::from(time_range.is_some());
    let mut filters = Vec::new();
    for (columns, items) in filtered_kinds(&query.filter) {
        filters.push(Value::Array(items).to_string());
        let items = (dialect.json_items)(&placeholder(before_filters + filters.len()));
        // An item matches when each field it gives equals its column; a
        // field it does not give is absent (NULL) and matches anything.
        let fields: Vec<String> = columns
            .iter()
            .map(|(field, column)| format!("(item.value ->> '{field}' IS NULL OR item.value ->> '{field}' = {column})"))
            .collect();
        conditions.push_str(&format!(
            " AND EXISTS (SELECT 1 FROM {items} WHERE {})",
            fields.join(" AND ")
        ));
    }
    let column = match query.sort_field {
        AuditSortField::CreationDate => "created_at",
        AuditSortField::ResponseStatus => "response_status",
        AuditSortField::ActorName => "actor_name",
    };
    let direction = match query.sort_direction {
        SortDirection::Asc => "ASC",
        SortDirection::Desc => "DESC",
    };
    AuditListing {
        conditions,
        order_by: format!("ORDER BY {column} {direction}, id {direction}"),
        scope: scope.id().to_string(),
        time_range,
        filters,
    }
}

/// The query for one page of documents: `LIMIT` and `OFFSET` are the two
/// placeholders after the listing's own.
pub fn audit_page_select(listing: &AuditListing, placeholder: fn(usize) -> String) -> String {
    let bound = listing.bound();
    format!(
        "SELECT document FROM audit_logs WHERE {} {} LIMIT {} OFFSET {}",
        listing.conditions,
        listing.order_by,
        placeholder(bound + 1),
        placeholder(bound + 2)
    )
}

/// The query counting every entry a listing matches.
pub fn audit_count_select(listing: &AuditListing) -> String {
    format!("SELECT COUNT(*) FROM audit_logs WHERE {}", listing.conditions)
}

/// The query for one entry's document: its id (placeholder 1) in the
/// scope (placeholder 2).
pub fn audit_entry_select(scope: AuditScope, placeholder: fn(usize) -> String) -> String {
    format!(
        "SELECT document FROM audit_logs WHERE id = {} AND {} = {}",
        placeholder(1),
        scope.column(),
        placeholder(2)
    )
}

/// A stored document as JSON: written by [`crate::audit::AuditRow`], so
/// anything else means the database was changed behind Latchkey's back.
pub fn document(text: &str) -> StoreResult<AuditDocument> {
    serde_json::from_str(text).map_err(|error| StoreError::Database(format!("an audit entry is not JSON: {error}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    const QUESTION: AuditDialect = AuditDialect {
        placeholder: |n| format!("?{n}"),
        json_items: |array| format!("json_each({array}) AS item"),
    };

    fn listing(pairs: &[(&str, &str)]) -> AuditListing {
        let query = AuditQuery::parse(pairs.iter().copied()).unwrap();
        let app: Id = "575ec8687ae143cd83dc4a97".parse().unwrap();
        audit_listing(AuditScope::Application(app), &query, &QUESTION)
    }

    #[test]
    fn defaults_sort_newest_first() {
        let sql = listing(&[]);
        assert_eq!(sql.conditions, "primary_target_id = ?1");
        assert_eq!(sql.order_by, "ORDER BY created_at DESC, id DESC");
        assert_eq!(sql.time_range, None);
        assert!(sql.filters.is_empty());
        assert_eq!(
            audit_page_select(&sql, QUESTION.placeholder),
            "SELECT document FROM audit_logs WHERE primary_target_id = ?1 \
             ORDER BY created_at DESC, id DESC LIMIT ?2 OFFSET ?3"
        );
    }

    #[test]
    fn either_end_of_a_time_range_binds_both() {
        let sql = listing(&[("end", "5")]);
        assert_eq!(
            sql.conditions,
            "primary_target_id = ?1 AND created_at >= ?2 AND created_at <= ?3"
        );
        assert_eq!(sql.time_range, Some((i64::MIN, 5)));
        assert_eq!(listing(&[("start", "5")]).time_range, Some((5, i64::MAX)));
        assert_eq!(listing(&[("start", "9"), ("end", "5")]).time_range, Some((9, 5)));
    }

    #[test]
    fn each_filtered_kind_is_one_bound_json_array() {
        let sql = listing(&[
            ("sortField", "actorName"),
            ("sortDirection", "asc"),
            ("auditLogFilter[actor][0][type]", "User"),
            ("auditLogFilter[actor][1][name]", "ingest"),
            ("auditLogFilter[responseCode][0]", "404"),
            ("start", "1"),
        ]);
        assert_eq!(sql.order_by, "ORDER BY actor_name ASC, id ASC");
        assert_eq!(
            sql.filters,
            [r#"[{"type":"User"},{"name":"ingest"}]"#, r#"[{"code":"404"}]"#]
        );
        assert!(sql.conditions.contains(
            "EXISTS (SELECT 1 FROM json_each(?4) AS item WHERE (item.value ->> 'id' IS NULL OR item.value ->> 'id' = actor_id)"
        ));
        assert!(sql.conditions.contains("json_each(?5) AS item WHERE (item.value ->> 'code' IS NULL OR item.value ->> 'code' = CAST(response_status AS TEXT))"));
        assert!(audit_page_select(&sql, QUESTION.placeholder).ends_with("LIMIT ?6 OFFSET ?7"));
    }

    #[test]
    fn the_statement_depends_on_the_kinds_filtered_not_on_their_values() {
        let one = listing(&[("auditLogFilter[request][0][action]", "post")]);
        let other = listing(&[
            ("auditLogFilter[request][0][resource]", "applicationApiTokens"),
            ("auditLogFilter[request][7][action]", "delete"),
            ("page", "9"),
        ]);
        assert_eq!(one.conditions, other.conditions);
        assert_ne!(one.filters, other.filters);
    }

    #[test]
    fn an_organization_scope_reads_org_id() {
        let org: Id = "575ed6e87ae143cd83dc4aa8".parse().unwrap();
        assert_eq!(
            audit_entry_select(AuditScope::Organization(org), QUESTION.placeholder),
            "SELECT document FROM audit_logs WHERE id = ?1 AND org_id = ?2"
        );
    }
}
