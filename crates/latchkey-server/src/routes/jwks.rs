use axum::extract::State;
use axum::Json;
use serde_json::Value;

use crate::state::AppState;

/// `GET /.well-known/jwks.json`: the public keys that verify issued tokens.
#[utoipa::path(
    get,
    path = "/.well-known/jwks.json",
    operation_id = "jwks",
    tag = "Authentication",
    summary = "The public keys that verify issued tokens",
    responses(
        (status = 200, description = "A JSON Web Key Set.", body = crate::openapi::Jwks),
    ),
)]
pub async fn jwks(State(state): State<AppState>) -> Json<Value> {
    Json(state.keys.current().ring.jwks())
}
