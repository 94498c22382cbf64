//! `/applications/{applicationId}/tokens[/{apiTokenId}]` (spec 1.1–1.3).

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;
use latchkey_core::audit::AuditEntry;
use latchkey_core::list::{bulk_query, TOKEN_LISTING};
use latchkey_core::model::{ApiToken, Application, Creator, CreatorType, Status, TokenOwnerType};
use latchkey_core::scope::{escalations, TargetOwner};
use latchkey_core::time::now_millis;
use latchkey_core::token::NewToken;
use latchkey_core::validate::{path_id, TokenPatch, TokenPost};
use latchkey_core::Id;
use latchkey_store::audit::token_written;
use latchkey_store::sql::Revocation;
use latchkey_store::{TokenUpdate, Updater};
use serde::Serialize;

use super::{action, as_str_pairs, body, json, query_pairs, ListMeta, PathParams, SUCCESS};
use crate::audit::{about, audited, draft, Origin, Request};
use crate::auth::Principal;
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TokenList<'a> {
    items: Vec<ApiToken<'a>>,
    #[serde(flatten)]
    meta: ListMeta<'a>,
    application_id: Id,
    owner_id: Id,
    owner_type: &'static str,
}

#[utoipa::path(
    get,
    path = "/applications/{applicationId}/tokens",
    operation_id = "listApiTokens",
    tag = "API Tokens",
    summary = "List an application's API tokens",
    params(crate::openapi::ApplicationPath, crate::openapi::TokenListQuery),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "One page of the application's API tokens.", body = crate::openapi::ApiTokens),
        crate::openapi::ApplicationErrors,
    ),
)]
pub async fn list(
    State(state): State<AppState>,
    principal: Principal,
    PathParams(application): PathParams<String>,
    RawQuery(query): RawQuery,
) -> ApiResult<Response> {
    let (application, _) = principal
        .authorize(&state, &application, &action("applicationApiTokens.get"))
        .await?;
    let pairs = query_pairs(&query);
    let query = TOKEN_LISTING.parse(as_str_pairs(&pairs))?;
    let page = state.store.list_tokens(application, &query).await?;
    let list = TokenList {
        items: page.items.iter().map(|token| token.to_wire()).collect(),
        meta: ListMeta::new(&query, page.items.len(), page.total_count),
        application_id: application,
        owner_id: application,
        owner_type: TokenOwnerType::Application.as_str(),
    };
    Ok(json(StatusCode::OK, &list))
}

/// `403` naming the scopes the caller may not hand out.
fn escalation<S: AsRef<str>>(withheld: &[S]) -> ApiError {
    let names: Vec<&str> = withheld.iter().map(AsRef::as_ref).collect();
    ApiError::forbidden(format!(
        "the token may not give scopes that grant more than it has itself: {}",
        names.join(", ")
    ))
}

#[utoipa::path(
    post,
    path = "/applications/{applicationId}/tokens",
    operation_id = "createApiToken",
    tag = "API Tokens",
    summary = "Create an API token",
    params(crate::openapi::ApplicationPath),
    request_body = crate::openapi::ApiTokenPost,
    security(("bearer" = [])),
    responses(
        (status = 201, description = "The new API token, with its secret.", body = crate::openapi::ApiTokenCreated),
        crate::openapi::ApplicationBodyErrors,
    ),
)]
pub async fn create(
    State(state): State<AppState>,
    principal: Principal,
    origin: Origin,
    PathParams(application): PathParams<String>,
    RawQuery(query): RawQuery,
    raw: Result<Bytes, BytesRejection>,
) -> ApiResult<Response> {
    let query = query_pairs(&query);
    let request = Request {
        resource: "applicationApiTokens",
        action: "post",
        path: &[("applicationId", &application)],
        query: &query,
        body: raw.as_ref().ok(),
    };
    let entry = draft(&principal, &origin, request);
    audited(&state, entry, async |audit| {
        let app = principal
            .authorize_loaded(&state, &application, &action("applicationApiTokens.post"))
            .await?;
        about(audit, &app);
        let now = now_millis();
        let post = TokenPost::parse(&body(raw)?, now)?;
        let withheld = escalations(&post.scope, &principal.token.scope, app.owner_type.as_target());
        if !withheld.is_empty() {
            return Err(escalation(&withheld));
        }
        let caller = &principal.token;
        let new = NewToken {
            owner_type: TokenOwnerType::Application,
            owner_id: app.id,
            creator: Creator {
                kind: CreatorType::ApiToken,
                id: caller.id,
                name: caller.name.clone(),
            },
            name: post.name,
            description: post.description,
            scope: post.scope,
            status: post.status,
            expiration_date: post.expiration_date,
        };
        let (record, secret) = state.keys.current().signer.issue(new, now);
        let entry = token_written(audit, 201, &record);
        state.store.insert_tokens(std::slice::from_ref(&record), &entry).await?;
        state.metrics.tokens_created.inc();
        Ok(json(StatusCode::CREATED, &record.to_wire_with_secret(&secret)))
    })
    .await
}

/// Parses both ids (400), then checks reach (404) and scope (403), in the spec's order.
async fn target(
    state: &AppState,
    principal: &Principal,
    (application, token): &(String, String),
    verb: &str,
) -> ApiResult<(Id, Id, TargetOwner)> {
    let token = path_id("apiTokenId", token)?;
    let (application, owner) = principal.authorize(state, application, &action(verb)).await?;
    Ok((application, token, owner))
}

/// [`target`] for a change: the application loaded, so the audit entry names it.
async fn change_target(
    state: &AppState,
    principal: &Principal,
    (application, token): &(String, String),
    verb: &str,
    audit: &mut AuditEntry,
) -> ApiResult<(Application, Id)> {
    let token = path_id("apiTokenId", token)?;
    let app = principal.authorize_loaded(state, application, &action(verb)).await?;
    about(audit, &app);
    Ok((app, token))
}

/// The draft entry of a change to one token.
fn token_draft(
    principal: &Principal,
    origin: &Origin,
    action: &'static str,
    (application, token): &(String, String),
    query: &Option<String>,
    body: Option<&Bytes>,
) -> AuditEntry {
    let query = query_pairs(query);
    let request = Request {
        resource: "applicationApiToken",
        action,
        path: &[("applicationId", application), ("apiTokenId", token)],
        query: &query,
        body,
    };
    draft(principal, origin, request)
}

#[utoipa::path(
    get,
    path = "/applications/{applicationId}/tokens/{apiTokenId}",
    operation_id = "getApiToken",
    tag = "API Tokens",
    summary = "Read an API token",
    params(crate::openapi::TokenPath),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The API token.", body = crate::openapi::ApiToken),
        crate::openapi::ApplicationErrors,
    ),
)]
pub async fn read(
    State(state): State<AppState>,
    principal: Principal,
    PathParams(ids): PathParams<(String, String)>,
) -> ApiResult<Response> {
    let (application, token, _) = target(&state, &principal, &ids, "applicationApiToken.get").await?;
    let record = state
        .store
        .token(application, token)
        .await?
        .ok_or_else(ApiError::token_not_found)?;
    Ok(json(StatusCode::OK, &record.to_wire()))
}

#[utoipa::path(
    patch,
    path = "/applications/{applicationId}/tokens/{apiTokenId}",
    operation_id = "updateApiToken",
    tag = "API Tokens",
    summary = "Change an API token's name, description or status",
    params(crate::openapi::TokenPath),
    request_body = crate::openapi::ApiTokenPatch,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The API token as changed.", body = crate::openapi::ApiToken),
        crate::openapi::ApplicationBodyErrors,
    ),
)]
pub async fn update(
    State(state): State<AppState>,
    principal: Principal,
    origin: Origin,
    PathParams(ids): PathParams<(String, String)>,
    RawQuery(query): RawQuery,
    raw: Result<Bytes, BytesRejection>,
) -> ApiResult<Response> {
    let entry = token_draft(&principal, &origin, "patch", &ids, &query, raw.as_ref().ok());
    audited(&state, entry, async |audit| {
        let (app, token) = change_target(&state, &principal, &ids, "applicationApiToken.patch", audit).await?;
        let patch = TokenPatch::parse(&body(raw)?)?;
        let updater = Updater {
            scope: principal.token.scope.clone(),
            owner: app.owner_type.as_target(),
        };
        // The store checks the escalation rule (spec section 5) on the row it
        // writes, so a concurrent change cannot slip between check and write.
        let updated = match state
            .store
            .update_token(app.id, token, &patch, &updater, now_millis(), audit)
            .await?
        {
            TokenUpdate::Updated(updated) => updated,
            TokenUpdate::NotFound => return Err(ApiError::token_not_found()),
            TokenUpdate::Escalation(withheld) => return Err(escalation(&withheld)),
        };
        state.auth.evict(&updated.digest);
        Ok(json(StatusCode::OK, &updated.to_wire()))
    })
    .await
}

#[utoipa::path(
    delete,
    path = "/applications/{applicationId}/tokens/{apiTokenId}",
    operation_id = "deleteApiToken",
    tag = "API Tokens",
    summary = "Delete (revoke) an API token",
    params(crate::openapi::TokenPath),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Deleted: the token stops working at once.", body = crate::openapi::Success),
        crate::openapi::ApplicationErrors,
    ),
)]
pub async fn delete(
    State(state): State<AppState>,
    principal: Principal,
    origin: Origin,
    PathParams(ids): PathParams<(String, String)>,
    RawQuery(query): RawQuery,
) -> ApiResult<Response> {
    let entry = token_draft(&principal, &origin, "delete", &ids, &query, None);
    audited(&state, entry, async |audit| {
        let (app, token) = change_target(&state, &principal, &ids, "applicationApiToken.delete", audit).await?;
        let deleted = state
            .store
            .delete_token(app.id, token, audit)
            .await?
            .ok_or_else(ApiError::token_not_found)?;
        state.auth.evict(&deleted.digest);
        Ok(json(StatusCode::OK, &SUCCESS))
    })
    .await
}

/// The answer to a bulk revocation.
#[derive(Serialize)]
struct Revoked {
    success: bool,
    /// How many tokens the call revoked.
    count: u64,
}

#[utoipa::path(
    patch,
    path = "/applications/{applicationId}/tokens",
    operation_id = "deactivateApiTokens",
    tag = "API Tokens",
    summary = "Deactivate every API token that matches a filter (a Latchkey extension)",
    description = "Sets every matching active token of the application inactive, in one transaction; every instance refuses them within 1 s. The body must be `{\"status\": \"inactive\"}`: tokens are activated, renamed or described one at a time. Needs `applicationApiToken.patch`. Without `filterField` and `filter`, `createdBefore` or `lastUsedBefore`, the call is refused unless it says `all=true`.",
    params(crate::openapi::ApplicationPath, crate::openapi::TokenBulkQuery),
    request_body = crate::openapi::ApiTokenBulkPatch,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "How many tokens this call deactivated (those already inactive are not counted).", body = crate::openapi::Revoked),
        crate::openapi::ApplicationBodyErrors,
    ),
)]
pub async fn deactivate_matching(
    State(state): State<AppState>,
    principal: Principal,
    origin: Origin,
    PathParams(application): PathParams<String>,
    RawQuery(query): RawQuery,
    raw: Result<Bytes, BytesRejection>,
) -> ApiResult<Response> {
    let bulk = Bulk {
        revocation: Revocation::Deactivate,
        application,
        query,
    };
    bulk.run(&state, &principal, &origin, Some(raw)).await
}

#[utoipa::path(
    delete,
    path = "/applications/{applicationId}/tokens",
    operation_id = "deleteApiTokens",
    tag = "API Tokens",
    summary = "Delete every API token that matches a filter (a Latchkey extension)",
    description = "Deletes every matching token of the application, in one transaction; every instance refuses them within 1 s. Needs `applicationApiToken.delete`. Without `filterField` and `filter`, `createdBefore` or `lastUsedBefore`, the call is refused unless it says `all=true`.",
    params(crate::openapi::ApplicationPath, crate::openapi::TokenBulkQuery),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "How many tokens this call deleted.", body = crate::openapi::Revoked),
        crate::openapi::ApplicationErrors,
    ),
)]
pub async fn delete_matching(
    State(state): State<AppState>,
    principal: Principal,
    origin: Origin,
    PathParams(application): PathParams<String>,
    RawQuery(query): RawQuery,
) -> ApiResult<Response> {
    let bulk = Bulk {
        revocation: Revocation::Delete,
        application,
        query,
    };
    bulk.run(&state, &principal, &origin, None).await
}

/// A bulk revocation as requested: both verbs share everything but the
/// action, the scope it needs and the PATCH body.
struct Bulk {
    revocation: Revocation,
    application: String,
    query: Option<String>,
}

impl Bulk {
    async fn run(
        self,
        state: &AppState,
        principal: &Principal,
        origin: &Origin,
        raw: Option<Result<Bytes, BytesRejection>>,
    ) -> ApiResult<Response> {
        let verb = match self.revocation {
            Revocation::Deactivate => "patch",
            Revocation::Delete => "delete",
        };
        let pairs = query_pairs(&self.query);
        let request = Request {
            resource: "applicationApiTokens",
            action: verb,
            path: &[("applicationId", &self.application)],
            query: &pairs,
            body: raw.as_ref().and_then(|raw| raw.as_ref().ok()),
        };
        let entry = draft(principal, origin, request);
        audited(state, entry, async |audit| {
            // The scope of the same action on one token: a bulk call can do
            // nothing that the caller could not do one token at a time.
            let scope = action(&format!("applicationApiToken.{verb}"));
            let app = principal.authorize_loaded(state, &self.application, &scope).await?;
            about(audit, &app);
            let query = bulk_query(as_str_pairs(&pairs))?;
            if let Some(raw) = raw {
                // Only deactivation: activating in bulk would skip the
                // escalation rule's check of each token's scopes.
                let patch = TokenPatch::parse(&body(raw)?)?;
                if patch.status != Some(Status::Inactive) || patch.name.is_some() || patch.description.is_some() {
                    return Err(ApiError::validation(
                        "a bulk PATCH takes only {\"status\": \"inactive\"}: tokens are activated, renamed or described one at a time",
                    ));
                }
            }
            let count = state
                .store
                .revoke_tokens(app.id, &query, self.revocation, now_millis(), audit)
                .await?
                .ok_or_else(ApiError::application_not_found)?;
            // Other instances forget them on reading the change log.
            state.auth.evict_application(app.id);
            Ok(json(StatusCode::OK, &Revoked { success: true, count }))
        })
        .await
    }
}
