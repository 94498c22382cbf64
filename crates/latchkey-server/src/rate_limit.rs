//! Optional per-token rate limit: `429 TooManyRequests` with `Retry-After`
//! once a token exceeds its requests per second (with an equal burst).
//! Off by default, so the defaults never refuse anyone.

use std::num::NonZeroU32;
use std::sync::{Arc, Weak};
use std::time::Duration;

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use latchkey_core::Id;

use crate::error::{ApiError, ApiResult};

/// How often the state of tokens that went quiet is dropped.
const FORGET_QUIET_EVERY: Duration = Duration::from_secs(60);

pub struct RateLimit {
    limiter: Option<Arc<DefaultKeyedRateLimiter<Id>>>,
}

impl RateLimit {
    /// `None` means unlimited. Needs a tokio runtime when limited: a
    /// background task forgets tokens that have gone quiet.
    pub fn new(per_second: Option<NonZeroU32>) -> RateLimit {
        let limiter = per_second.map(|rate| Arc::new(RateLimiter::keyed(Quota::per_second(rate))));
        if let Some(limiter) = &limiter {
            let weak: Weak<DefaultKeyedRateLimiter<Id>> = Arc::downgrade(limiter);
            tokio::spawn(async move {
                let mut tick = tokio::time::interval(FORGET_QUIET_EVERY);
                loop {
                    tick.tick().await;
                    let Some(limiter) = weak.upgrade() else { break };
                    limiter.retain_recent();
                    limiter.shrink_to_fit();
                }
            });
        }
        RateLimit { limiter }
    }

    /// Counts one request of `token`.
    pub fn check(&self, token: Id) -> ApiResult<()> {
        let Some(limiter) = &self.limiter else {
            return Ok(());
        };
        limiter.check_key(&token).map_err(|not_until| {
            let wait = not_until.wait_time_from(DefaultClock::default().now());
            ApiError::too_many_requests(wait.as_secs_f64().ceil().max(1.0) as u64)
        })
    }
}
