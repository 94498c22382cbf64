//! `/applications[/{applicationId}]` (spec 1.4): just enough to own tokens.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;
use latchkey_core::audit::AuditEntry;
use latchkey_core::list::{Page, APPLICATION_LISTING};
use latchkey_core::model::{AppOwnerType, Application};
use latchkey_core::scope::TargetOwner;
use latchkey_core::time::now_millis;
use latchkey_core::validate::{path_id, ApplicationPatch, ApplicationPost, Invalid};
use latchkey_core::Id;
use latchkey_store::audit::application_written;
use serde::Serialize;

use super::{action, as_str_pairs, body, json, query_pairs, ListMeta, PathParams, SUCCESS};
use crate::audit::{about, audited, draft, Origin, Request};
use crate::auth::{Principal, Reach};
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

#[derive(Serialize)]
struct ApplicationList<'a> {
    items: &'a [Application],
    #[serde(flatten)]
    meta: ListMeta<'a>,
}

/// Listing and creating applications are account-level actions that only
/// user tokens hold; an application token gets 403. Returns the user and
/// the organizations the user belongs to.
fn require_user<'a>(principal: &'a Principal, verb: &str, owner: TargetOwner) -> ApiResult<(Id, &'a [Id])> {
    match &principal.reach {
        Reach::Application { .. } => Err(ApiError::forbidden(format!(
            "{verb} needs a user token; application tokens cannot manage applications"
        ))),
        Reach::User { user, organizations } => {
            principal.require(&action(verb), owner)?;
            Ok((*user, organizations))
        }
    }
}

/// Whose applications a listing shows, by Losant's `orgId` parameter: absent,
/// all the caller reaches; blank, the user's own; an id, that organization's
/// (none when the user is not a member).
fn listed_owners(user: Id, organizations: &[Id], org: Option<&str>) -> ApiResult<Vec<Id>> {
    match org.map(str::trim) {
        None => Ok(std::iter::once(user).chain(organizations.iter().copied()).collect()),
        Some("") => Ok(vec![user]),
        Some(org) => {
            let org = path_id("orgId", org)?;
            Ok(organizations
                .iter()
                .copied()
                .filter(|member_of| *member_of == org)
                .collect())
        }
    }
}

#[utoipa::path(
    get,
    path = "/applications",
    operation_id = "listApplications",
    tag = "Applications",
    summary = "List the applications the caller reaches",
    params(crate::openapi::ApplicationListQuery),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "One page of applications.", body = crate::openapi::Applications),
        (status = 400, response = crate::openapi::BadRequest),
        (status = 401, response = crate::openapi::Unauthorized),
        (status = 403, response = crate::openapi::Forbidden),
        (status = 429, response = crate::openapi::TooManyRequests),
        (status = 503, response = crate::openapi::Unavailable),
    ),
)]
pub async fn list(
    State(state): State<AppState>,
    principal: Principal,
    RawQuery(query): RawQuery,
) -> ApiResult<Response> {
    let (user, organizations) = require_user(&principal, "applications.get", TargetOwner::User)?;
    let pairs = query_pairs(&query);
    let query = APPLICATION_LISTING.parse(as_str_pairs(&pairs))?;
    let org = pairs
        .iter()
        .find(|(key, _)| key == "orgId")
        .map(|(_, value)| value.as_str());
    let owners = listed_owners(user, organizations, org)?;
    let page = match owners.is_empty() {
        true => Page {
            items: Vec::new(),
            total_count: 0,
        },
        false => state.store.list_applications(&owners, &query).await?,
    };
    let list = ApplicationList {
        items: &page.items,
        meta: ListMeta::new(&query, page.items.len(), page.total_count),
    };
    Ok(json(StatusCode::OK, &list))
}

#[utoipa::path(
    post,
    path = "/applications",
    operation_id = "createApplication",
    tag = "Applications",
    summary = "Create an application",
    request_body = crate::openapi::ApplicationPost,
    security(("bearer" = [])),
    responses(
        (status = 201, description = "The new application.", body = crate::openapi::Application),
        (status = 400, response = crate::openapi::BadRequest),
        (status = 401, response = crate::openapi::Unauthorized),
        (status = 403, response = crate::openapi::Forbidden),
        (status = 413, response = crate::openapi::PayloadTooLarge),
        (status = 429, response = crate::openapi::TooManyRequests),
        (status = 503, response = crate::openapi::Unavailable),
    ),
)]
pub async fn create(
    State(state): State<AppState>,
    principal: Principal,
    origin: Origin,
    RawQuery(query): RawQuery,
    raw: Result<Bytes, BytesRejection>,
) -> ApiResult<Response> {
    let query = query_pairs(&query);
    let request = Request {
        resource: "applications",
        action: "post",
        path: &[],
        query: &query,
        body: raw.as_ref().ok(),
    };
    audited(&state, draft(&principal, &origin, request), async |audit| {
        let post = ApplicationPost::parse(&body(raw)?);
        let owner = match &post {
            Ok(ApplicationPost { org_id: Some(_), .. }) => TargetOwner::Organization,
            _ => TargetOwner::User,
        };
        let (user, organizations) = require_user(&principal, "applications.post", owner)?;
        let post = post?;
        let (owner_type, owner_id) = match post.org_id {
            None => (AppOwnerType::User, user),
            Some(org) if organizations.contains(&org) => (AppOwnerType::Organization, org),
            Some(_) => return Err(Invalid::new("orgId must name an organization you are a member of").into()),
        };
        let now = now_millis();
        let app = Application {
            id: Id::generate(now / 1000),
            name: post.name,
            description: post.description,
            owner_type,
            owner_id,
            creation_date: now,
            last_updated: now,
        };
        about(audit, &app);
        state
            .store
            .create_application(&app, &application_written(audit, 201, &app))
            .await?;
        Ok(json(StatusCode::CREATED, &app))
    })
    .await
}

/// The draft entry of a change to one application.
fn application_draft(
    principal: &Principal,
    origin: &Origin,
    action: &'static str,
    application: &str,
    query: &Option<String>,
    body: Option<&Bytes>,
) -> AuditEntry {
    let query = query_pairs(query);
    let request = Request {
        resource: "application",
        action,
        path: &[("applicationId", application)],
        query: &query,
        body,
    };
    draft(principal, origin, request)
}

#[utoipa::path(
    get,
    path = "/applications/{applicationId}",
    operation_id = "getApplication",
    tag = "Applications",
    summary = "Read an application",
    params(crate::openapi::ApplicationPath),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The application.", body = crate::openapi::Application),
        crate::openapi::ApplicationErrors,
    ),
)]
pub async fn read(
    State(state): State<AppState>,
    principal: Principal,
    PathParams(application): PathParams<String>,
) -> ApiResult<Response> {
    let app = principal
        .authorize_loaded(&state, &application, &action("application.get"))
        .await?;
    Ok(json(StatusCode::OK, &app))
}

#[utoipa::path(
    patch,
    path = "/applications/{applicationId}",
    operation_id = "updateApplication",
    tag = "Applications",
    summary = "Rename an application",
    params(crate::openapi::ApplicationPath),
    request_body = crate::openapi::ApplicationPatch,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The application as changed.", body = crate::openapi::Application),
        crate::openapi::ApplicationBodyErrors,
    ),
)]
pub async fn update(
    State(state): State<AppState>,
    principal: Principal,
    origin: Origin,
    PathParams(application): PathParams<String>,
    RawQuery(query): RawQuery,
    raw: Result<Bytes, BytesRejection>,
) -> ApiResult<Response> {
    let entry = application_draft(&principal, &origin, "patch", &application, &query, raw.as_ref().ok());
    audited(&state, entry, async |audit| {
        let app = principal
            .authorize_loaded(&state, &application, &action("application.patch"))
            .await?;
        about(audit, &app);
        let patch = ApplicationPatch::parse(&body(raw)?)?;
        let updated = state
            .store
            .update_application(app.id, &patch, now_millis(), audit)
            .await?
            .ok_or_else(ApiError::application_not_found)?;
        Ok(json(StatusCode::OK, &updated))
    })
    .await
}

#[utoipa::path(
    delete,
    path = "/applications/{applicationId}",
    operation_id = "deleteApplication",
    tag = "Applications",
    summary = "Delete an application and its tokens",
    params(crate::openapi::ApplicationPath),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Deleted, with its tokens, which stop working at once.", body = crate::openapi::Success),
        crate::openapi::ApplicationErrors,
    ),
)]
pub async fn delete(
    State(state): State<AppState>,
    principal: Principal,
    origin: Origin,
    PathParams(application): PathParams<String>,
    RawQuery(query): RawQuery,
) -> ApiResult<Response> {
    let entry = application_draft(&principal, &origin, "delete", &application, &query, None);
    audited(&state, entry, async |audit| {
        let app = principal
            .authorize_loaded(&state, &application, &action("application.delete"))
            .await?;
        about(audit, &app);
        if !state.store.delete_application(app.id, audit).await? {
            return Err(ApiError::application_not_found());
        }
        state.auth.evict_application(app.id);
        Ok(json(StatusCode::OK, &SUCCESS))
    })
    .await
}
