//! The audit log (`schemas/auditLog.json`, `auditLogs.json`,
//! `auditLogFilter.json`): Losant's `audit_logs` and `audit_log` resources of
//! an organization, and the same for one application.

use chrono::{DateTime, Utc};
use reqwest::Method;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::client::Client;
use crate::error::Error;
use crate::models::{wire_date, Listing};
use crate::params::{QueryValue, SortDirection};
use crate::resources::{Pager, NONE};

/// One audit log entry: who changed, or tried to change, what, and what
/// they were told, every secret redacted.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AuditLog {
    /// The entry's id.
    pub id: String,
    /// When the request was made.
    #[serde(default, skip_serializing_if = "Option::is_none", with = "wire_date")]
    pub creation_date: Option<DateTime<Utc>>,
    /// The organization owning what was changed, when one does.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub org_id: Option<String>,
    /// What the request was about (Latchkey: the application).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub primary_target_id: Option<String>,
    /// The primary target's kind (`Application`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub primary_target_type: Option<String>,
    /// The primary target's name at the time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub primary_target_name: Option<String>,
    /// What within it (Latchkey: the API token).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secondary_target_id: Option<String>,
    /// The secondary target's kind (`ApiToken`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secondary_target_type: Option<String>,
    /// The secondary target's name at the time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secondary_target_name: Option<String>,
    /// Who acted; absent for the operator's own commands.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub actor_id: Option<String>,
    /// The actor's kind (`ApiToken`, `User`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub actor_type: Option<String>,
    /// The actor's name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub actor_name: Option<String>,
    /// Losant's name of the resource: `applicationApiTokens`, …
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_resource: Option<String>,
    /// Losant's name of the action: `post`, `patch`, `delete`, …
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_action: Option<String>,
    /// The status the request was answered with.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response_status: Option<u16>,
    /// Everything else the entry holds (the request and response bodies,
    /// parameters, the caller's address …), as the server sent it.
    #[serde(flatten, default, skip_serializing_if = "Map::is_empty")]
    pub extra: Map<String, Value>,
}

/// A page of audit log entries (`schemas/auditLogs.json`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AuditLogs {
    /// The entries of this page.
    pub items: Vec<AuditLog>,
    /// How many items this page holds.
    #[serde(default)]
    pub count: u64,
    /// How many entries match in all.
    #[serde(default)]
    pub total_count: u64,
    /// The page size.
    #[serde(default)]
    pub per_page: u64,
    /// This page's number, from 0.
    #[serde(default)]
    pub page: u64,
    /// The field sorted by.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sort_field: Option<String>,
    /// The sort direction.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sort_direction: Option<String>,
    /// The organization, for an organization's log.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub org_id: Option<String>,
    /// The application, for an application's log (Latchkey).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub application_id: Option<String>,
    /// Fields this model does not name, kept as the server sent them.
    #[serde(flatten, default, skip_serializing_if = "Map::is_empty")]
    pub extra: Map<String, Value>,
}

impl Listing for AuditLogs {
    type Item = AuditLog;
    fn into_items(self) -> Vec<AuditLog> {
        self.items
    }
    fn items(&self) -> &[AuditLog] {
        &self.items
    }
    fn page(&self) -> u64 {
        self.page
    }
    fn per_page(&self) -> u64 {
        self.per_page
    }
    fn count(&self) -> u64 {
        self.items.len() as u64
    }
    fn total_count(&self) -> u64 {
        self.total_count
    }
    fn absorb(&mut self, later: Self) {
        self.items.extend(later.items);
        self.count = self.items.len() as u64;
    }
}

crate::params::query_enum!(
    /// What an audit log listing is sorted by.
    AuditSortField {
        /// By creation date (the default, newest first).
        CreationDate => "creationDate",
        /// By the status the request was answered with.
        ResponseStatus => "responseStatus",
        /// By the actor's name.
        ActorName => "actorName",
    }
);

/// An item of a target or actor filter: every field set must match.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditMatch {
    /// The id.
    pub id: Option<String>,
    /// The kind: `Application`, `ApiToken`, `User`, …
    pub kind: Option<String>,
    /// The name.
    pub name: Option<String>,
}

/// An item of a request filter: every field set must match.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RequestMatch {
    /// Losant's resource name: `applicationApiTokens`, …
    pub resource: Option<String>,
    /// Losant's action name: `post`, …
    pub action: Option<String>,
}

/// `auditLogFilter`: items of one kind are alternatives, kinds must all
/// match; an empty kind does not filter.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditLogFilter {
    /// By what the entry is about (the application).
    pub primary_target: Vec<AuditMatch>,
    /// By what within it (the API token).
    pub secondary_target: Vec<AuditMatch>,
    /// By who acted.
    pub actor: Vec<AuditMatch>,
    /// By what was asked.
    pub request: Vec<RequestMatch>,
    /// By the status answered.
    pub response_code: Vec<u16>,
}

/// Parameters of an audit log listing; `None` leaves one to the server's
/// default (newest first, 100 a page, no time bound).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditLogListParams {
    /// What to sort by.
    pub sort_field: Option<AuditSortField>,
    /// Which way.
    pub sort_direction: Option<SortDirection>,
    /// Which page, from 0.
    pub page: Option<u64>,
    /// Items per page, 1 to 1000.
    pub per_page: Option<u32>,
    /// Only entries made at or after this instant.
    pub start: Option<DateTime<Utc>>,
    /// Only entries made at or before this instant.
    pub end: Option<DateTime<Utc>>,
    /// Which entries.
    pub filter: AuditLogFilter,
}

/// `auditLogFilter[kind][index][field]=value` pairs for each set field.
fn bracketed<'a>(
    kind: &str,
    items: impl IntoIterator<Item = Vec<(&'a str, &'a Option<String>)>>,
) -> Vec<(String, String)> {
    let mut pairs = Vec::new();
    for (index, fields) in items.into_iter().enumerate() {
        for (field, value) in fields {
            if let Some(value) = value {
                pairs.push((format!("auditLogFilter[{kind}][{index}][{field}]"), value.clone()));
            }
        }
    }
    pairs
}

/// The fields of target or actor filter items, by their wire names.
fn named(items: &[AuditMatch]) -> Vec<Vec<(&str, &Option<String>)>> {
    items
        .iter()
        .map(|item| vec![("id", &item.id), ("type", &item.kind), ("name", &item.name)])
        .collect()
}

/// Owned query pairs as the client sends them.
fn borrowed(query: &[(String, String)]) -> Vec<(&str, String)> {
    query.iter().map(|(key, value)| (key.as_str(), value.clone())).collect()
}

impl AuditLogListParams {
    /// No parameters: the server's defaults.
    pub fn new() -> Self {
        Self::default()
    }

    /// The query-string pairs, the filter in the bracket notation Losant's
    /// clients send.
    pub(crate) fn to_query(&self) -> Vec<(String, String)> {
        let mut query: Vec<(String, String)> = Vec::new();
        let mut push = |key: &str, value: String| query.push((key.to_string(), value));
        if let Some(field) = self.sort_field {
            push("sortField", field.as_str().to_string());
        }
        if let Some(direction) = self.sort_direction {
            push("sortDirection", direction.as_str().to_string());
        }
        if let Some(page) = self.page {
            push("page", page.to_string());
        }
        if let Some(per_page) = self.per_page {
            push("perPage", per_page.to_string());
        }
        if let Some(start) = self.start {
            push("start", start.timestamp_millis().to_string());
        }
        if let Some(end) = self.end {
            push("end", end.timestamp_millis().to_string());
        }
        let filter = &self.filter;
        query.extend(bracketed("primaryTarget", named(&filter.primary_target)));
        query.extend(bracketed("secondaryTarget", named(&filter.secondary_target)));
        query.extend(bracketed("actor", named(&filter.actor)));
        let requests = filter
            .request
            .iter()
            .map(|item| vec![("resource", &item.resource), ("action", &item.action)]);
        query.extend(bracketed("request", requests));
        for (index, code) in filter.response_code.iter().enumerate() {
            query.push((format!("auditLogFilter[responseCode][{index}]"), code.to_string()));
        }
        query
    }
}

/// `/orgs/{orgId}/audit-logs`
#[derive(Debug, Clone, Copy)]
pub struct AuditLogsResource<'a> {
    client: &'a Client,
}

impl<'a> AuditLogsResource<'a> {
    pub(crate) fn new(client: &'a Client) -> Self {
        AuditLogsResource { client }
    }

    /// Returns the audit logs for the organization, one page.
    pub async fn get(&self, org_id: &str, params: &AuditLogListParams) -> Result<AuditLogs, Error> {
        let path = ["orgs", org_id, "audit-logs"];
        self.client
            .send(Method::GET, &path, &borrowed(&params.to_query()), NONE)
            .await
    }

    /// Walks every page of the listing from `params.page` (or 0) on.
    pub fn pager(&self, org_id: &str, params: &AuditLogListParams) -> Pager<'a, AuditLogs> {
        let segments = vec!["orgs".to_string(), org_id.to_string(), "audit-logs".to_string()];
        Pager::new(self.client, segments, params.to_query(), params.page.unwrap_or(0))
    }
}

/// `/orgs/{orgId}/audit-logs/{auditLogId}`
#[derive(Debug, Clone, Copy)]
pub struct AuditLogResource<'a> {
    client: &'a Client,
}

impl<'a> AuditLogResource<'a> {
    pub(crate) fn new(client: &'a Client) -> Self {
        AuditLogResource { client }
    }

    /// Retrieves one entry of the organization's audit log.
    pub async fn get(&self, org_id: &str, audit_log_id: &str) -> Result<AuditLog, Error> {
        let path = ["orgs", org_id, "audit-logs", audit_log_id];
        self.client.send(Method::GET, &path, &[], NONE).await
    }
}

/// `/applications/{applicationId}/audit-logs` (Latchkey's).
#[derive(Debug, Clone, Copy)]
pub struct ApplicationAuditLogsResource<'a> {
    client: &'a Client,
}

impl<'a> ApplicationAuditLogsResource<'a> {
    pub(crate) fn new(client: &'a Client) -> Self {
        ApplicationAuditLogsResource { client }
    }

    /// Returns the entries about one application, one page.
    pub async fn get(&self, application_id: &str, params: &AuditLogListParams) -> Result<AuditLogs, Error> {
        let path = ["applications", application_id, "audit-logs"];
        self.client
            .send(Method::GET, &path, &borrowed(&params.to_query()), NONE)
            .await
    }

    /// Walks every page of the listing from `params.page` (or 0) on.
    pub fn pager(&self, application_id: &str, params: &AuditLogListParams) -> Pager<'a, AuditLogs> {
        let segments = vec![
            "applications".to_string(),
            application_id.to_string(),
            "audit-logs".to_string(),
        ];
        Pager::new(self.client, segments, params.to_query(), params.page.unwrap_or(0))
    }
}

/// `/applications/{applicationId}/audit-logs/{auditLogId}` (Latchkey's).
#[derive(Debug, Clone, Copy)]
pub struct ApplicationAuditLogResource<'a> {
    client: &'a Client,
}

impl<'a> ApplicationAuditLogResource<'a> {
    pub(crate) fn new(client: &'a Client) -> Self {
        ApplicationAuditLogResource { client }
    }

    /// Retrieves one entry about the application.
    pub async fn get(&self, application_id: &str, audit_log_id: &str) -> Result<AuditLog, Error> {
        let path = ["applications", application_id, "audit-logs", audit_log_id];
        self.client.send(Method::GET, &path, &[], NONE).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_filter_in_bracket_notation() {
        let params = AuditLogListParams {
            sort_field: Some(AuditSortField::ActorName),
            start: DateTime::from_timestamp_millis(1_465_790_400_000),
            filter: AuditLogFilter {
                primary_target: vec![AuditMatch {
                    kind: Some("Application".into()),
                    id: Some("575ec8687ae143cd83dc4a97".into()),
                    ..Default::default()
                }],
                actor: vec![
                    AuditMatch {
                        name: Some("ingest".into()),
                        ..Default::default()
                    },
                    AuditMatch {
                        kind: Some("User".into()),
                        ..Default::default()
                    },
                ],
                request: vec![RequestMatch {
                    action: Some("post".into()),
                    resource: None,
                }],
                response_code: vec![403, 404],
                ..Default::default()
            },
            ..Default::default()
        };
        let query: Vec<(String, String)> = params.to_query();
        let expected = [
            ("sortField", "actorName"),
            ("start", "1465790400000"),
            ("auditLogFilter[primaryTarget][0][id]", "575ec8687ae143cd83dc4a97"),
            ("auditLogFilter[primaryTarget][0][type]", "Application"),
            ("auditLogFilter[actor][0][name]", "ingest"),
            ("auditLogFilter[actor][1][type]", "User"),
            ("auditLogFilter[request][0][action]", "post"),
            ("auditLogFilter[responseCode][0]", "403"),
            ("auditLogFilter[responseCode][1]", "404"),
        ];
        let expected: Vec<(String, String)> = expected
            .iter()
            .map(|(key, value)| (key.to_string(), value.to_string()))
            .collect();
        assert_eq!(query, expected);
        assert!(AuditLogListParams::new().to_query().is_empty());
    }

    #[test]
    fn decodes_an_entry_keeping_what_it_does_not_name() {
        let entry: AuditLog = serde_json::from_str(
            r#"{"id":"575ec8687ae143cd83dc4a97","auditLogId":"575ec8687ae143cd83dc4a97",
                "creationDate":"2016-06-13T04:00:00.000Z","actorName":"latchkey admin",
                "requestResource":"applications","requestAction":"post","responseStatus":201,
                "requestBody":{"name":"x"},"sourceIp":"127.0.0.1"}"#,
        )
        .unwrap();
        assert_eq!(entry.response_status, Some(201));
        assert_eq!(entry.extra["requestBody"]["name"], "x");
        assert_eq!(entry.extra["sourceIp"], "127.0.0.1");
    }
}
