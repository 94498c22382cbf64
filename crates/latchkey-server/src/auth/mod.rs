//! Who is calling: the bearer token ([`bearer`]), checked by its digest
//! against a cache of recent answers ([`AuthCache`], which holds every rule
//! of when an answer may be used without the database), so a token seen
//! recently costs no database round trip.
//!
//! On a first sight the signature is checked first (forgeries never reach
//! the database), then the record is read by digest; a stale answer's record
//! is read again. Answers, including "no such token", are cached. This
//! process's own PATCH, DELETE and application deletions evict at once;
//! changes made elsewhere arrive through the change log ([`crate::feed`]).
//! An answer the database cannot confirm in time is a `503`, not a `401`:
//! the token may well be valid.
//!
//! Every refusal is counted in `/metrics` by its [`AuthFailure`], and every
//! lookup as a cache hit or miss.

mod bearer;
mod cache;

use std::sync::Arc;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use latchkey_core::model::{Digest, Status, TokenOwnerType, TokenRecord};
use latchkey_core::scope::TargetOwner;
use latchkey_core::time::now_millis;
use latchkey_core::token::{digest, Rejected};
use latchkey_core::Id;
use latchkey_store::Credential;

pub use bearer::bearer;
pub use cache::{Answer, AuthCache, Lifetimes, Read};

use crate::error::{ApiError, ApiResult};
use crate::last_use::PendingUse;
use crate::state::AppState;

/// What the caller can reach, resolved once per cached token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reach {
    /// An application token: its own application, owned by `owner`.
    Application { id: Id, owner: TargetOwner },
    /// A user token: applications owned by the user or by these organizations.
    User { user: Id, organizations: Vec<Id> },
}

/// An authenticated caller.
#[derive(Debug)]
pub struct Caller {
    pub token: TokenRecord,
    pub reach: Reach,
    /// Where this token's uses are noted ([`crate::last_use`]).
    pub last_use: Arc<PendingUse>,
}

/// The extractor: a handler that takes `Principal` runs only for a valid token.
#[derive(Debug, Clone)]
pub struct Principal(pub Arc<Caller>);

impl std::ops::Deref for Principal {
    type Target = Caller;

    fn deref(&self) -> &Caller {
        &self.0
    }
}

/// Why a request was refused `401`; the label of its count in `/metrics`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AuthFailure {
    /// No `Authorization` header.
    MissingHeader,
    /// Not exactly one `Authorization: Bearer <token>` header of readable text.
    MalformedHeader,
    /// Not a token this service signed: forged, garbled or not a JWT at all.
    BadSignature,
    /// Correctly signed, but no such token (deleted) or its application is gone.
    UnknownToken,
    Inactive,
    Expired,
}

impl AuthFailure {
    pub const ALL: [AuthFailure; 6] = [
        AuthFailure::MissingHeader,
        AuthFailure::MalformedHeader,
        AuthFailure::BadSignature,
        AuthFailure::UnknownToken,
        AuthFailure::Inactive,
        AuthFailure::Expired,
    ];

    pub fn label(self) -> &'static str {
        match self {
            AuthFailure::MissingHeader => "missing_header",
            AuthFailure::MalformedHeader => "malformed_header",
            AuthFailure::BadSignature => "bad_signature",
            AuthFailure::UnknownToken => "unknown_token",
            AuthFailure::Inactive => "inactive",
            AuthFailure::Expired => "expired",
        }
    }

    /// The client's answer. A forged and an unknown token read alike, so a
    /// caller learns nothing about which signatures or tokens exist.
    fn error(self) -> ApiError {
        ApiError::unauthorized(match self {
            AuthFailure::MissingHeader => "send exactly one header Authorization: Bearer <token>",
            AuthFailure::MalformedHeader => "send one Authorization header: \"Bearer \" followed by an API token",
            AuthFailure::BadSignature | AuthFailure::UnknownToken => {
                "the token is not valid: unknown, revoked or forged"
            }
            AuthFailure::Inactive => "the token is inactive",
            AuthFailure::Expired => "the token has expired",
        })
    }
}

/// What a token's digest resolved to: the caller, or why there is none (kept
/// so a cached refusal is still counted under its reason).
pub type Verdict = Result<Arc<Caller>, AuthFailure>;

/// Reads what the cache asks for: on a first sight the signature is checked
/// first, against the keys re-read once when the token names a key the ring
/// lacks (a key rotated in elsewhere a moment ago; see [`crate::keys`]). A
/// refresh checks only that the token's key is still in the ring (not
/// retired): a digest names one exact token text, whose signature was good
/// when first seen.
async fn read(state: &AppState, token: &str, key: &Digest, read: Read) -> ApiResult<Verdict> {
    let trusted = match read {
        Read::FirstSight => match state.keys.current().ring.verify(token) {
            Ok(()) => true,
            Err(Rejected::UnknownKey) => {
                crate::keys::reload_for_unknown_key(state).await? && state.keys.current().ring.verify(token).is_ok()
            }
            Err(_) => false,
        },
        Read::Refresh => state.keys.current().ring.holds_key_of(token),
    };
    if !trusted {
        return Ok(Err(AuthFailure::BadSignature));
    }
    read_record(state, key).await
}

/// Reads the record of a token whose signature is known to be good: one
/// database read for an application token.
async fn read_record(state: &AppState, key: &Digest) -> ApiResult<Verdict> {
    let Some(Credential {
        token,
        application_owner,
    }) = state.store.credential_by_digest(key).await?
    else {
        return Ok(Err(AuthFailure::UnknownToken));
    };
    let reach = match (token.owner_type, application_owner) {
        (TokenOwnerType::Application, Some(owner)) => Reach::Application {
            id: token.owner_id,
            owner: owner.as_target(),
        },
        (TokenOwnerType::Application, None) => return Ok(Err(AuthFailure::UnknownToken)),
        (TokenOwnerType::User, _) => Reach::User {
            user: token.owner_id,
            organizations: state.store.organizations_of(token.owner_id).await?,
        },
    };
    let last_use = state.last_uses.slot(token.id);
    Ok(Ok(Arc::new(Caller { token, reach, last_use })))
}

/// The token's verdict, counted as a cache hit when this request did not
/// read it from the database itself.
async fn lookup(state: &AppState, token: &str) -> ApiResult<Verdict> {
    let key = digest(token);
    let answer = state.auth.lookup(key, |need| read(state, token, &key, need)).await;
    let read_database = answer.as_ref().map_or(true, |answer| answer.read);
    if read_database {
        state.metrics.auth_cache_misses.inc();
    } else {
        state.metrics.auth_cache_hits.inc();
    }
    Ok(answer?.verdict)
}

/// Why a request has no caller.
enum Refusal {
    /// The client's header or token: `401`, counted by reason.
    Unauthorized(AuthFailure),
    /// The server could not tell (storage failed).
    Failed(ApiError),
}

impl From<AuthFailure> for Refusal {
    fn from(failure: AuthFailure) -> Refusal {
        Refusal::Unauthorized(failure)
    }
}

impl From<ApiError> for Refusal {
    fn from(error: ApiError) -> Refusal {
        Refusal::Failed(error)
    }
}

/// The valid, active, unexpired caller.
async fn authenticated_caller(state: &AppState, parts: &Parts) -> Result<Arc<Caller>, Refusal> {
    let token = bearer(&parts.headers)?;
    let caller = lookup(state, token).await??;
    if caller.token.status != Status::Active {
        return Err(AuthFailure::Inactive.into());
    }
    let now = now_millis();
    if caller.token.is_expired(now) {
        return Err(AuthFailure::Expired.into());
    }
    caller.last_use.note(now);
    Ok(caller)
}

pub async fn authenticate(state: &AppState, parts: &Parts) -> ApiResult<Principal> {
    let caller = match authenticated_caller(state, parts).await {
        Ok(caller) => caller,
        Err(Refusal::Unauthorized(failure)) => {
            state.metrics.auth_failure(failure);
            state.unauthenticated.note(crate::audit::peer_ip(parts), failure);
            return Err(failure.error());
        }
        Err(Refusal::Failed(error)) => return Err(error),
    };
    if let Err(too_many) = state.rate_limit.check(caller.token.id) {
        state.metrics.rate_limited.inc();
        return Err(too_many);
    }
    Ok(Principal(caller))
}

impl FromRequestParts<AppState> for Principal {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> ApiResult<Principal> {
        authenticate(state, parts).await
    }
}
