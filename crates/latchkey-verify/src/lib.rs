//! Verifies Latchkey's application API tokens inside any Rust service, with
//! no call to Latchkey per request.
//!
//! A [`Verifier`] follows one or more applications through Latchkey's
//! verifier feed (spec/API.md 1.6 and 1.7): it reads the published keys
//! (`/.well-known/jwks.json`) and each application's revoked list, then long
//! polls the feed for what changes. A token is then checked in memory: its
//! signature and claims (`latchkey_core::token::KeyRing::verify_claims`),
//! that it belongs to an application followed, that it is not revoked, and
//! the scope rules of Latchkey itself (`latchkey_core::scope`).
//!
//! It fails closed: once an application's feed has not answered well for
//! [`Builder::stale_after`] (5 s by default), its tokens are refused `503`
//! (or, when asked, checked by calling `/auth/introspect` instead).
//!
//! ```no_run
//! # async fn run(application: latchkey_verify::Id) -> Result<(), Box<dyn std::error::Error>> {
//! use axum::{routing::get, Router};
//! use latchkey_verify::{Verified, Verifier};
//!
//! let verifier = Verifier::builder("https://latchkey.example.com", std::env::var("LATCHKEY_TOKEN")?)
//!     .application(application)
//!     .start()?;
//! let app: Router = Router::new()
//!     .route("/state", get(|verified: Verified| async move { verified.token_id().to_string() }))
//!     .layer(verifier.layer().require("device.sendState"));
//! # Ok(()) }
//! ```

mod checked;
mod feed;
mod layer;
mod metrics;
mod refusal;
mod revocations;

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use arc_swap::{ArcSwap, Guard};
use axum::http::header::AUTHORIZATION;
use axum::http::HeaderMap;
use latchkey_core::model::TokenOwnerType;
use latchkey_core::scope::{any_grants, Action, TargetOwner};
use latchkey_core::time::now_millis;
use latchkey_core::token::{bearer_token, KeyRing, Rejected, TokenClaims};

pub use latchkey_core::Id;
pub use layer::{MissingLayer, VerifyLayer, VerifyService, WaitingFuture};
pub use metrics::Metrics;
pub use refusal::Refusal;

use crate::checked::CheckedKeys;
use crate::metrics::Counters;
use crate::revocations::Revocations;

/// How long an application's feed may go without a good answer before its
/// tokens are refused.
pub const DEFAULT_STALE_AFTER: Duration = Duration::from_secs(5);
/// How long each long poll of the feed waits for a change: well under the
/// bound, so a quiet feed still answers in time.
pub const DEFAULT_POLL_WAIT: Duration = Duration::from_secs(2);
/// The longest a call to `/auth/introspect` may take, when falling back.
const INTROSPECT_TIMEOUT: Duration = Duration::from_secs(2);
/// A token naming a key the ring lacks re-reads the JWKS at most this often.
const UNKNOWN_KEY_REREAD: Duration = Duration::from_secs(1);

/// The reader token: an application token holding `applicationApiTokens.get`
/// (or a user token that may read the applications). Never shown.
#[derive(Clone)]
struct ReaderToken(String);

impl std::fmt::Debug for ReaderToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ReaderToken(<redacted>)")
    }
}

/// Why a verifier could not be started.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("the Latchkey URL must start with http:// or https://")]
    Url,
    #[error("follow at least one application")]
    NoApplication,
    #[error("the poll wait must be a whole number of seconds, at least 1, and shorter than the stale bound")]
    PollWait,
    #[error("the HTTP client cannot be built: {0}")]
    Client(#[source] reqwest::Error),
}

/// How to start a [`Verifier`]: [`Verifier::builder`].
#[derive(Debug)]
pub struct Builder {
    url: String,
    reader: ReaderToken,
    applications: Vec<Id>,
    stale_after: Duration,
    poll_wait: Duration,
    introspect_when_stale: bool,
}

impl Builder {
    /// Follows this application: its tokens are the ones accepted.
    pub fn application(mut self, application: Id) -> Builder {
        self.applications.push(application);
        self
    }

    /// The fail-closed bound: how long an application's feed may go without
    /// a good answer before its tokens are refused. Default 5 s.
    pub fn stale_after(mut self, bound: Duration) -> Builder {
        self.stale_after = bound;
        self
    }

    /// How long each long poll waits for a change (whole seconds, shorter
    /// than the bound). Default 2 s.
    pub fn poll_wait(mut self, wait: Duration) -> Builder {
        self.poll_wait = wait;
        self
    }

    /// While a feed is stale, check each token by calling `/auth/introspect`
    /// instead of refusing it. Off by default: a Latchkey that is out of
    /// reach then refuses every token rather than slows every request.
    pub fn introspect_when_stale(mut self, fall_back: bool) -> Builder {
        self.introspect_when_stale = fall_back;
        self
    }

    /// Starts following the feed, on the current Tokio runtime, and returns
    /// at once; tokens are refused `503` until the first answers arrive
    /// ([`Verifier::ready`] waits for them).
    pub fn start(self) -> Result<Verifier, ConfigError> {
        let url = self.url.trim_end_matches('/').to_string();
        if !(url.starts_with("http://") || url.starts_with("https://")) {
            return Err(ConfigError::Url);
        }
        if self.applications.is_empty() {
            return Err(ConfigError::NoApplication);
        }
        let wait = self.poll_wait;
        if wait.subsec_nanos() != 0 || wait.as_secs() == 0 || wait >= self.stale_after {
            return Err(ConfigError::PollWait);
        }
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(2))
            .build()
            .map_err(ConfigError::Client)?;
        let applications = self.applications.iter().map(|&id| (id, Application::new())).collect();
        let shared = Arc::new(Shared {
            url,
            reader: self.reader,
            http,
            keys: ArcSwap::from_pointee(CheckedKeys::new(KeyRing::default())),
            keys_read: tokio::sync::Mutex::new(None),
            applications,
            stale_after: self.stale_after,
            poll_wait: self.poll_wait,
            introspect_when_stale: self.introspect_when_stale,
            started: Instant::now(),
            counters: Counters::default(),
        });
        let tasks = feed::spawn(&shared);
        Ok(Verifier {
            shared,
            _tasks: Arc::new(tasks),
        })
    }
}

/// Checks tokens of the applications it follows. Cheap to clone; the feed
/// is followed until the last clone is dropped.
#[derive(Clone)]
pub struct Verifier {
    shared: Arc<Shared>,
    _tasks: Arc<feed::Tasks>,
}

impl std::fmt::Debug for Verifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Verifier")
            .field("url", &self.shared.url)
            .field("reader", &self.shared.reader)
            .field("applications", &self.shared.applications.keys().collect::<Vec<_>>())
            .field("stale_after", &self.shared.stale_after)
            .finish_non_exhaustive()
    }
}

/// What the verifier and its feed tasks share.
struct Shared {
    /// Latchkey's base URL, without a trailing `/`.
    url: String,
    reader: ReaderToken,
    http: reqwest::Client,
    keys: ArcSwap<CheckedKeys>,
    /// Held while the JWKS is read, so reads never overtake each other;
    /// holds when a token of an unknown key last made it be read.
    keys_read: tokio::sync::Mutex<Option<Instant>>,
    applications: HashMap<Id, Application>,
    stale_after: Duration,
    poll_wait: Duration,
    introspect_when_stale: bool,
    started: Instant,
    counters: Counters,
}

/// One application followed.
struct Application {
    view: ArcSwap<View>,
    /// When its feed last answered well, in milliseconds since
    /// [`Shared::started`] plus one; 0: not since it started, or since the
    /// feed refused the reader token.
    fresh_at: AtomicU64,
}

/// What the feed said of an application.
enum View {
    /// Nothing yet.
    Starting,
    Followed {
        owner: TargetOwner,
        revoked: Revocations,
    },
    /// The feed answered `404`: every token of it is refused, for good.
    Deleted,
}

impl Application {
    fn new() -> Application {
        Application {
            view: ArcSwap::from_pointee(View::Starting),
            fresh_at: AtomicU64::new(0),
        }
    }
}

impl Shared {
    fn millis_since_start(&self) -> u64 {
        u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    fn mark_fresh(&self, application: &Application) {
        application
            .fresh_at
            .store(self.millis_since_start() + 1, Ordering::Release);
    }

    fn mark_unvouched(application: &Application) {
        application.fresh_at.store(0, Ordering::Release);
    }

    /// How long since the application's feed answered well; `None`: not yet.
    fn feed_age(&self, application: &Application) -> Option<Duration> {
        let fresh_at = application.fresh_at.load(Ordering::Acquire);
        (fresh_at != 0).then(|| Duration::from_millis(self.millis_since_start().saturating_sub(fresh_at - 1)))
    }

    fn is_fresh(&self, application: &Application) -> bool {
        self.feed_age(application).is_some_and(|age| age <= self.stale_after)
    }

    /// Re-reads the JWKS for a token of a key `seen` lacks, at most once a
    /// second; whether the ring may now hold it (read by this call, or by
    /// another since `seen`).
    async fn reread_keys_for(&self, seen: &Arc<CheckedKeys>) -> bool {
        let mut last_read = self.keys_read.lock().await;
        if !Arc::ptr_eq(&self.keys.load(), seen) {
            return true;
        }
        if last_read.is_some_and(|at| at.elapsed() < UNKNOWN_KEY_REREAD) {
            return false;
        }
        *last_read = Some(Instant::now());
        feed::read_keys_alone(self).await.is_ok()
    }

    /// Whether Latchkey itself accepts the token (`/auth/introspect`):
    /// `Ok(false)` for a `401`, `Err` when it cannot tell.
    async fn introspect(&self, token: &str) -> Result<bool, ()> {
        Counters::count(&self.counters.introspect_fallbacks);
        let answer = self
            .http
            .get(format!("{}/auth/introspect", self.url))
            .bearer_auth(token)
            .timeout(INTROSPECT_TIMEOUT)
            .send()
            .await
            .map_err(drop)?;
        match answer.status().as_u16() {
            200 => Ok(true),
            401 => Ok(false),
            _ => Err(()),
        }
    }
}

/// A token the verifier accepted: what handlers read (see [`VerifyLayer`]).
#[derive(Debug, Clone)]
pub struct Verified {
    claims: Arc<TokenClaims>,
    owner: TargetOwner,
}

impl Verified {
    /// The token's id (its `jti`), as Latchkey lists it.
    pub fn token_id(&self) -> Id {
        self.claims.id
    }

    /// The application the token belongs to.
    pub fn application_id(&self) -> Id {
        self.claims.owner_id
    }

    pub fn scope(&self) -> &[String] {
        &self.claims.scope
    }

    /// When the token expires, in seconds since the Unix epoch.
    pub fn expires_at(&self) -> Option<i64> {
        self.claims.expires_at
    }

    /// Whether the token's scope grants `action` (`resource.action`) on its
    /// application, by Latchkey's own rules.
    pub fn allows(&self, action: &Action) -> bool {
        any_grants(&self.claims.scope, action, self.owner)
    }

    /// [`Verified::allows`] as a result a handler can `?`:
    /// `verified.require("device.sendState")?` answers `403` otherwise. A
    /// malformed action is granted to no one.
    pub fn require(&self, action: &str) -> Result<(), Refusal> {
        match Action::parse(action) {
            Some(action) if self.allows(&action) => Ok(()),
            _ => Err(Refusal::MissingScope),
        }
    }
}

impl Verifier {
    /// A verifier of the applications to be added with
    /// [`Builder::application`], following the Latchkey at `url` with the
    /// reader token `reader`.
    pub fn builder(url: impl Into<String>, reader: impl Into<String>) -> Builder {
        Builder {
            url: url.into(),
            reader: ReaderToken(reader.into()),
            applications: Vec::new(),
            stale_after: DEFAULT_STALE_AFTER,
            poll_wait: DEFAULT_POLL_WAIT,
            introspect_when_stale: false,
        }
    }

    /// A layer that lets through only requests with a token this verifier
    /// accepts, handing the [`Verified`] token to the handler.
    pub fn layer(&self) -> VerifyLayer {
        VerifyLayer::new(self.clone())
    }

    /// Waits until every application followed has had a good answer from
    /// its feed (or was found deleted); `false` if not within `limit`.
    pub async fn ready(&self, limit: Duration) -> bool {
        let deadline = Instant::now() + limit;
        loop {
            let ready = self.shared.applications.values().all(|application| {
                self.shared.is_fresh(application) || matches!(**application.view.load(), View::Deleted)
            });
            if ready {
                return true;
            }
            if Instant::now() >= deadline {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// The request's token (one `Authorization: Bearer` header), checked as
    /// [`Verifier::verify_token`] does.
    pub async fn verify_request(&self, headers: &HeaderMap) -> Result<Verified, Refusal> {
        self.verify_token(token_of(headers)?).await
    }

    /// Checks a token: signed by a published key, issued by Latchkey for an
    /// application followed, not expired, not revoked, and the feed fresh.
    /// Not counted in the metrics (the layer counts what it decides).
    pub async fn verify_token(&self, token: &str) -> Result<Verified, Refusal> {
        let mut check = self.check(token);
        if let Check::UnknownKey(seen) = &check {
            check = match self.shared.reread_keys_for(seen).await {
                true => self.check(token),
                false => Check::Done(Err(Refusal::BadSignature)),
            };
        }
        match check {
            Check::Done(verdict) => verdict,
            Check::UnknownKey(_) => Err(Refusal::BadSignature),
            Check::Ask { claims, owner } => {
                let owner = fall_back(&self.shared, token, owner).await?;
                Ok(Verified { claims, owner })
            }
        }
    }

    /// What can be told of a token without waiting: the verdict, or what
    /// to wait for (the JWKS, or Latchkey's own answer).
    fn check(&self, token: &str) -> Check {
        let shared = &self.shared;
        // A guard, not an Arc: no shared counter is touched per request.
        let keys = shared.keys.load();
        let claims = match keys.verify(token, now_millis) {
            Ok(claims) => claims,
            Err(Rejected::UnknownKey) => return Check::UnknownKey(Guard::into_inner(keys)),
            Err(Rejected::Expired) => return Check::Done(Err(Refusal::Expired)),
            Err(Rejected::Malformed | Rejected::BadSignature | Rejected::BadClaims) => {
                return Check::Done(Err(Refusal::BadSignature))
            }
        };
        let application = match claims.owner_type {
            TokenOwnerType::Application => shared.applications.get(&claims.owner_id),
            TokenOwnerType::User => None,
        };
        let Some(application) = application else {
            return Check::Done(Err(Refusal::NotFollowed));
        };
        let view = application.view.load();
        let verdict = match &**view {
            View::Deleted => Err(Refusal::ApplicationDeleted),
            View::Followed { owner, revoked } if shared.is_fresh(application) => match revoked.is_revoked(&claims.id) {
                true => Err(Refusal::Revoked),
                false => Ok(*owner),
            },
            View::Followed { owner, .. } if shared.introspect_when_stale => {
                return Check::Ask { claims, owner: *owner };
            }
            // Before the first answer the owner is unknown: taken as a user,
            // whose applications the fewest scopes reach.
            View::Starting if shared.introspect_when_stale => {
                return Check::Ask {
                    claims,
                    owner: TargetOwner::User,
                };
            }
            View::Followed { .. } | View::Starting => Err(Refusal::Stale),
        };
        Check::Done(verdict.map(|owner| Verified { claims, owner }))
    }

    /// Tokens accepted and refused, feed reads and ages, so far.
    pub fn metrics(&self) -> Metrics {
        let shared = &self.shared;
        let mut ages: Vec<(Id, Option<Duration>)> = shared
            .applications
            .iter()
            .map(|(id, application)| (*id, shared.feed_age(application)))
            .collect();
        ages.sort_by_key(|(id, _)| *id);
        shared.counters.snapshot(ages)
    }

    /// The request's verdict when it needs no wait (almost always: a
    /// token seen before, of a key held, while the feed is fresh), else
    /// `None`; counted as [`Verifier::admit`] counts.
    fn admit_now(&self, headers: &HeaderMap, required: Option<&Action>) -> Option<Result<Verified, Refusal>> {
        let verdict = match token_of(headers).map(|token| self.check(token)) {
            Err(refusal) => Err(refusal),
            Ok(Check::Done(verdict)) => verdict,
            Ok(Check::UnknownKey(_) | Check::Ask { .. }) => return None,
        };
        Some(self.judge(verdict, required))
    }

    /// Checks the request's token and, when given, that its scope grants
    /// `required`; counts the outcome.
    async fn admit(&self, headers: &HeaderMap, required: Option<&Action>) -> Result<Verified, Refusal> {
        let verdict = self.verify_request(headers).await;
        self.judge(verdict, required)
    }

    /// The verdict with `required` checked, counted.
    fn judge(&self, verdict: Result<Verified, Refusal>, required: Option<&Action>) -> Result<Verified, Refusal> {
        let verdict = verdict.and_then(|verified| match required {
            Some(action) if !verified.allows(action) => Err(Refusal::MissingScope),
            _ => Ok(verified),
        });
        let counters = &self.shared.counters;
        match &verdict {
            Ok(_) => Counters::count(&counters.accepted),
            Err(refusal) => counters.refused(*refusal),
        }
        verdict
    }
}

/// What [`Verifier::check`] could tell without waiting.
enum Check {
    Done(Result<Verified, Refusal>),
    /// The token names a key the ring (this one) lacks: read the JWKS.
    UnknownKey(Arc<CheckedKeys>),
    /// The feed is stale and the verifier may ask Latchkey instead.
    Ask {
        claims: Arc<TokenClaims>,
        owner: TargetOwner,
    },
}

/// The token of the request's one `Authorization: Bearer` header.
fn token_of(headers: &HeaderMap) -> Result<&str, Refusal> {
    let mut values = headers.get_all(AUTHORIZATION).iter();
    match (values.next(), values.next()) {
        (None, _) => Err(Refusal::MissingToken),
        (Some(value), None) => value
            .to_str()
            .ok()
            .and_then(bearer_token)
            .ok_or(Refusal::MalformedHeader),
        (Some(_), Some(_)) => Err(Refusal::MalformedHeader),
    }
}

/// The stale path's answer: Latchkey's own, by `/auth/introspect`.
async fn fall_back(shared: &Shared, token: &str, owner: TargetOwner) -> Result<TargetOwner, Refusal> {
    match shared.introspect(token).await {
        Ok(true) => Ok(owner),
        Ok(false) => Err(Refusal::Revoked),
        Err(()) => Err(Refusal::Stale),
    }
}
