//! The audit log's listings walk an index in every order, filtered or not,
//! so a page costs the same however long the log; a time range is read
//! from an index too.

use latchkey_core::audit_list::AuditQuery;
use latchkey_core::Id;
use latchkey_store::audit_list::{audit_listing, audit_page_select, AuditScope};
use rusqlite::params_from_iter;
use rusqlite::types::Value;

use crate::{audit_values, SqliteStore, AUDIT_DIALECT, DIALECT};

#[test]
fn every_audit_listing_walks_an_index_without_sorting() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("plan.db")).unwrap();
    let id: Id = "575ec8687ae143cd83dc4a97".parse().unwrap();
    let filters: [&[(&str, &str)]; 3] = [
        &[],
        &[("start", "1000"), ("end", "2000")],
        &[
            ("auditLogFilter[actor][0][type]", "User"),
            ("auditLogFilter[responseCode][0]", "403"),
        ],
    ];
    store
        .inner
        .readers
        .with(|conn| {
            for scope in [AuditScope::Organization(id), AuditScope::Application(id)] {
                for field in ["creationDate", "responseStatus", "actorName"] {
                    for direction in ["asc", "desc"] {
                        for filter in filters {
                            let mut pairs = vec![("sortField", field), ("sortDirection", direction)];
                            pairs.extend_from_slice(filter);
                            let query = AuditQuery::parse(pairs.iter().copied()).unwrap();
                            let listing = audit_listing(scope, &query, &AUDIT_DIALECT);
                            let text = audit_page_select(&listing, DIALECT.placeholder);
                            let params = audit_values(&listing)
                                .into_iter()
                                .chain([Value::Integer(100), Value::Integer(0)]);
                            let mut explain = conn.prepare(&format!("EXPLAIN QUERY PLAN {text}")).unwrap();
                            let plan: Vec<String> = explain
                                .query_map(params_from_iter(params), |row| row.get::<_, String>(3))
                                .unwrap()
                                .collect::<rusqlite::Result<_>>()
                                .unwrap();
                            let plan = plan.join("; ");
                            let case = format!("{scope:?} {field} {direction} {filter:?}: {plan}");
                            assert!(plan.contains("USING INDEX audit_logs_by_"), "{case}");
                            // A time range may be read from the creation-time
                            // index and sorted instead.
                            let sorts_a_range = query.start.is_some() && field != "creationDate";
                            if !sorts_a_range {
                                assert!(!plan.contains("TEMP B-TREE"), "{case}");
                            }
                        }
                    }
                }
            }
        })
        .unwrap();
}
