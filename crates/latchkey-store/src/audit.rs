//! The audit log as both SQL backends keep it: one row per entry, with the
//! columns its listings filter and sort on, and the entry's whole wire form
//! (`document`), written once and never changed.
//!
//! A change's entry is inserted by the store in the change's own
//! transaction, so no change is acknowledged without its entry and no entry
//! outlives a change that did not commit. The caller hands the store the
//! entry as far as it is known before the write (who, what, the request);
//! the store completes it with what the write found ([`token_written`],
//! [`application_written`], [`succeeded`]).

use latchkey_core::audit::{redact, AuditEntry, Named, TargetType};
use latchkey_core::model::{Application, TokenRecord};
use serde::Serialize;
use serde_json::{json, Value};

/// Schema of the audit log, the same on both backends.
pub const AUDIT_SCHEMA: &str = "
CREATE TABLE audit_logs (
    id TEXT PRIMARY KEY,
    created_at BIGINT NOT NULL,
    org_id TEXT,
    primary_target_id TEXT,
    primary_target_type TEXT,
    primary_target_name TEXT,
    secondary_target_id TEXT,
    secondary_target_type TEXT,
    secondary_target_name TEXT,
    actor_id TEXT,
    actor_type TEXT,
    actor_name TEXT NOT NULL,
    request_resource TEXT NOT NULL,
    request_action TEXT NOT NULL,
    response_status INTEGER NOT NULL,
    document TEXT NOT NULL
);
-- One index per sort order of each scope's listing (audit_list.rs); ties
-- are broken by id in the sort's direction, so each serves both directions.
CREATE INDEX audit_logs_by_org ON audit_logs(org_id, created_at, id);
CREATE INDEX audit_logs_by_org_status ON audit_logs(org_id, response_status, id);
CREATE INDEX audit_logs_by_org_actor ON audit_logs(org_id, actor_name, id);
CREATE INDEX audit_logs_by_application ON audit_logs(primary_target_id, created_at, id);
CREATE INDEX audit_logs_by_application_status ON audit_logs(primary_target_id, response_status, id);
CREATE INDEX audit_logs_by_application_actor ON audit_logs(primary_target_id, actor_name, id);
CREATE INDEX audit_logs_by_age ON audit_logs(created_at);
";

/// The columns [`AuditRow`] fills, in its order.
const COLUMNS: &str = "id, created_at, org_id, primary_target_id, primary_target_type, primary_target_name, \
    secondary_target_id, secondary_target_type, secondary_target_name, actor_id, actor_type, actor_name, \
    request_resource, request_action, response_status, document";

/// Inserts one entry: the values of an [`AuditRow`], in its order.
pub fn insert_sql(placeholder: fn(usize) -> String) -> String {
    let values: Vec<String> = (1..=16).map(placeholder).collect();
    format!("INSERT INTO audit_logs ({COLUMNS}) VALUES ({})", values.join(", "))
}

/// Deletes up to a number of entries created before a time, oldest first:
/// `created_at` bound (placeholder 1), batch size (placeholder 2).
pub fn prune_sql(placeholder: fn(usize) -> String) -> String {
    format!(
        "DELETE FROM audit_logs WHERE id IN \
         (SELECT id FROM audit_logs WHERE created_at < {} ORDER BY created_at LIMIT {})",
        placeholder(1),
        placeholder(2)
    )
}

/// An entry as the values of one row, ready to bind in [`insert_sql`]'s order.
pub struct AuditRow {
    pub id: String,
    pub created_at: i64,
    pub org_id: Option<String>,
    pub primary_target: [Option<String>; 3],
    pub secondary_target: [Option<String>; 3],
    pub actor_id: Option<String>,
    pub actor_type: Option<String>,
    pub actor_name: String,
    pub request_resource: String,
    pub request_action: String,
    pub response_status: i32,
    pub document: String,
}

/// The id, type and name of a target, or three `None`s.
fn target_columns(target: &Option<Named<TargetType>>) -> [Option<String>; 3] {
    match target {
        Some(target) => [
            Some(target.id.to_string()),
            Some(target.kind.as_str().to_string()),
            Some(target.name.clone()),
        ],
        None => [None, None, None],
    }
}

impl AuditRow {
    pub fn new(entry: &AuditEntry) -> AuditRow {
        AuditRow {
            id: entry.id.to_string(),
            created_at: entry.creation_date,
            org_id: entry.org_id.map(|org| org.to_string()),
            primary_target: target_columns(&entry.application),
            secondary_target: target_columns(&entry.token),
            actor_id: entry.actor.as_ref().map(|actor| actor.id.to_string()),
            actor_type: entry.actor.as_ref().map(|actor| actor.kind.as_str().to_string()),
            actor_name: entry.actor_name().to_string(),
            request_resource: entry.request_resource.clone(),
            request_action: entry.request_action.clone(),
            response_status: i32::from(entry.response_status),
            document: serde_json::to_string(entry).expect("an audit entry serializes"),
        }
    }
}

/// `body` as an entry keeps it: JSON, with every secret redacted.
pub fn kept<T: Serialize>(body: &T) -> Value {
    redact(serde_json::to_value(body).expect("wire forms serialize"))
}

fn token_target(token: &TokenRecord) -> Option<Named<TargetType>> {
    Some(Named {
        kind: TargetType::ApiToken,
        id: token.id,
        name: token.name.clone(),
    })
}

/// `template` completed by a write that answered `status` with `token`
/// (never its secret).
pub fn token_written(template: &AuditEntry, status: u16, token: &TokenRecord) -> AuditEntry {
    AuditEntry {
        token: token_target(token),
        response_status: status,
        response_body: kept(&token.to_wire()),
        ..template.clone()
    }
}

/// `template` completed by the deletion of `token`.
pub fn token_deleted(template: &AuditEntry, token: &TokenRecord) -> AuditEntry {
    AuditEntry {
        token: token_target(token),
        ..succeeded(template)
    }
}

fn application_target(application: &Application) -> Option<Named<TargetType>> {
    Some(Named {
        kind: TargetType::Application,
        id: application.id,
        name: application.name.clone(),
    })
}

/// `template` completed by a write that answered `status` with `application`.
pub fn application_written(template: &AuditEntry, status: u16, application: &Application) -> AuditEntry {
    AuditEntry {
        application: application_target(application),
        response_status: status,
        response_body: kept(application),
        ..template.clone()
    }
}

/// `template` completed by the deletion of `application`.
pub fn application_deleted(template: &AuditEntry, application: &Application) -> AuditEntry {
    AuditEntry {
        application: application_target(application),
        ..succeeded(template)
    }
}

/// `template` completed by a bulk revocation that revoked `count` tokens:
/// the body it answered, `{"success": true, "count": N}`.
pub fn tokens_revoked(template: &AuditEntry, count: u64) -> AuditEntry {
    AuditEntry {
        response_status: 200,
        response_body: json!({"success": true, "count": count}),
        ..template.clone()
    }
}

/// `template` completed by a write that answered `200 {"success": true}`.
pub fn succeeded(template: &AuditEntry) -> AuditEntry {
    AuditEntry {
        response_status: 200,
        response_body: json!({"success": true}),
        ..template.clone()
    }
}
