//! Why a request was refused, and the Losant-style answer it gets.

use axum::http::header::RETRY_AFTER;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

/// Why a token was not accepted. Each is counted in the metrics under its
/// [`Refusal::label`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Refusal {
    /// No `Authorization` header.
    MissingToken,
    /// Not exactly one `Authorization: Bearer <token>` header.
    MalformedHeader,
    /// Not a token Latchkey signed with a key it publishes: forged, garbled,
    /// or signed by a retired key.
    BadSignature,
    Expired,
    /// A good token, but not an application token of an application this
    /// verifier follows.
    NotFollowed,
    /// Deactivated or deleted.
    Revoked,
    /// Its application was deleted.
    ApplicationDeleted,
    /// Its scope does not grant the action required: `403`.
    MissingScope,
    /// The feed has not answered for longer than the bound, or refuses the
    /// reader token, so a revocation may have gone unseen: `503`.
    Stale,
}

impl Refusal {
    pub const ALL: [Refusal; 9] = [
        Refusal::MissingToken,
        Refusal::MalformedHeader,
        Refusal::BadSignature,
        Refusal::Expired,
        Refusal::NotFollowed,
        Refusal::Revoked,
        Refusal::ApplicationDeleted,
        Refusal::MissingScope,
        Refusal::Stale,
    ];

    /// Its `reason` label in the metrics.
    pub fn label(self) -> &'static str {
        match self {
            Refusal::MissingToken => "missing_token",
            Refusal::MalformedHeader => "malformed_header",
            Refusal::BadSignature => "bad_signature",
            Refusal::Expired => "expired",
            Refusal::NotFollowed => "not_followed",
            Refusal::Revoked => "revoked",
            Refusal::ApplicationDeleted => "application_deleted",
            Refusal::MissingScope => "missing_scope",
            Refusal::Stale => "stale",
        }
    }

    pub fn status(self) -> StatusCode {
        match self {
            Refusal::MissingScope => StatusCode::FORBIDDEN,
            Refusal::Stale => StatusCode::SERVICE_UNAVAILABLE,
            _ => StatusCode::UNAUTHORIZED,
        }
    }

    /// The `type` of the error body, as Latchkey and Losant name it.
    pub fn kind(self) -> &'static str {
        match self {
            Refusal::MissingScope => "Forbidden",
            Refusal::Stale => "ServiceUnavailable",
            _ => "Unauthorized",
        }
    }

    /// What the caller reads; a forged and a revoked token read alike, as
    /// on Latchkey itself, so a caller learns nothing about which exist.
    pub fn message(self) -> &'static str {
        match self {
            Refusal::MissingToken => "send exactly one header Authorization: Bearer <token>",
            Refusal::MalformedHeader => "send one Authorization header: \"Bearer \" followed by an API token",
            Refusal::BadSignature | Refusal::Revoked | Refusal::ApplicationDeleted => {
                "the token is not valid: unknown, revoked or forged"
            }
            Refusal::Expired => "the token has expired",
            Refusal::NotFollowed => "the token is not for this service's application",
            Refusal::MissingScope => "the token's scope does not allow this action",
            Refusal::Stale => "cannot check tokens now: the token service is out of reach; retry shortly",
        }
    }
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.message())
    }
}

impl std::error::Error for Refusal {}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        let body = json!({"type": self.kind(), "message": self.message()});
        let mut response = (self.status(), Json(body)).into_response();
        if self == Refusal::Stale {
            // The feed is retried at least once a second.
            response
                .headers_mut()
                .insert(RETRY_AFTER, HeaderValue::from_static("1"));
        }
        response
    }
}
