//! The authentication cache and all of its policy: when a cached answer may
//! be used without the database, when it must be re-read, who re-reads it,
//! what stands in while that read is under way or failing, and what
//! evictions do to answers read meanwhile.
//!
//! - An answer is **fresh** for `ttl` after it was read, and up to `max_age`
//!   while the change log vouches for it: a complete read of the log started
//!   within the last `ttl` ([`crate::feed`] reports those reads). A fresh
//!   answer is used as it is: the hot path, atomics only, no lock.
//! - A stale answer is **re-read** by one request at a time. Meanwhile the
//!   others use the stale answer, but only until twice the `ttl` after it was
//!   last known good (read, or vouched for by the log); past that each asks
//!   the database itself. With the default ttl of 500 ms no answer is used
//!   more than 1 s (the contract's bound) after it was last known good, even
//!   when the database hangs.
//! - A failed re-read is the request's error (`503`) unless the answer was
//!   last known good within `stale_if_error`, an opt-in (0 by default): then
//!   the stale answer stands, and a token revoked elsewhere meanwhile is
//!   accepted here for up to that long.
//! - A refusal for a bad signature never goes stale: a digest names one exact
//!   token text, and a forgery stays a forgery.
//! - Evictions (this process's writes, the change log) and inserts take one
//!   lock, so an answer read before an eviction is never cached after it.
//!
//! Time is tokio's clock, so tests can pause and advance it.

use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use latchkey_core::model::{Digest, TokenOwnerType};
use latchkey_core::Id;
use latchkey_store::AuthChange;
use quick_cache::sync::Cache;
use tokio::time::Instant;

use super::{AuthFailure, Caller, Reach, Verdict};
use crate::error::ApiResult;

/// How long the cache trusts its answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lifetimes {
    /// An answer is re-read after this, unless the change log vouches for it;
    /// none is used past twice this without a successful read (unless
    /// `stale_if_error` is longer).
    pub ttl: Duration,
    /// An answer is re-read after this even while the change log vouches for it.
    pub max_age: Duration,
    /// When a re-read fails, a stale answer stands until this long after it
    /// was last known good; zero never.
    pub stale_if_error: Duration,
}

impl Lifetimes {
    /// The defaults of `latchkey serve`: a change made elsewhere is seen
    /// within 1 s, and through an outage too.
    pub const DEFAULT: Lifetimes = Lifetimes {
        ttl: Duration::from_millis(500),
        max_age: Duration::from_secs(60),
        stale_if_error: Duration::ZERO,
    };

    /// How long after it was last known good a stale answer may stand in for
    /// one being re-read by another request.
    fn while_refreshing(&self) -> Duration {
        self.stale_if_error.max(self.ttl.saturating_mul(2))
    }
}

/// What a lookup asks its reader for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Read {
    /// A token not in the cache: check its signature, then read its record.
    FirstSight,
    /// A stale answer: the signature was good, read the record again.
    Refresh,
}

/// A lookup's verdict, and whether this request read it from the database.
#[derive(Debug)]
pub struct Answer {
    pub verdict: Verdict,
    pub read: bool,
}

#[derive(Clone)]
struct Cached {
    /// When the read that produced this answer started.
    read_at: Instant,
    verdict: Verdict,
    /// Held by the one request re-reading this answer; see [`RefreshClaim`].
    refreshing: Arc<AtomicBool>,
}

impl Cached {
    fn new(read_at: Instant, verdict: Verdict) -> Cached {
        Cached {
            read_at,
            verdict,
            refreshing: Arc::new(AtomicBool::new(false)),
        }
    }
}

/// The right to re-read one answer, released on drop: a request that ends
/// mid-read (a client hanging up drops its future) leaves no claim behind.
struct RefreshClaim(Arc<AtomicBool>);

impl RefreshClaim {
    fn take(flag: &Arc<AtomicBool>) -> Option<RefreshClaim> {
        (!flag.swap(true, Ordering::AcqRel)).then(|| RefreshClaim(Arc::clone(flag)))
    }
}

impl Drop for RefreshClaim {
    fn drop(&mut self) {
        self.0.store(false, Ordering::Release);
    }
}

pub struct AuthCache {
    entries: Cache<Digest, Cached>,
    lifetimes: Lifetimes,
    /// Counts evictions. Evicting and inserting both hold it, so an insert
    /// can tell whether an eviction happened since its read started.
    evictions: Mutex<u64>,
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
            evictions: Mutex::new(0),
            change_log_read: AtomicU64::new(0),
            epoch: Instant::now(),
        }
    }

    /// The verdict for the token with digest `key`: from the cache, or from
    /// `read` when missing or stale.
    pub async fn lookup<R, F>(&self, key: Digest, read: R) -> ApiResult<Answer>
    where
        R: FnOnce(Read) -> F,
        F: Future<Output = ApiResult<Verdict>>,
    {
        match self.entries.get(&key) {
            Some(cached) if self.is_fresh(&cached) => Ok(Answer {
                verdict: cached.verdict,
                read: false,
            }),
            Some(stale) => self.refresh(key, stale, read).await,
            None => self.first_sight(key, read).await,
        }
    }

    /// Reads an unseen token; concurrent requests for it share the read.
    async fn first_sight<R, F>(&self, key: Digest, read: R) -> ApiResult<Answer>
    where
        R: FnOnce(Read) -> F,
        F: Future<Output = ApiResult<Verdict>>,
    {
        let guard = match self.entries.get_value_or_guard_async(&key).await {
            Ok(cached) => {
                return Ok(Answer {
                    verdict: cached.verdict,
                    read: false,
                })
            }
            Err(guard) => guard,
        };
        let (mark, read_at) = (self.mark(), Instant::now());
        // On an error the guard drops unfilled and a waiting request reads.
        let verdict = read(Read::FirstSight).await?;
        self.unless_evicted_since(mark, || {
            // Fails only when the placeholder is gone already: nothing to fill.
            let _ = guard.insert(Cached::new(read_at, verdict.clone()));
        });
        Ok(Answer { verdict, read: true })
    }

    /// Re-reads a stale answer, or lets it stand in (see the module's rules).
    async fn refresh<R, F>(&self, key: Digest, stale: Cached, read: R) -> ApiResult<Answer>
    where
        R: FnOnce(Read) -> F,
        F: Future<Output = ApiResult<Verdict>>,
    {
        let now = Instant::now();
        // Held until this request is done with the entry, however it ends.
        let claim = RefreshClaim::take(&stale.refreshing);
        if claim.is_none() && self.known_good_within(&stale, now, self.lifetimes.while_refreshing()) {
            return Ok(Answer {
                verdict: stale.verdict,
                read: false,
            });
        }
        let mark = self.mark();
        match read(Read::Refresh).await {
            Ok(verdict) => {
                self.unless_evicted_since(mark, || self.entries.insert(key, Cached::new(now, verdict.clone())));
                Ok(Answer { verdict, read: true })
            }
            Err(_) if self.known_good_within(&stale, Instant::now(), self.lifetimes.stale_if_error) => {
                tracing::warn!(
                    "the token store is unreachable: answering from a stale authentication (stale-if-error)"
                );
                Ok(Answer {
                    verdict: stale.verdict,
                    read: true,
                })
            }
            Err(error) => Err(error),
        }
    }

    /// Whether `cached` can answer without a database read.
    fn is_fresh(&self, cached: &Cached) -> bool {
        let now = Instant::now();
        let age = now.saturating_duration_since(cached.read_at);
        let Lifetimes { ttl, max_age, .. } = self.lifetimes;
        matches!(cached.verdict, Err(AuthFailure::BadSignature))
            || age < ttl
            || (age < max_age && self.since_change_log_read(now) < ttl)
    }

    /// Whether `cached` was last known good (read, or vouched for by the
    /// change log) less than `limit` before `now`.
    fn known_good_within(&self, cached: &Cached, now: Instant, limit: Duration) -> bool {
        let age = now.saturating_duration_since(cached.read_at);
        age.min(self.since_change_log_read(now)) < limit
    }

    /// Forgets the token with this digest (after a PATCH or DELETE).
    pub fn evict(&self, digest: &Digest) {
        let mut evictions = self.evictions();
        *evictions += 1;
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
            AuthChange::Token { digest, .. } => self.evict(digest),
            AuthChange::Application(application) => self.evict_application(*application),
            AuthChange::User(user) => self.evict_user(*user),
            // The key ring's own reload forgets everything when keys change
            // (crate::keys).
            AuthChange::Keys => {}
        }
    }

    /// Forgets every answer, refusals too (after the signing keys changed).
    pub fn evict_all(&self) {
        let mut evictions = self.evictions();
        *evictions += 1;
        self.entries.clear();
    }

    fn evict_callers(&self, doomed: impl Fn(&Caller) -> bool) {
        let mut evictions = self.evictions();
        *evictions += 1;
        self.entries
            .retain(|_, cached| !cached.verdict.as_ref().is_ok_and(|caller| doomed(caller)));
    }

    /// Records a complete read of the change log that started at `started`:
    /// every change committed before then has been forgotten, so everything
    /// cached is vouched for as of then. After `missed_some` (the first read,
    /// or one after a gap longer than the log keeps entries) changes may have
    /// gone unseen, so every caller is forgotten first. Refusals stay: no
    /// change makes a forged or deleted token good again.
    pub fn change_log_read(&self, started: Instant, missed_some: bool) {
        if missed_some {
            self.evict_callers(|_| true);
        }
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

    fn evictions(&self) -> MutexGuard<'_, u64> {
        // The count stays right even if a holder panicked.
        self.evictions.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// A mark to take before reading a token from the database.
    fn mark(&self) -> u64 {
        *self.evictions()
    }

    /// Runs `insert` (caching an answer read since `mark`) unless an
    /// eviction happened meanwhile: the answer may predate the change that
    /// evicted. Evictions wait for it, so none slips in between.
    fn unless_evicted_since(&self, mark: u64, insert: impl FnOnce()) {
        let evictions = self.evictions();
        if *evictions == mark {
            insert();
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicUsize;

    use axum::http::StatusCode;
    use tokio::sync::oneshot;
    use tokio::time::advance;

    use super::*;
    use crate::error::ApiError;

    const TTL: Duration = Duration::from_millis(500);
    const KEY: Digest = [7; 32];

    /// A verdict that tells which read produced it.
    fn verdict(read: usize) -> Verdict {
        Err(refusal(read))
    }

    fn refusal(read: usize) -> AuthFailure {
        [AuthFailure::UnknownToken, AuthFailure::Inactive, AuthFailure::Expired][read % 3]
    }

    fn unavailable() -> ApiError {
        ApiError::service_unavailable("the token store is unavailable")
    }

    /// A cache, and a database stand-in that counts its reads and answers
    /// each with the next [`verdict`], or fails while `down` is set.
    struct Fixture {
        cache: AuthCache,
        reads: AtomicUsize,
        down: AtomicBool,
    }

    impl Fixture {
        fn new(lifetimes: Lifetimes) -> Fixture {
            Fixture {
                cache: AuthCache::new(16, lifetimes),
                reads: AtomicUsize::new(0),
                down: AtomicBool::new(false),
            }
        }

        async fn read(&self) -> ApiResult<Verdict> {
            let n = self.reads.fetch_add(1, Ordering::SeqCst) + 1;
            if self.down.load(Ordering::SeqCst) {
                return Err(unavailable());
            }
            Ok(verdict(n))
        }

        async fn lookup(&self) -> ApiResult<Answer> {
            self.cache.lookup(KEY, |_| self.read()).await
        }

        /// Looks up and returns whether the database was read.
        async fn reads_database(&self) -> bool {
            let before = self.reads.load(Ordering::SeqCst);
            let answer = self.lookup().await.expect("an answer");
            let read = self.reads.load(Ordering::SeqCst) > before;
            assert_eq!(read, answer.read, "the answer says whether it was read");
            read
        }
    }

    fn with_stale_if_error(stale_if_error: Duration) -> Lifetimes {
        Lifetimes {
            stale_if_error,
            ..Lifetimes::DEFAULT
        }
    }

    #[tokio::test(start_paused = true)]
    async fn an_answer_is_used_for_its_ttl_then_read_again() {
        let db = Fixture::new(Lifetimes::DEFAULT);
        assert!(db.reads_database().await, "first sight");
        advance(TTL - Duration::from_millis(1)).await;
        assert!(!db.reads_database().await);
        advance(Duration::from_millis(1)).await;
        assert!(db.reads_database().await, "a ttl old");
        assert!(!db.reads_database().await, "just read again");
    }

    #[tokio::test(start_paused = true)]
    async fn while_the_change_log_vouches_an_answer_lasts_until_max_age() {
        let lifetimes = Lifetimes {
            max_age: TTL * 4,
            ..Lifetimes::DEFAULT
        };
        let db = Fixture::new(lifetimes);
        assert!(db.reads_database().await);
        // The feed reads the log every half ttl.
        for _ in 0..7 {
            advance(TTL / 2).await;
            db.cache.change_log_read(Instant::now(), false);
            assert!(!db.reads_database().await, "vouched for, younger than max_age");
        }
        advance(TTL / 2).await;
        db.cache.change_log_read(Instant::now(), false);
        assert!(db.reads_database().await, "max_age old");
    }

    #[tokio::test(start_paused = true)]
    async fn when_the_feed_fails_answers_are_read_again_after_the_ttl() {
        let db = Fixture::new(Lifetimes::DEFAULT);
        assert!(db.reads_database().await);
        advance(TTL * 9 / 10).await;
        db.cache.change_log_read(Instant::now(), false);
        advance(TTL * 9 / 10).await;
        assert!(!db.reads_database().await, "vouched for by the last read of the log");
        // No read of the log since: nothing vouches any more.
        advance(TTL * 2 / 10).await;
        assert!(db.reads_database().await);
    }

    #[tokio::test(start_paused = true)]
    async fn by_default_an_answer_that_cannot_be_read_again_is_an_error_not_the_stale_verdict() {
        let db = Fixture::new(Lifetimes::DEFAULT);
        db.lookup().await.expect("read while the database is up");
        advance(TTL).await;
        db.down.store(true, Ordering::SeqCst);
        let error = db.lookup().await.expect_err("stale and unconfirmed");
        assert_eq!(error.status, StatusCode::SERVICE_UNAVAILABLE);
        db.down.store(false, Ordering::SeqCst);
        db.lookup().await.expect("the database is back");
    }

    #[tokio::test(start_paused = true)]
    async fn with_stale_if_error_a_stale_answer_stands_until_that_long_after_it_was_last_known_good() {
        let db = Fixture::new(with_stale_if_error(TTL * 6));
        let known = db.lookup().await.expect("read").verdict.err();
        db.down.store(true, Ordering::SeqCst);
        advance(TTL * 3).await;
        // Vouched for by the log now: known good now, however old.
        db.cache.change_log_read(Instant::now(), false);
        advance(TTL * 5).await;
        let stood_in = db.lookup().await.expect("within stale_if_error");
        assert_eq!(stood_in.verdict.err(), known);
        assert!(stood_in.read, "the database was tried");
        advance(TTL).await;
        db.lookup().await.expect_err("stale_if_error past the last vouching");
    }

    #[tokio::test(start_paused = true)]
    async fn a_refresh_cancelled_mid_read_leaves_nothing_behind() {
        let db = Fixture::new(Lifetimes::DEFAULT);
        db.lookup().await.expect("read");
        advance(TTL).await;
        // A client hangs up while its request re-reads the stale answer.
        let hanging = db.cache.lookup(KEY, |_| std::future::pending());
        let dropped = tokio::time::timeout(Duration::ZERO, hanging).await;
        assert!(dropped.is_err(), "the read never ends; the request was dropped");
        assert!(db.reads_database().await, "the next request reads again");
    }

    #[tokio::test(start_paused = true)]
    async fn while_one_request_reads_again_the_others_use_the_stale_answer_up_to_twice_the_ttl() {
        let db = Fixture::new(Lifetimes::DEFAULT);
        let known = db.lookup().await.expect("read").verdict.err();
        advance(TTL).await;
        let (_never, hung) = oneshot::channel::<()>();
        let hanging = db.cache.lookup(KEY, |_| async move {
            let _ = hung.await;
            Ok(verdict(0))
        });
        tokio::pin!(hanging);
        assert!(is_pending_after_one_poll(hanging.as_mut()).await, "the re-read hangs");
        let meanwhile = db.lookup().await.expect("stands in");
        assert_eq!((meanwhile.verdict.err(), meanwhile.read), (known, false));
        advance(TTL - Duration::from_millis(1)).await;
        assert!(!db.reads_database().await, "just under twice the ttl");
        advance(Duration::from_millis(1)).await;
        assert!(db.reads_database().await, "twice the ttl: no stand-in without a read");
    }

    #[tokio::test(start_paused = true)]
    async fn an_answer_read_before_an_eviction_is_never_cached_after_it() {
        for stale in [false, true] {
            let db = Fixture::new(Lifetimes::DEFAULT);
            if stale {
                db.lookup().await.expect("read");
                advance(TTL).await;
            }
            let (release, released) = oneshot::channel::<()>();
            let racing = db.cache.lookup(KEY, |_| async move {
                released.await.expect("released");
                Ok(verdict(0))
            });
            tokio::pin!(racing);
            assert!(is_pending_after_one_poll(racing.as_mut()).await, "mid-read");
            db.cache.evict(&KEY);
            release.send(()).expect("the read waits");
            assert_eq!(racing.await.expect("read").verdict.err(), Some(refusal(0)));
            assert!(
                db.reads_database().await,
                "stale {stale}: the older answer is not cached"
            );
            assert!(!db.reads_database().await, "stale {stale}: the newer one is");
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_forgery_stays_a_forgery_without_reading_again() {
        let cache = AuthCache::new(16, Lifetimes::DEFAULT);
        let forged = || async { Ok(Err(AuthFailure::BadSignature)) };
        assert!(cache.lookup(KEY, |_| forged()).await.expect("checked").read);
        advance(Lifetimes::DEFAULT.max_age * 2).await;
        assert!(!cache.lookup(KEY, |_| forged()).await.expect("cached").read);
    }

    /// Polls `future` once; true when it is still pending.
    async fn is_pending_after_one_poll<T>(future: std::pin::Pin<&mut impl Future<Output = T>>) -> bool {
        tokio::time::timeout(Duration::ZERO, future).await.is_err()
    }
}
