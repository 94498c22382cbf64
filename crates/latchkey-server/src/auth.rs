//! Who is calling: the bearer token, checked by its digest against a cache of
//! recent answers, so a token seen recently costs no database round trip.
//!
//! On a miss the signature is checked first (forgeries never reach the
//! database), then the record is read by digest. Answers, including "no such
//! token", are cached. This process's own PATCH, DELETE and application
//! deletions evict at once; changes made elsewhere (another instance on the
//! same database) arrive through the change log ([`crate::feed`]), which
//! evicts what they name. An answer is trusted for `ttl`, and for up to
//! `max_age` while the change log was read completely within the last `ttl`:
//! either way a change made elsewhere goes unseen for at most about `ttl`.
//! When the database cannot be reached, stale answers stand for a while
//! (`stale_if_error`), so recently seen tokens outlive a brief outage.
//!
//! Every refusal is counted in `/metrics` by its [`AuthFailure`], and every
//! lookup as a cache hit or miss.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
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
use latchkey_store::{AuthChange, Credential};
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

/// Why a request was refused `401`; the label of its count in `/metrics`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
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
            AuthFailure::MalformedHeader => "send exactly one header Authorization: Bearer <token>, as plain text",
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
type Verdict = Result<Arc<Caller>, AuthFailure>;

#[derive(Clone)]
struct Cached {
    fetched: Instant,
    verdict: Verdict,
    /// Set while one request re-reads this stale entry, so the others
    /// answer from it meanwhile instead of all waiting on the database.
    refreshing: Arc<AtomicBool>,
}

impl Cached {
    fn new(verdict: Verdict) -> Cached {
        Cached {
            fetched: Instant::now(),
            verdict,
            refreshing: Arc::new(AtomicBool::new(false)),
        }
    }
}

/// How long the cache trusts its answers.
#[derive(Debug, Clone, Copy)]
pub struct Lifetimes {
    /// An answer is re-read after this, unless the change log vouches for it.
    pub ttl: Duration,
    /// An answer is re-read after this even while the change log vouches for it.
    pub max_age: Duration,
    /// While the database cannot be reached, a stale answer stands until this
    /// long after it was last known good.
    pub stale_if_error: Duration,
}

pub struct AuthCache {
    entries: Cache<Digest, Cached>,
    lifetimes: Lifetimes,
    /// Counts evictions, so an answer read from the database before an
    /// eviction is not cached after it (see [`AuthCache::keep`]).
    evictions: AtomicU64,
    /// When the last complete read of the change log started, as
    /// nanoseconds after `epoch` plus one; 0 when there was none.
    change_log_read: AtomicU64,
    epoch: Instant,
}

impl AuthCache {
    pub fn new(capacity: usize, lifetimes: Lifetimes) -> AuthCache {
        AuthCache {
            entries: Cache::new(capacity),
            lifetimes,
            evictions: AtomicU64::new(0),
            change_log_read: AtomicU64::new(0),
            epoch: Instant::now(),
        }
    }

    /// Forgets the token with this digest (after a PATCH or DELETE).
    pub fn evict(&self, digest: &Digest) {
        // Counted before removing: a concurrent `keep` either sees the count
        // move, or inserted before this removal.
        self.evictions.fetch_add(1, Ordering::SeqCst);
        self.entries.remove(digest);
    }

    /// Forgets every token of `application` (after the application's deletion).
    pub fn evict_application(&self, application: Id) {
        self.evict_callers(|caller| {
            caller.token.owner_type == TokenOwnerType::Application && caller.token.owner_id == application
        });
    }

    /// Forgets `user`'s tokens (after the user joined organizations).
    fn evict_user(&self, user: Id) {
        self.evict_callers(|caller| matches!(caller.reach, Reach::User { user: owner, .. } if owner == user));
    }

    /// Forgets what a change made through any instance may have made wrong.
    pub fn forget(&self, change: &AuthChange) {
        match change {
            AuthChange::Token(digest) => self.evict(digest),
            AuthChange::Application(application) => self.evict_application(*application),
            AuthChange::User(user) => self.evict_user(*user),
        }
    }

    /// Forgets every caller (when changes may have been missed). Refusals
    /// stay: no change makes a forged or deleted token good again.
    pub fn clear(&self) {
        self.evict_callers(|_| true);
    }

    fn evict_callers(&self, doomed: impl Fn(&Caller) -> bool) {
        self.evictions.fetch_add(1, Ordering::SeqCst);
        self.entries
            .retain(|_, cached| !cached.verdict.as_ref().is_ok_and(|caller| doomed(caller)));
    }

    /// Records a complete read of the change log that started at `started`:
    /// every change committed before then has been evicted.
    pub fn change_log_read(&self, started: Instant) {
        let at = started.saturating_duration_since(self.epoch).as_nanos() as u64 + 1;
        self.change_log_read.fetch_max(at, Ordering::AcqRel);
    }

    /// How long ago the last complete read of the change log started.
    fn since_change_log_read(&self, now: Instant) -> Duration {
        match self.change_log_read.load(Ordering::Acquire) {
            0 => Duration::MAX,
            at => now
                .saturating_duration_since(self.epoch)
                .saturating_sub(Duration::from_nanos(at - 1)),
        }
    }

    /// Whether `cached` can answer without a database read.
    fn is_fresh(&self, cached: &Cached) -> bool {
        let now = Instant::now();
        let age = now.saturating_duration_since(cached.fetched);
        let Lifetimes { ttl, max_age, .. } = self.lifetimes;
        age < ttl || (age < max_age && self.since_change_log_read(now) < ttl)
    }

    /// Whether stale `cached` may still answer while the database is
    /// unreachable: it was last known good (read, or vouched for by the
    /// change log) within `stale_if_error`.
    fn may_stand_in(&self, cached: &Cached) -> bool {
        let now = Instant::now();
        let known_good = now
            .saturating_duration_since(cached.fetched)
            .min(self.since_change_log_read(now));
        known_good < self.lifetimes.stale_if_error
    }

    /// A mark to take before reading a token from the database.
    fn mark(&self) -> u64 {
        self.evictions.load(Ordering::SeqCst)
    }

    /// Undoes the caching of an answer read since `mark` if an eviction
    /// happened meanwhile: the answer may predate the change that evicted.
    fn keep(&self, key: &Digest, mark: u64) {
        if self.evictions.load(Ordering::SeqCst) != mark {
            self.entries.remove(key);
        }
    }
}

/// The single token of `Authorization: Bearer <token>`, scheme in any case.
fn bearer(parts: &Parts) -> Result<&str, AuthFailure> {
    let mut values = parts.headers.get_all(AUTHORIZATION).iter();
    let value = match (values.next(), values.next()) {
        (None, _) => return Err(AuthFailure::MissingHeader),
        (Some(value), None) => value,
        (Some(_), Some(_)) => return Err(AuthFailure::MalformedHeader),
    };
    let value = value.to_str().map_err(|_| AuthFailure::MalformedHeader)?;
    let mut words = value.split_ascii_whitespace();
    match (words.next(), words.next(), words.next()) {
        (Some(scheme), Some(token), None) if scheme.eq_ignore_ascii_case("bearer") => Ok(token),
        _ => Err(AuthFailure::MalformedHeader),
    }
}

/// Checks the token's signature, then reads its record by digest.
async fn resolve(state: &AppState, token: &str, key: &Digest) -> ApiResult<Verdict> {
    if state.keys.verify(token).is_err() {
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
    Ok(Ok(Arc::new(Caller { token, reach })))
}

/// The cached verdict for this token, fetching it when missing or stale.
/// A hit is any answer this request did not read from the database itself.
async fn lookup(state: &AppState, token: &str) -> ApiResult<Verdict> {
    let cache = &state.auth;
    let key = digest(token);
    match cache.entries.get(&key) {
        Some(cached) if cache.is_fresh(&cached) => {
            state.metrics.auth_cache_hits.inc();
            Ok(cached.verdict)
        }
        Some(stale) => refresh(state, key, stale).await,
        None => match cache.entries.get_value_or_guard_async(&key).await {
            // Another request was reading this token; its answer is ours.
            Ok(cached) => {
                state.metrics.auth_cache_hits.inc();
                Ok(cached.verdict)
            }
            Err(guard) => {
                state.metrics.auth_cache_misses.inc();
                let mark = cache.mark();
                let verdict = resolve(state, token, &key).await?;
                let _ = guard.insert(Cached::new(verdict.clone()));
                cache.keep(&key, mark);
                Ok(verdict)
            }
        },
    }
}

/// Re-reads a stale answer. While the database cannot be reached, the stale
/// answer stands for up to `stale_if_error`: tokens seen recently keep
/// working through a brief outage (a revocation could not be stored then
/// anyway), while everything that needs the database gets 503.
async fn refresh(state: &AppState, key: Digest, stale: Cached) -> ApiResult<Verdict> {
    let cache = &state.auth;
    let usable = cache.may_stand_in(&stale);
    if stale.refreshing.swap(true, Ordering::AcqRel) && usable {
        state.metrics.auth_cache_hits.inc();
        return Ok(stale.verdict);
    }
    state.metrics.auth_cache_misses.inc();
    let mark = cache.mark();
    // A digest names one exact token text, whose signature was checked when
    // it was first seen: a forgery stays a forgery, and a good signature
    // stays good, so a refresh reads only the record.
    let fresh = match stale.verdict {
        Err(AuthFailure::BadSignature) => Ok(stale.verdict.clone()),
        _ => read_record(state, &key).await,
    };
    stale.refreshing.store(false, Ordering::Release);
    match fresh {
        Ok(verdict) => {
            cache.entries.insert(key, Cached::new(verdict.clone()));
            cache.keep(&key, mark);
            Ok(verdict)
        }
        Err(error) if usable => {
            tracing::warn!(status = %error.status, "the token store is unreachable: answering from a stale authentication");
            Ok(stale.verdict)
        }
        Err(error) => Err(error),
    }
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
    let token = bearer(parts)?;
    let caller = lookup(state, token).await??;
    if caller.token.status != Status::Active {
        return Err(AuthFailure::Inactive.into());
    }
    if caller.token.is_expired(now_millis()) {
        return Err(AuthFailure::Expired.into());
    }
    Ok(caller)
}

pub async fn authenticate(state: &AppState, parts: &Parts) -> ApiResult<Principal> {
    let caller = match authenticated_caller(state, parts).await {
        Ok(caller) => caller,
        Err(Refusal::Unauthorized(failure)) => {
            state.metrics.auth_failure(failure);
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

#[cfg(test)]
mod tests {
    use super::*;

    // Long enough that no pause between two lines of a test spans it.
    const TTL: Duration = Duration::from_millis(250);

    fn cache() -> AuthCache {
        AuthCache::new(
            16,
            Lifetimes {
                ttl: TTL,
                max_age: TTL * 5,
                stale_if_error: TTL * 3,
            },
        )
    }

    fn aged(age: Duration) -> Cached {
        let mut cached = Cached::new(Err(AuthFailure::UnknownToken));
        cached.fetched = Instant::now() - age;
        cached
    }

    #[test]
    fn past_its_ttl_an_answer_is_fresh_only_while_the_change_log_vouches_for_it() {
        let cache = cache();
        assert!(cache.is_fresh(&aged(TTL / 2)));
        assert!(!cache.is_fresh(&aged(TTL * 2)), "no read of the log yet");
        cache.change_log_read(Instant::now());
        assert!(cache.is_fresh(&aged(TTL * 2)));
        assert!(!cache.is_fresh(&aged(TTL * 6)), "older than max_age");
        std::thread::sleep(TTL);
        assert!(!cache.is_fresh(&aged(TTL * 2)), "the last read is a ttl old");
    }

    #[test]
    fn a_stale_answer_stands_in_until_stale_if_error_after_it_was_last_known_good() {
        let cache = cache();
        assert!(cache.may_stand_in(&aged(TTL * 2)));
        assert!(!cache.may_stand_in(&aged(TTL * 4)));
        // Vouched for by the log just now: known good now, however old.
        cache.change_log_read(Instant::now());
        assert!(cache.may_stand_in(&aged(TTL * 4)));
    }
}
