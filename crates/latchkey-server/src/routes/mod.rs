//! The routes of spec section 1, and what every handler needs to read a request.

mod applications;
mod introspect;
mod jwks;
mod operations;
mod tokens;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, FromRequestParts, Path};
use axum::http::request::Parts;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use latchkey_core::scope::Action;
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

/// Bodies larger than this are refused with `413`.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/applications", get(applications::list).post(applications::create))
        .route(
            "/applications/{applicationId}",
            get(applications::read)
                .patch(applications::update)
                .delete(applications::delete),
        )
        .route(
            "/applications/{applicationId}/tokens",
            get(tokens::list).post(tokens::create),
        )
        .route(
            "/applications/{applicationId}/tokens/{apiTokenId}",
            get(tokens::read).patch(tokens::update).delete(tokens::delete),
        )
        .route("/auth/introspect", get(introspect::introspect))
        .route("/.well-known/jwks.json", get(jwks::jwks))
        .route("/health", get(operations::health))
        .route("/ready", get(operations::ready))
        .route("/metrics", get(operations::metrics))
        .fallback(|| async { ApiError::not_found("no such endpoint") })
        .method_not_allowed_fallback(|| async { ApiError::method_not_allowed() })
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(state)
}

fn action(text: &str) -> Action {
    Action::parse(text).expect("route actions are well-formed")
}

/// Path segments, refused as `400 Validation` JSON when they cannot be
/// decoded (a bad percent-escape, say) instead of axum's plain-text reply.
pub struct PathParams<T>(pub T);

impl<S, T> FromRequestParts<S> for PathParams<T>
where
    T: DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> ApiResult<PathParams<T>> {
        match Path::<T>::from_request_parts(parts, state).await {
            Ok(Path(params)) => Ok(PathParams(params)),
            Err(rejection) => Err(ApiError::validation(format!(
                "the path cannot be read: {}",
                rejection.body_text()
            ))),
        }
    }
}

/// The request body, or `413` when it was over the limit.
fn body(body: Result<Bytes, BytesRejection>) -> ApiResult<Bytes> {
    body.map_err(|rejection| match rejection.status() {
        StatusCode::PAYLOAD_TOO_LARGE => ApiError::payload_too_large(),
        _ => ApiError::validation(format!("the request body could not be read: {rejection}")),
    })
}

/// The decoded pairs of a query string.
fn query_pairs(query: &Option<String>) -> Vec<(String, String)> {
    query
        .as_deref()
        .map(|query| form_urlencoded::parse(query.as_bytes()).into_owned().collect())
        .unwrap_or_default()
}

fn as_str_pairs(pairs: &[(String, String)]) -> impl Iterator<Item = (&str, &str)> {
    pairs.iter().map(|(key, value)| (key.as_str(), value.as_str()))
}

/// A JSON response, serialized straight from borrowed records.
fn json<T: Serialize>(status: StatusCode, value: &T) -> Response {
    (status, Json(value)).into_response()
}

/// `{"success": true}`
#[derive(Serialize)]
struct Success {
    success: bool,
}

const SUCCESS: Success = Success { success: true };

/// The fields every listing reports beside its items (spec 1.1).
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ListMeta<'a> {
    count: usize,
    total_count: u64,
    per_page: u32,
    page: u64,
    sort_field: &'static str,
    sort_direction: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    filter: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    filter_field: Option<&'static str>,
}

impl<'a> ListMeta<'a> {
    fn new(query: &'a latchkey_core::list::ListQuery, count: usize, total_count: u64) -> ListMeta<'a> {
        ListMeta {
            count,
            total_count,
            per_page: query.per_page,
            page: query.page,
            sort_field: query.sort_field.as_str(),
            sort_direction: query.sort_direction.as_str(),
            filter: query.filter.as_ref().map(|filter| filter.glob.as_str()),
            filter_field: query.filter.as_ref().map(|filter| filter.field.as_str()),
        }
    }
}
