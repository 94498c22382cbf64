//! The HTTP layer of Latchkey: Losant's Application API Tokens wire format
//! over axum, with authentication, reach and scope checks.

mod access;
pub mod admin;
pub mod audit;
pub mod auth;
pub mod console;
pub mod error;
pub mod feed;
pub mod keys;
pub mod last_use;
pub mod metrics;
pub mod openapi;
mod rate_limit;
pub mod request_id;
mod routes;
pub mod state;

use std::sync::Arc;

use axum::http::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE, RETRY_AFTER};
use axum::http::{HeaderName, HeaderValue, Method};
use axum::Router;
use tower::util::MapRequestLayer;
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::request_id::{PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::sensitive_headers::SetSensitiveRequestHeadersLayer;
use tower_http::trace::TraceLayer;

use crate::metrics::RecordLayer;
use crate::request_id::{drop_unusable_client_id, request_span, RandomRequestId, X_REQUEST_ID};

pub use routes::MAX_BODY_BYTES;
pub use state::{AppState, Settings};

/// The whole service: routes, the web console, body limit, metrics, request
/// ids, and request tracing in which the `Authorization` header is marked
/// sensitive, so it is never logged. Browsers on `cors_origins` (exact
/// origins, e.g. `https://ops.example.com`) may call the API; with none, no
/// response carries a CORS header and browsers keep other origins out.
///
/// Layers run outermost (last added) first: the header is marked sensitive,
/// the request gets its id, the span opens with that id, the response gets
/// the id back, and innermost the request is counted and timed. All are
/// added with `Router::layer`, which runs them after routing, so the metrics
/// see the matched route template.
pub fn app(state: AppState, cors_origins: &[HeaderValue]) -> Router {
    let metrics = Arc::clone(&state.metrics);
    let router = routes::router(state).merge(console::router());
    let router = match cors_origins {
        [] => router,
        origins => router.layer(cors(origins)),
    };
    router
        .layer(RecordLayer::new(metrics))
        .layer(PropagateRequestIdLayer::new(X_REQUEST_ID))
        .layer(TraceLayer::new_for_http().make_span_with(request_span))
        .layer(SetRequestIdLayer::new(X_REQUEST_ID, RandomRequestId))
        .layer(MapRequestLayer::new(drop_unusable_client_id))
        .layer(SetSensitiveRequestHeadersLayer::new([AUTHORIZATION]))
}

/// Cross-origin access for exactly `origins`: the methods and headers the API
/// and Losant's clients use. Tokens travel in `Authorization`, never in
/// cookies, so credentials are not allowed.
fn cors(origins: &[HeaderValue]) -> CorsLayer {
    CorsLayer::new()
        .allow_origin(AllowOrigin::list(origins.iter().cloned()))
        .allow_methods([Method::GET, Method::POST, Method::PATCH, Method::DELETE])
        .allow_headers([
            AUTHORIZATION,
            ACCEPT,
            CONTENT_TYPE,
            HeaderName::from_static("accept-version"),
            HeaderName::from_static("losantdomain"),
            X_REQUEST_ID,
        ])
        .expose_headers([X_REQUEST_ID, RETRY_AFTER])
}
