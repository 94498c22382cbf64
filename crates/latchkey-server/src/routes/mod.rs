//! The routes of spec section 1, and what every handler needs to read a request.

pub(crate) mod applications;
pub(crate) mod audit_logs;
pub(crate) mod introspect;
pub(crate) mod jwks;
pub(crate) mod operations;
pub(crate) mod tokens;
pub(crate) mod verifier;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, Extension, FromRequestParts, Path};
use axum::http::request::Parts;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::{Json, Router};
use latchkey_core::scope::Action;
use serde::de::DeserializeOwned;
use serde::Serialize;
use utoipa::OpenApi;
use utoipa_axum::router::{OpenApiRouter, UtoipaMethodRouterExt};
use utoipa_axum::routes;

use crate::error::{ApiError, ApiResult};
use crate::openapi::{self, ApiDoc, Served};
use crate::state::AppState;

/// Bodies larger than this are refused with `413`.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

/// The service's routes, each registered from its handler's
/// `#[utoipa::path]` attribute: `routes!` takes the path and method from
/// there, so every route is in the OpenAPI document exactly as it is served.
/// Register routes only this way, never with a bare `route`. The one
/// exception is the web console's static files ([`crate::console`]), which
/// are not API: `app()` merges them beside these routes.
pub fn router(state: AppState) -> Router {
    let served = Served::default();
    let (router, document) = OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(applications::list, applications::create))
        .routes(routes!(applications::read, applications::update, applications::delete))
        .routes(routes!(
            tokens::list,
            tokens::create,
            tokens::deactivate_matching,
            tokens::delete_matching
        ))
        .routes(routes!(tokens::read, tokens::update, tokens::delete))
        .routes(routes!(audit_logs::org_list))
        .routes(routes!(audit_logs::org_read))
        .routes(routes!(audit_logs::application_list))
        .routes(routes!(audit_logs::application_read))
        .routes(routes!(verifier::revoked))
        .routes(routes!(verifier::changes))
        .routes(routes!(introspect::introspect))
        .routes(routes!(jwks::jwks))
        .routes(routes!(operations::health))
        .routes(routes!(operations::ready))
        .routes(routes!(operations::metrics))
        .routes(routes!(openapi::document).layer(Extension(served.clone())))
        .split_for_parts();
    served.set(&document);
    router
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

/// Properties of query-string splitting: what a client encodes comes back
/// as it was, and no query string at all makes the listings panic.
#[cfg(test)]
mod query_properties {
    use super::query_pairs;
    use latchkey_core::list::{APPLICATION_LISTING, TOKEN_LISTING};
    use proptest::prelude::*;

    /// Keys and values with what encoding must carry: `&`, `=`, `+`, `%`,
    /// spaces, multi-byte characters; then anything.
    fn a_part() -> impl Strategy<Value = String> {
        prop_oneof![3 => "[a-zA-Z0-9&=+% #Σé*_]{0,12}", 1 => any::<String>()]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(1000))]

        #[test]
        fn encoded_pairs_come_back_as_they_were(pairs in prop::collection::vec((a_part(), a_part()), 0..6)) {
            let encoded = form_urlencoded::Serializer::new(String::new()).extend_pairs(&pairs).finish();
            prop_assert_eq!(query_pairs(&Some(encoded)), pairs);
        }

        #[test]
        fn any_query_string_parses_without_a_panic(query in any::<String>(), listing_pairs in "([a-zA-Z%0-9]{0,12}=[a-zA-Z%0-9*]{0,12}&?){0,6}") {
            for query in [query, listing_pairs] {
                let pairs = query_pairs(&Some(query));
                let pairs = || pairs.iter().map(|(key, value)| (key.as_str(), value.as_str()));
                let _ = TOKEN_LISTING.parse(pairs());
                let _ = APPLICATION_LISTING.parse(pairs());
            }
        }
    }
}
