//! The HTTP layer of Latchkey: Losant's Application API Tokens wire format
//! over axum, with authentication, reach and scope checks.

mod access;
pub mod admin;
pub mod audit;
pub mod auth;
pub mod error;
pub mod feed;
pub mod last_use;
pub mod metrics;
pub mod openapi;
mod rate_limit;
pub mod request_id;
mod routes;
pub mod state;

use std::sync::Arc;

use axum::http::header::AUTHORIZATION;
use axum::Router;
use tower::util::MapRequestLayer;
use tower_http::request_id::{PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::sensitive_headers::SetSensitiveRequestHeadersLayer;
use tower_http::trace::TraceLayer;

use crate::metrics::RecordLayer;
use crate::request_id::{drop_unusable_client_id, request_span, RandomRequestId, X_REQUEST_ID};

pub use routes::MAX_BODY_BYTES;
pub use state::{AppState, Settings};

/// The whole service: routes, body limit, metrics, request ids, and request
/// tracing in which the `Authorization` header is marked sensitive, so it is
/// never logged.
///
/// Layers run outermost (last added) first: the header is marked sensitive,
/// the request gets its id, the span opens with that id, the response gets
/// the id back, and innermost the request is counted and timed. All are
/// added with `Router::layer`, which runs them after routing, so the metrics
/// see the matched route template.
pub fn app(state: AppState) -> Router {
    let metrics = Arc::clone(&state.metrics);
    routes::router(state)
        .layer(RecordLayer::new(metrics))
        .layer(PropagateRequestIdLayer::new(X_REQUEST_ID))
        .layer(TraceLayer::new_for_http().make_span_with(request_span))
        .layer(SetRequestIdLayer::new(X_REQUEST_ID, RandomRequestId))
        .layer(MapRequestLayer::new(drop_unusable_client_id))
        .layer(SetSensitiveRequestHeadersLayer::new([AUTHORIZATION]))
}
