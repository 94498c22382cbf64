//! The HTTP layer of Latchkey: Losant's Application API Tokens wire format
//! over axum, with authentication, reach and scope checks.

mod access;
pub mod admin;
pub mod auth;
pub mod error;
mod rate_limit;
mod routes;
pub mod state;

use axum::http::header::AUTHORIZATION;
use axum::Router;
use tower_http::sensitive_headers::SetSensitiveRequestHeadersLayer;
use tower_http::trace::TraceLayer;

pub use routes::MAX_BODY_BYTES;
pub use state::{AppState, Settings};

/// The whole service: routes, body limit, and request tracing in which the
/// `Authorization` header is marked sensitive, so it is never logged.
pub fn app(state: AppState) -> Router {
    routes::router(state)
        .layer(TraceLayer::new_for_http())
        .layer(SetSensitiveRequestHeadersLayer::new([AUTHORIZATION]))
}
