//! Reading the audit log: Losant's `/orgs/{orgId}/audit-logs[/{auditLogId}]`,
//! and the same for one application's entries under
//! `/applications/{applicationId}/audit-logs`.
//!
//! Only user tokens read it. An organization's log is for its members: for
//! anyone else the organization does not exist (`404`), as Losant answers
//! for what a caller cannot reach. An application's log is for the user
//! tokens that reach the application.

use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;
use latchkey_core::audit_list::AuditQuery;
use latchkey_core::scope::TargetOwner;
use latchkey_core::validate::path_id;
use latchkey_core::Id;
use latchkey_store::{AuditDocument, AuditScope};
use serde::Serialize;

use super::{action, as_str_pairs, json, query_pairs, PathParams};
use crate::auth::{Principal, Reach};
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

/// One page of entries (`schemas/auditLogs.json`).
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct AuditLogs {
    items: Vec<AuditDocument>,
    count: usize,
    total_count: u64,
    per_page: u32,
    page: u64,
    sort_field: &'static str,
    sort_direction: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    org_id: Option<Id>,
    #[serde(skip_serializing_if = "Option::is_none")]
    application_id: Option<Id>,
}

/// The organization named by the path, checked in the spec's order: the
/// id's shape (400), reach (404: the caller is a user token of one of its
/// members), scope (403).
fn organization(principal: &Principal, org: &str, verb: &str) -> ApiResult<Id> {
    let org = path_id("orgId", org)?;
    match &principal.reach {
        Reach::User { organizations, .. } if organizations.contains(&org) => {}
        _ => return Err(ApiError::not_found("Organization was not found")),
    }
    principal.require(&action(verb), TargetOwner::Organization)?;
    Ok(org)
}

/// The application named by the path: its id's shape (400), reach (404),
/// scope (403), then a user token (403).
async fn application(state: &AppState, principal: &Principal, application: &str, verb: &str) -> ApiResult<Id> {
    let (application, _) = principal.authorize(state, application, &action(verb)).await?;
    match principal.reach {
        Reach::User { .. } => Ok(application),
        Reach::Application { .. } => Err(ApiError::forbidden(
            "an application's audit log is read with a user token, not an application's",
        )),
    }
}

/// A page of `scope`'s entries as the query string asks.
async fn list(state: &AppState, scope: AuditScope, query: &Option<String>) -> ApiResult<Response> {
    let pairs = query_pairs(query);
    let query = AuditQuery::parse(as_str_pairs(&pairs))?;
    let page = state.store.list_audit_logs(scope, &query).await?;
    let (org_id, application_id) = match scope {
        AuditScope::Organization(org) => (Some(org), None),
        AuditScope::Application(application) => (None, Some(application)),
    };
    let list = AuditLogs {
        count: page.items.len(),
        items: page.items,
        total_count: page.total_count,
        per_page: query.per_page,
        page: query.page,
        sort_field: query.sort_field.as_str(),
        sort_direction: query.sort_direction.as_str(),
        org_id,
        application_id,
    };
    Ok(json(StatusCode::OK, &list))
}

/// The entry `id` of `scope`, or `404`.
async fn read(state: &AppState, scope: AuditScope, id: Id) -> ApiResult<Response> {
    let entry = state
        .store
        .audit_entry(scope, id)
        .await?
        .ok_or_else(|| ApiError::not_found("Audit log was not found"))?;
    Ok(json(StatusCode::OK, &entry))
}

#[utoipa::path(
    get,
    path = "/orgs/{orgId}/audit-logs",
    operation_id = "listAuditLogs",
    tag = "Audit Logs",
    summary = "List an organization's audit log",
    params(crate::openapi::OrgPath, crate::openapi::AuditLogListQuery),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "One page of the organization's audit log entries.", body = crate::openapi::AuditLogs),
        crate::openapi::ApplicationErrors,
    ),
)]
pub async fn org_list(
    State(state): State<AppState>,
    principal: Principal,
    PathParams(org): PathParams<String>,
    RawQuery(query): RawQuery,
) -> ApiResult<Response> {
    let org = organization(&principal, &org, "auditLogs.get")?;
    list(&state, AuditScope::Organization(org), &query).await
}

#[utoipa::path(
    get,
    path = "/orgs/{orgId}/audit-logs/{auditLogId}",
    operation_id = "getAuditLog",
    tag = "Audit Logs",
    summary = "Read one entry of an organization's audit log",
    params(crate::openapi::OrgAuditLogPath),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The audit log entry.", body = crate::openapi::AuditLog),
        crate::openapi::ApplicationErrors,
    ),
)]
pub async fn org_read(
    State(state): State<AppState>,
    principal: Principal,
    PathParams((org, entry)): PathParams<(String, String)>,
) -> ApiResult<Response> {
    let entry = path_id("auditLogId", &entry)?;
    let org = organization(&principal, &org, "auditLog.get")?;
    read(&state, AuditScope::Organization(org), entry).await
}

#[utoipa::path(
    get,
    path = "/applications/{applicationId}/audit-logs",
    operation_id = "listApplicationAuditLogs",
    tag = "Audit Logs",
    summary = "List the audit log entries about one application",
    params(crate::openapi::ApplicationPath, crate::openapi::AuditLogListQuery),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "One page of the entries whose primary target is the application.", body = crate::openapi::AuditLogs),
        crate::openapi::ApplicationErrors,
    ),
)]
pub async fn application_list(
    State(state): State<AppState>,
    principal: Principal,
    PathParams(id): PathParams<String>,
    RawQuery(query): RawQuery,
) -> ApiResult<Response> {
    let id = application(&state, &principal, &id, "auditLogs.get").await?;
    list(&state, AuditScope::Application(id), &query).await
}

#[utoipa::path(
    get,
    path = "/applications/{applicationId}/audit-logs/{auditLogId}",
    operation_id = "getApplicationAuditLog",
    tag = "Audit Logs",
    summary = "Read one audit log entry about an application",
    params(crate::openapi::ApplicationAuditLogPath),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The audit log entry.", body = crate::openapi::AuditLog),
        crate::openapi::ApplicationErrors,
    ),
)]
pub async fn application_read(
    State(state): State<AppState>,
    principal: Principal,
    PathParams((id, entry)): PathParams<(String, String)>,
) -> ApiResult<Response> {
    let entry = path_id("auditLogId", &entry)?;
    let id = application(&state, &principal, &id, "auditLog.get").await?;
    read(&state, AuditScope::Application(id), entry).await
}
