//! Follows the authentication change log ([`latchkey_store::changes`]): a few
//! times a second, reads what every instance changed since the last read,
//! has the authentication cache forget it, and reports each complete read,
//! which vouches for everything left in the cache (the rules live in
//! [`crate::auth::AuthCache`]). When the log cannot be read, nothing is
//! vouched for.

use std::time::Duration;

use latchkey_store::changes::{LogPosition, AUTH_CHANGES_PER_READ, AUTH_CHANGE_RETENTION};
use latchkey_store::StoreResult;
use tokio::time::{Instant, MissedTickBehavior};

use crate::state::AppState;

/// Reads the change log every `interval`, for as long as the process runs.
pub fn spawn(state: AppState, interval: Duration) {
    tokio::spawn(follow(state, interval));
}

async fn follow(state: AppState, interval: Duration) {
    let mut ticks = tokio::time::interval(interval);
    ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
    // None until the first read, and again after too long without one.
    let mut cursor: Option<LogPosition> = None;
    let mut last_read = Instant::now();
    let mut failing = false;
    loop {
        ticks.tick().await;
        // Entries older than the retention are pruned: after a gap that
        // long, some may be gone unseen, so start over.
        if last_read.elapsed() > AUTH_CHANGE_RETENTION / 2 {
            cursor = None;
        }
        match read_to_end(&state, cursor.clone()).await {
            Ok((next, started, missed_some)) => {
                // Without a cursor, anything cached may predate a change the
                // log will never show this reader.
                state.auth.change_log_read(started, cursor.is_none() || missed_some);
                // After a miss, start over from where the log ends now.
                cursor = (!missed_some).then_some(next);
                last_read = Instant::now();
                if std::mem::take(&mut failing) {
                    tracing::info!("reading the authentication change log again");
                }
            }
            Err(error) if !failing => {
                failing = true;
                tracing::warn!(%error, "cannot read the authentication change log: cached authentications are re-read after the cache's ttl until it can");
            }
            Err(_) => {}
        }
    }
}

/// Reads and applies the log from `cursor` to its end; returns the new
/// cursor, when the last (complete) read started, and whether entries went
/// unread (pruned, or the log is not the one the cursor came from). Without
/// a cursor it only finds where the log ends.
async fn read_to_end(state: &AppState, mut cursor: Option<LogPosition>) -> StoreResult<(LogPosition, Instant, bool)> {
    let mut missed_some = false;
    loop {
        let started = Instant::now();
        let read = state.store.auth_changes(cursor.as_ref()).await?;
        missed_some |= read.expired;
        for change in &read.changes {
            state.auth.forget(change);
        }
        state.metrics.auth_changes.inc_by(read.changes.len() as u64);
        if !read.changes.is_empty() {
            // Wakes the verifier feed's long polls (routes::verifier).
            state.change_log_reads.send_modify(|reads| *reads += 1);
        }
        if read.changes.len() < AUTH_CHANGES_PER_READ {
            return Ok((read.position, started, missed_some));
        }
        cursor = Some(read.position);
    }
}
