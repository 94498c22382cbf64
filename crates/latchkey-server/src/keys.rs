//! The signing keys this instance uses: the signer of new tokens and the
//! ring that verifies presented ones, kept in step with the database.
//!
//! The keys are re-read every [`REFRESH`], so a rotation, a new key's turn
//! to sign and a retirement reach every instance within a second. A token
//! naming a key the ring lacks has the ring re-read at once — at most once a
//! second, so tokens with made-up `kid`s cost no more than that. Whenever the
//! ring changes, every cached authentication is forgotten: answers for
//! tokens of a retired key, and refusals of tokens whose key had not arrived
//! yet.

use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;
use latchkey_core::master_key::{open_keys, MasterKey};
use latchkey_core::model::{StoredKey, StoredSeed};
use latchkey_core::time::now_millis;
use latchkey_core::token::{keys_at, KeyRing, Signer};
use latchkey_store::{StoreError, StoreResult};
use tokio::time::{Instant, MissedTickBehavior};

use crate::state::AppState;

/// How often the keys are re-read.
pub const REFRESH: Duration = Duration::from_millis(500);
/// Least time between two re-reads for tokens of unknown keys.
const UNKNOWN_KEY_REREAD: Duration = Duration::from_secs(1);

/// The keys as last read.
pub struct Loaded {
    pub signer: Signer,
    pub ring: KeyRing,
}

impl Loaded {
    /// What the stored keys make now, opened with the master key when there
    /// is one; an error when they cannot be opened so ([`open_keys`]), or
    /// when no key may sign (never after a first start: the last signing key
    /// cannot be retired).
    pub fn open(stored: Vec<StoredKey<StoredSeed>>, master_key: Option<&MasterKey>) -> StoreResult<Loaded> {
        let keys = open_keys(stored, master_key)?;
        let (signer, ring) = keys_at(&keys, now_millis())
            .ok_or_else(|| StoreError::Database("no signing key may sign: every key is retired".to_string()))?;
        Ok(Loaded { signer, ring })
    }

    fn same_as(&self, other: &Loaded) -> bool {
        self.signer.kid() == other.signer.kid() && self.ring.kids() == other.ring.kids()
    }
}

pub struct Keys {
    current: ArcSwap<Loaded>,
    /// What the stored keys are opened with, on every re-read.
    master_key: Option<MasterKey>,
    /// When the ring was last re-read for a token of an unknown key; held
    /// during that read, so concurrent such tokens share it.
    unknown_key_read: tokio::sync::Mutex<Option<Instant>>,
}

impl Keys {
    pub fn new(loaded: Loaded, master_key: Option<MasterKey>) -> Keys {
        Keys {
            current: ArcSwap::from_pointee(loaded),
            master_key,
            unknown_key_read: tokio::sync::Mutex::new(None),
        }
    }

    pub fn current(&self) -> Arc<Loaded> {
        self.current.load_full()
    }
}

/// Re-reads the keys; when they changed, uses them and forgets every cached
/// authentication. Returns whether they changed.
pub async fn reload(state: &AppState) -> StoreResult<bool> {
    state.metrics.key_ring_reads.inc();
    let loaded = Loaded::open(state.store.signing_keys().await?, state.keys.master_key.as_ref())?;
    if loaded.same_as(&state.keys.current()) {
        return Ok(false);
    }
    tracing::info!(signing = loaded.signer.kid(), keys = ?loaded.ring.kids(), "signing keys changed");
    state.keys.current.store(Arc::new(loaded));
    state.auth.evict_all();
    Ok(true)
}

/// For a token whose key is not in the ring: re-reads the keys, unless they
/// were re-read for this less than a second ago. Returns whether they changed.
pub async fn reload_for_unknown_key(state: &AppState) -> StoreResult<bool> {
    let mut last = state.keys.unknown_key_read.lock().await;
    if last.is_some_and(|at| at.elapsed() < UNKNOWN_KEY_REREAD) {
        return Ok(false);
    }
    *last = Some(Instant::now());
    reload(state).await
}

/// Re-reads the keys every [`REFRESH`], for as long as the process runs.
pub fn spawn_refresh(state: AppState) {
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(REFRESH);
        ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
        let mut failing = false;
        loop {
            ticks.tick().await;
            match reload(&state).await {
                Ok(_) => failing = false,
                Err(error) if !failing => {
                    failing = true;
                    tracing::warn!(%error, "cannot re-read the signing keys: a rotation or retirement is not seen until it can");
                }
                Err(_) => {}
            }
        }
    });
}
