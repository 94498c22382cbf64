use axum::extract::State;
use axum::Json;
use serde_json::Value;

use crate::state::AppState;

/// `GET /.well-known/jwks.json`: the public keys that verify issued tokens.
pub async fn jwks(State(state): State<AppState>) -> Json<Value> {
    Json(state.keys.jwks())
}
