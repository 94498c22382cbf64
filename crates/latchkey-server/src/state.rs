//! What every handler shares.

use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use latchkey_core::master_key::MasterKey;
use latchkey_store::Store;
use tokio::sync::watch;

use crate::audit::unauthenticated::Unauthenticated;
use crate::audit::AuditLog;
use crate::auth::{AuthCache, Lifetimes};
use crate::keys::{Keys, Loaded};
use crate::last_use::LastUses;
use crate::metrics::Metrics;
use crate::rate_limit::RateLimit;

#[derive(Debug, Clone)]
pub struct Settings {
    /// How long authentication answers are trusted (see [`crate::auth`]).
    pub auth_cache: Lifetimes,
    /// How many tokens' answers are kept.
    pub auth_cache_capacity: usize,
    /// How often the change log is read ([`crate::feed`]); `None` never, and
    /// then every answer is re-read after the cache's ttl.
    pub auth_change_poll: Option<Duration>,
    /// Requests per second one token may make; `None` is unlimited.
    pub rate_limit: Option<NonZeroU32>,
    /// How often tokens' last uses are written ([`crate::last_use`]).
    pub last_use_flush: Duration,
}

#[derive(Clone)]
pub struct AppState(Arc<Shared>);

pub struct Shared {
    pub store: Arc<dyn Store>,
    pub keys: Keys,
    pub auth: AuthCache,
    pub last_uses: LastUses,
    pub rate_limit: RateLimit,
    pub metrics: Arc<Metrics>,
    /// Refusals waiting to be written to the audit log.
    pub audit: AuditLog,
    pub unauthenticated: Arc<Unauthenticated>,
    /// How many of the follower's reads ([`crate::feed`]) found changes:
    /// the verifier feed's long polls wait for it to move.
    pub change_log_reads: watch::Sender<u64>,
}

impl std::ops::Deref for AppState {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.0
    }
}

impl AppState {
    /// Starts the audit log's writer task: call it on a tokio runtime.
    /// `master_key` opens the stored signing keys whenever they are re-read.
    pub fn new(store: Arc<dyn Store>, keys: Loaded, master_key: Option<MasterKey>, settings: &Settings) -> AppState {
        let auth = AuthCache::new(settings.auth_cache_capacity, settings.auth_cache);
        let rate_limit = RateLimit::new(settings.rate_limit);
        let metrics = Arc::new(Metrics::new());
        let audit = AuditLog::start(Arc::clone(&store), Arc::clone(&metrics));
        AppState(Arc::new(Shared {
            store,
            keys: Keys::new(keys, master_key),
            auth,
            last_uses: LastUses::default(),
            rate_limit,
            metrics,
            audit,
            unauthenticated: Arc::default(),
            change_log_reads: watch::Sender::new(0),
        }))
    }
}
