//! Unauthenticated refusals (`401`), summarised: per source address and
//! reason, counted in memory and logged once a minute, the busiest sources
//! first. Each is counted in `/metrics` too (`latchkey_auth_failures_total`).
//! They are never one audit entry each, which would let anyone fill the disk.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::auth::AuthFailure;

/// Most (source, reason) pairs counted apart in one period; refusals from
/// further sources are counted together, so memory stays bounded whatever
/// the number of sources.
const MAX_SOURCES: usize = 1_000;
/// Most pairs logged per period, the busiest first.
const LOGGED: usize = 20;

/// The counts of the current period.
#[derive(Default)]
pub struct Unauthenticated {
    counts: Mutex<HashMap<(Option<IpAddr>, AuthFailure), u64>>,
    /// Refusals from sources past [`MAX_SOURCES`].
    others: AtomicU64,
}

/// One period's counts: the busiest pairs first, and the count of the rest.
#[derive(Debug, PartialEq, Eq)]
pub struct Summary {
    pub busiest: Vec<(Option<IpAddr>, AuthFailure, u64)>,
    pub others: u64,
}

impl Unauthenticated {
    pub fn note(&self, source: Option<IpAddr>, reason: AuthFailure) {
        let mut counts = self.counts();
        let full = counts.len() >= MAX_SOURCES;
        match counts.get_mut(&(source, reason)) {
            Some(count) => *count += 1,
            None if full => {
                self.others.fetch_add(1, Ordering::Relaxed);
            }
            None => {
                counts.insert((source, reason), 1);
            }
        }
    }

    fn counts(&self) -> std::sync::MutexGuard<'_, HashMap<(Option<IpAddr>, AuthFailure), u64>> {
        // Counts stay usable even if a holder panicked: they are only counts.
        self.counts.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// This period's summary; the next period starts empty.
    pub fn take(&self) -> Summary {
        let counts = std::mem::take(&mut *self.counts());
        let mut pairs: Vec<_> = counts
            .into_iter()
            .map(|((source, reason), count)| (source, reason, count))
            .collect();
        pairs.sort_by_key(|(_, _, count)| std::cmp::Reverse(*count));
        let rest: u64 = pairs.iter().skip(LOGGED).map(|(_, _, count)| count).sum();
        pairs.truncate(LOGGED);
        Summary {
            busiest: pairs,
            others: rest + self.others.swap(0, Ordering::Relaxed),
        }
    }
}

/// Logs a summary every `period` (a warning per busiest pair, then one for
/// the rest), nothing for a quiet period.
pub fn spawn_summaries(unauthenticated: Arc<Unauthenticated>, period: Duration) {
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(period);
        ticks.tick().await;
        loop {
            ticks.tick().await;
            let summary = unauthenticated.take();
            for (source, reason, count) in &summary.busiest {
                let source = source.map_or_else(|| "unknown".to_string(), |ip| ip.to_string());
                tracing::warn!(
                    source,
                    reason = reason.label(),
                    count,
                    "unauthenticated requests refused (401)"
                );
            }
            if summary.others > 0 {
                tracing::warn!(
                    count = summary.others,
                    "unauthenticated requests refused (401) from other sources"
                );
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_per_source_and_reason_and_bounds_the_sources() {
        let refusals = Unauthenticated::default();
        let one: IpAddr = "192.0.2.1".parse().unwrap();
        for _ in 0..3 {
            refusals.note(Some(one), AuthFailure::BadSignature);
        }
        refusals.note(Some(one), AuthFailure::MissingHeader);
        for n in 0..(MAX_SOURCES as u32 + 500) {
            refusals.note(Some(IpAddr::from(n.to_be_bytes())), AuthFailure::Expired);
        }
        assert!(refusals.counts.lock().unwrap().len() <= MAX_SOURCES);
        let summary = refusals.take();
        assert_eq!(summary.busiest[0], (Some(one), AuthFailure::BadSignature, 3));
        assert_eq!(summary.busiest.len(), LOGGED);
        let logged: u64 = summary.busiest.iter().map(|(_, _, count)| count).sum();
        assert_eq!(
            logged + summary.others,
            4 + MAX_SOURCES as u64 + 500,
            "every refusal is counted once"
        );
        assert_eq!(
            refusals.take(),
            Summary {
                busiest: vec![],
                others: 0
            }
        );
    }
}
