//! Who is calling: the bearer token, checked by its digest against a cache of
//! recent answers, so a token seen recently costs no database round trip.
//!
//! On a miss the signature is checked first (forgeries never reach the
//! database), then the record is read by digest. Answers, including "no such
//! token", are cached for `ttl`; this process's own PATCH, DELETE and
//! application deletions evict at once, and the ttl bounds how long a change
//! made elsewhere (another instance on the same database) can go unseen.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use latchkey_core::model::{Digest, Status, TokenOwnerType, TokenRecord};
use latchkey_core::scope::TargetOwner;
use latchkey_core::time::now_millis;
use latchkey_core::token::digest;
use latchkey_core::Id;
use quick_cache::sync::Cache;

use crate::error::{ApiError, ApiResult};
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

#[derive(Clone)]
struct Cached {
    fetched: Instant,
    caller: Option<Arc<Caller>>,
}

pub struct AuthCache {
    entries: Cache<Digest, Cached>,
    ttl: Duration,
}

impl AuthCache {
    pub fn new(capacity: usize, ttl: Duration) -> AuthCache {
        AuthCache {
            entries: Cache::new(capacity),
            ttl,
        }
    }

    /// Forgets the token with this digest (after a PATCH or DELETE).
    pub fn evict(&self, digest: &Digest) {
        self.entries.remove(digest);
    }

    /// Forgets every token of `application` (after the application's deletion).
    pub fn evict_application(&self, application: Id) {
        self.entries.retain(|_, cached| {
            !cached.caller.as_ref().is_some_and(|caller| {
                caller.token.owner_type == TokenOwnerType::Application && caller.token.owner_id == application
            })
        });
    }
}

/// The single token of `Authorization: Bearer <token>`, scheme in any case.
fn bearer(parts: &Parts) -> ApiResult<&str> {
    let mut values = parts.headers.get_all(AUTHORIZATION).iter();
    let (Some(value), None) = (values.next(), values.next()) else {
        return Err(ApiError::unauthorized(
            "send exactly one header Authorization: Bearer <token>",
        ));
    };
    let value = value
        .to_str()
        .map_err(|_| ApiError::unauthorized("the Authorization header is not readable text"))?;
    let mut words = value.split_ascii_whitespace();
    match (words.next(), words.next(), words.next()) {
        (Some(scheme), Some(token), None) if scheme.eq_ignore_ascii_case("bearer") => Ok(token),
        _ => Err(ApiError::unauthorized(
            "the Authorization header must be: Bearer <token>",
        )),
    }
}

async fn resolve(state: &AppState, token: &str, key: &Digest) -> ApiResult<Option<Arc<Caller>>> {
    if state.keys.verify(token).is_err() {
        return Ok(None);
    }
    let Some(record) = state.store.token_by_digest(key).await? else {
        return Ok(None);
    };
    let reach = match record.owner_type {
        TokenOwnerType::Application => {
            let Some(app) = state.store.application(record.owner_id).await? else {
                return Ok(None);
            };
            Reach::Application {
                id: app.id,
                owner: app.owner_type.as_target(),
            }
        }
        TokenOwnerType::User => Reach::User {
            user: record.owner_id,
            organizations: state.store.organizations_of(record.owner_id).await?,
        },
    };
    Ok(Some(Arc::new(Caller { token: record, reach })))
}

/// The cached answer for this token, fetching it when missing or stale.
async fn lookup(state: &AppState, token: &str) -> ApiResult<Option<Arc<Caller>>> {
    let cache = &state.auth;
    let key = digest(token);
    if let Some(cached) = cache.entries.get(&key) {
        if cached.fetched.elapsed() < cache.ttl {
            return Ok(cached.caller);
        }
        cache.entries.remove(&key);
    }
    match cache.entries.get_value_or_guard_async(&key).await {
        Ok(cached) => Ok(cached.caller),
        Err(guard) => {
            let caller = resolve(state, token, &key).await?;
            let _ = guard.insert(Cached {
                fetched: Instant::now(),
                caller: caller.clone(),
            });
            Ok(caller)
        }
    }
}

pub async fn authenticate(state: &AppState, parts: &Parts) -> ApiResult<Principal> {
    let token = bearer(parts)?;
    let caller = lookup(state, token)
        .await?
        .ok_or_else(|| ApiError::unauthorized("the token is not valid: unknown, revoked or forged"))?;
    if caller.token.status != Status::Active {
        return Err(ApiError::unauthorized("the token is inactive"));
    }
    if caller.token.is_expired(now_millis()) {
        return Err(ApiError::unauthorized("the token has expired"));
    }
    state.rate_limit.check(caller.token.id)?;
    Ok(Principal(caller))
}

impl FromRequestParts<AppState> for Principal {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> ApiResult<Principal> {
        authenticate(state, parts).await
    }
}
