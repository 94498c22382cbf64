//! When each token was last used, gathered in memory and written in batches,
//! so the verify path never waits on the database for it.
//!
//! - Every authenticated [`Caller`](crate::auth::Caller) holds its token's
//!   [`PendingUse`]; a successful authentication, cache hit or miss, notes
//!   its time there: an atomic read, and a write at most once a millisecond
//!   per token. No lock.
//! - Slots are made (under a lock) only when a token's record is read from
//!   the database, the cache's miss path, and there is one per token id
//!   however often it is re-read: memory is bounded by the tokens cached,
//!   plus those used since the last flush.
//! - [`flush`] takes every slot's pending use and writes them in batches of
//!   at most [`USES_PER_WRITE`] through
//!   [`Store::record_token_uses`](latchkey_store::Store::record_token_uses),
//!   which keeps the later of the stored and the new time. A batch that
//!   fails is put back for the next flush. [`spawn`] flushes every interval;
//!   `latchkey serve` flushes once more after its last request on shutdown.

use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use latchkey_core::time::Millis;
use latchkey_core::Id;
use latchkey_store::StoreResult;
use tokio::time::MissedTickBehavior;

use crate::state::AppState;

/// Most uses one write to the store carries.
pub const USES_PER_WRITE: usize = 1000;

/// The last use of one token not yet written: milliseconds since the epoch,
/// or [`PendingUse::NONE`].
#[derive(Debug, Default)]
pub struct PendingUse(AtomicI64);

impl PendingUse {
    /// Nothing to write. Every real use is later than the epoch.
    const NONE: Millis = 0;

    /// Notes a use at `at`. Loads first, so a token used many times a
    /// millisecond writes its cache line once.
    pub fn note(&self, at: Millis) {
        if self.0.load(Ordering::Relaxed) < at {
            self.0.fetch_max(at, Ordering::Relaxed);
        }
    }

    /// Takes the pending use, leaving none.
    fn take(&self) -> Option<Millis> {
        match self.0.swap(PendingUse::NONE, Ordering::Relaxed) {
            PendingUse::NONE => None,
            at => Some(at),
        }
    }
}

/// Every token's [`PendingUse`], by token id.
#[derive(Default)]
pub struct LastUses {
    slots: Mutex<HashMap<Id, Arc<PendingUse>>>,
    /// Held for a whole flush, so a flush on shutdown waits for one under
    /// way: uses it has taken are written before the process exits.
    flushing: tokio::sync::Mutex<()>,
}

/// Taken uses: what to write, and where to put each back if that fails.
type Taken = Vec<(Id, Millis, Arc<PendingUse>)>;

impl LastUses {
    /// The slot where uses of `token` are noted (the same for every caller
    /// of one token).
    pub fn slot(&self, token: Id) -> Arc<PendingUse> {
        Arc::clone(self.slots().entry(token).or_default())
    }

    /// Takes every pending use, and forgets slots that no caller holds and
    /// that have nothing pending.
    fn take_all(&self) -> Taken {
        let mut taken = Vec::new();
        self.slots().retain(|id, slot| match slot.take() {
            Some(at) => {
                taken.push((*id, at, Arc::clone(slot)));
                true
            }
            // Only this map holds it: no caller can note a use any more.
            None => Arc::strong_count(slot) > 1,
        });
        taken
    }

    fn slots(&self) -> MutexGuard<'_, HashMap<Id, Arc<PendingUse>>> {
        // The map stays consistent even if a holder panicked.
        self.slots.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// How many tokens have a slot (for tests of the bound).
    #[cfg(test)]
    fn tracked(&self) -> usize {
        self.slots().len()
    }
}

/// Writes every use noted since the last flush. Uses of a batch that could
/// not be written are noted again, for the next flush; the first error is
/// returned.
pub async fn flush(state: &AppState) -> StoreResult<()> {
    let _flushing = state.last_uses.flushing.lock().await;
    let taken = state.last_uses.take_all();
    let mut outcome = Ok(());
    for batch in taken.chunks(USES_PER_WRITE) {
        let uses: Vec<(Id, Millis)> = batch.iter().map(|(id, at, _)| (*id, *at)).collect();
        if let Err(error) = state.store.record_token_uses(&uses).await {
            for (_, at, slot) in batch {
                slot.note(*at);
            }
            if outcome.is_ok() {
                outcome = Err(error);
            }
        }
    }
    outcome
}

/// Flushes every `interval`, for as long as the process runs.
pub fn spawn(state: AppState, interval: Duration) {
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(interval);
        ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
        let mut failing = false;
        loop {
            ticks.tick().await;
            match flush(&state).await {
                Ok(()) if std::mem::take(&mut failing) => tracing::info!("writing tokens' last uses again"),
                Ok(()) => {}
                Err(error) if !failing => {
                    failing = true;
                    tracing::warn!(%error, "cannot write tokens' last uses: they are kept and tried again");
                }
                Err(_) => {}
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(n: u8) -> Id {
        format!("{n:024x}").parse().unwrap()
    }

    #[test]
    fn the_latest_use_is_pending_until_taken() {
        let uses = LastUses::default();
        let slot = uses.slot(id(1));
        slot.note(20);
        slot.note(10);
        uses.slot(id(1)).note(15);
        let taken: Vec<(Id, Millis)> = uses.take_all().iter().map(|(id, at, _)| (*id, *at)).collect();
        assert_eq!(taken, [(id(1), 20)], "one entry per token, its latest use");
        assert!(uses.take_all().is_empty(), "nothing since");
        slot.note(30);
        assert_eq!(uses.take_all()[0].1, 30, "a use after a flush waits for the next");
    }

    #[test]
    fn a_slot_no_caller_holds_is_forgotten_once_written() {
        let uses = LastUses::default();
        let slot = uses.slot(id(1));
        let _held = uses.slot(id(2));
        slot.note(5);
        drop(slot);
        assert_eq!(uses.take_all().len(), 1, "the pending use is taken even so");
        assert_eq!(uses.tracked(), 2, "kept until a flush finds it idle");
        assert!(uses.take_all().is_empty());
        assert_eq!(uses.tracked(), 1, "only the held slot remains");
    }
}
