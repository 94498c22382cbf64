//! `GET /auth/introspect` (spec section 6): the calling token describes itself
//! and, given `applicationId` and `action`, says whether it may do that there.

use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;
use latchkey_core::model::ApiToken;
use latchkey_core::scope::{any_grants, Action};
use latchkey_core::Id;
use serde::ser::SerializeMap;
use serde::{Serialize, Serializer};

use super::{json, query_pairs};
use crate::auth::Principal;
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

struct Introspection<'a> {
    token: ApiToken<'a>,
    allowed: Option<bool>,
}

impl Serialize for Introspection<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(None)?;
        self.token.serialize_fields(&mut map)?;
        map.serialize_entry("active", &true)?;
        if let Some(allowed) = self.allowed {
            map.serialize_entry("allowed", &allowed)?;
        }
        map.end()
    }
}

/// The `applicationId` and `action` to check, when both are given.
fn question(query: &Option<String>) -> ApiResult<Option<(Id, Action)>> {
    let pairs = query_pairs(query);
    let find = |key: &str| {
        pairs
            .iter()
            .find(|(name, _)| name == key)
            .map(|(_, value)| value.as_str())
    };
    match (find("applicationId"), find("action")) {
        (None, None) => Ok(None),
        (Some(application), Some(action)) => {
            let application = application
                .parse()
                .map_err(|_| ApiError::validation("applicationId must be 24 hexadecimal characters"))?;
            let action = Action::parse(action)
                .ok_or_else(|| ApiError::validation("action must be resource.action, e.g. applicationApiTokens.get"))?;
            Ok(Some((application, action)))
        }
        _ => Err(ApiError::validation(
            "applicationId and action go together: give both or neither",
        )),
    }
}

#[utoipa::path(
    get,
    path = "/auth/introspect",
    operation_id = "introspect",
    tag = "Authentication",
    summary = "The calling token describes itself, and may ask whether it may do an action",
    params(crate::openapi::IntrospectQuery),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The token's own record, with `active` and, when asked, `allowed`.", body = crate::openapi::Introspection),
        (status = 400, response = crate::openapi::BadRequest),
        (status = 401, response = crate::openapi::Unauthorized),
        (status = 429, response = crate::openapi::TooManyRequests),
        (status = 503, response = crate::openapi::Unavailable),
    ),
)]
pub async fn introspect(
    State(state): State<AppState>,
    principal: Principal,
    RawQuery(query): RawQuery,
) -> ApiResult<Response> {
    let allowed = match question(&query)? {
        None => None,
        Some((application, action)) => Some(match principal.reach(&state, application).await {
            Ok(owner) => any_grants(&principal.token.scope, &action, owner),
            Err(error) if error.status == StatusCode::NOT_FOUND => false,
            Err(error) => return Err(error),
        }),
    };
    Ok(json(
        StatusCode::OK,
        &Introspection {
            // The cached record's last use is only as recent as its read.
            token: principal.token.to_wire_without_last_use(),
            allowed,
        },
    ))
}
