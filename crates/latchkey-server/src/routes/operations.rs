//! For operators and orchestrators, without authentication: `/health` (the
//! process answers), `/ready` (and its database does), `/metrics`.

use std::future::Future;
use std::time::Duration;

use axum::extract::State;
use axum::http::header::CONTENT_TYPE;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use latchkey_store::StoreResult;
use serde::Serialize;

use super::{json, SUCCESS};
use crate::error::{ApiError, ApiResult};
use crate::metrics;
use crate::state::AppState;

/// How long `/ready` waits for the database: well under the usual probe
/// timeouts, so a hung database reads as not ready instead of as no answer.
pub const READY_TIMEOUT: Duration = Duration::from_secs(2);

#[utoipa::path(
    get,
    path = "/health",
    operation_id = "health",
    tag = "Operations",
    summary = "The process answers",
    responses(
        (status = 200, description = "Alive.", body = crate::openapi::Success),
    ),
)]
pub async fn health() -> Response {
    json(StatusCode::OK, &SUCCESS)
}

#[derive(Serialize)]
struct Ready {
    ready: bool,
}

#[utoipa::path(
    get,
    path = "/ready",
    operation_id = "ready",
    tag = "Operations",
    summary = "The process and its database answer",
    responses(
        (status = 200, description = "Ready to serve.", body = crate::openapi::Ready),
        (status = 503, response = crate::openapi::Unavailable),
    ),
)]
pub async fn ready(State(state): State<AppState>) -> ApiResult<Response> {
    readiness(state.store.ping()).await
}

/// `200 {"ready": true}` when `ping` succeeds within [`READY_TIMEOUT`], else
/// `503 ServiceUnavailable` (saying nothing of the database's own error,
/// which is logged).
async fn readiness(ping: impl Future<Output = StoreResult<()>>) -> ApiResult<Response> {
    match tokio::time::timeout(READY_TIMEOUT, ping).await {
        Ok(Ok(())) => Ok(json(StatusCode::OK, &Ready { ready: true })),
        Ok(Err(error)) => Err(ApiError::from(error)),
        Err(_) => {
            tracing::warn!(timeout = ?READY_TIMEOUT, "not ready: the database did not answer in time");
            Err(ApiError::service_unavailable(format!(
                "the token store did not answer within {} s",
                READY_TIMEOUT.as_secs()
            )))
        }
    }
}

#[utoipa::path(
    get,
    path = "/metrics",
    operation_id = "metrics",
    tag = "Operations",
    summary = "Prometheus metrics",
    responses(
        (status = 200, description = "The Prometheus text format.", body = String, content_type = "text/plain"),
    ),
)]
pub async fn metrics(State(state): State<AppState>) -> Response {
    ([(CONTENT_TYPE, metrics::CONTENT_TYPE)], state.metrics.render()).into_response()
}

#[cfg(test)]
mod tests {
    use axum::body::to_bytes;
    use latchkey_store::StoreError;
    use serde_json::{json, Value};

    use super::*;

    async fn answer(ping: impl Future<Output = StoreResult<()>>) -> (StatusCode, Value) {
        let response = readiness(ping).await.unwrap_or_else(IntoResponse::into_response);
        let status = response.status();
        let body = to_bytes(response.into_body(), usize::MAX).await.unwrap();
        (status, serde_json::from_slice(&body).unwrap())
    }

    #[tokio::test]
    async fn ready_when_the_database_answers() {
        assert_eq!(answer(async { Ok(()) }).await, (StatusCode::OK, json!({"ready": true})));
    }

    #[tokio::test]
    async fn not_ready_when_the_database_fails_and_its_error_stays_in_the_log() {
        let (status, body) = answer(async { Err(StoreError::Database("connection refused by 10.1.2.3".into())) }).await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(body["type"], "ServiceUnavailable");
        assert!(!body["message"].as_str().unwrap().contains("10.1.2.3"), "{body}");
    }

    /// Paused time: the timeout elapses at once instead of in two real seconds.
    #[tokio::test(start_paused = true)]
    async fn not_ready_when_the_database_hangs() {
        let (status, body) = answer(std::future::pending()).await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(body["type"], "ServiceUnavailable");
        assert!(body["message"].as_str().unwrap().contains("did not answer"), "{body}");
    }
}
