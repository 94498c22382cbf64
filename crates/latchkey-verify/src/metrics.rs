//! What the verifier counts, read as a [`Metrics`] snapshot or as
//! Prometheus text.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use latchkey_core::Id;

use crate::refusal::Refusal;

/// The live counters: plain atomics, so counting costs a request no lock.
#[derive(Default)]
pub(crate) struct Counters {
    pub accepted: AtomicU64,
    refused: [AtomicU64; Refusal::ALL.len()],
    pub introspect_fallbacks: AtomicU64,
    pub feed_reads: AtomicU64,
    pub feed_errors: AtomicU64,
}

impl Counters {
    pub fn count(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }

    pub fn refused(&self, refusal: Refusal) {
        Counters::count(&self.refused[refusal as usize]);
    }

    pub fn snapshot(&self, feed_ages: Vec<(Id, Option<Duration>)>) -> Metrics {
        let read = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
        Metrics {
            accepted: read(&self.accepted),
            refused: Refusal::ALL.map(|refusal| (refusal, read(&self.refused[refusal as usize]))),
            introspect_fallbacks: read(&self.introspect_fallbacks),
            feed_reads: read(&self.feed_reads),
            feed_errors: read(&self.feed_errors),
            feed_ages,
        }
    }
}

/// The verifier's counts since it started.
#[derive(Debug, Clone, PartialEq)]
pub struct Metrics {
    /// Tokens accepted (by the layer: with the scope it requires).
    pub accepted: u64,
    /// Tokens refused, by reason; [`Refusal::Stale`] counts the refusals
    /// made because the feed was stale.
    pub refused: [(Refusal, u64); Refusal::ALL.len()],
    /// Tokens checked by calling `/auth/introspect`, while the feed was stale.
    pub introspect_fallbacks: u64,
    /// Answers read from Latchkey: the JWKS, revoked list pages, changes.
    pub feed_reads: u64,
    /// Reads of those that failed (unreachable, timed out, refused, 5xx).
    pub feed_errors: u64,
    /// For each application followed, how long since its feed last answered
    /// well; `None` when it never has.
    pub feed_ages: Vec<(Id, Option<Duration>)>,
}

impl Metrics {
    /// How many were refused for this reason.
    pub fn refused(&self, refusal: Refusal) -> u64 {
        self.refused[refusal as usize].1
    }

    /// The Prometheus text exposition format (version 0.0.4).
    pub fn prometheus(&self) -> String {
        let mut text = String::new();
        let mut counter = |name: &str, help: &str, values: &[(Option<(&str, String)>, String)]| {
            let _ = writeln!(text, "# HELP {name} {help}");
            let kind = if name.ends_with("_total") { "counter" } else { "gauge" };
            let _ = writeln!(text, "# TYPE {name} {kind}");
            for (label, value) in values {
                match label {
                    Some((key, label)) => {
                        let _ = writeln!(text, "{name}{{{key}=\"{label}\"}} {value}");
                    }
                    None => {
                        let _ = writeln!(text, "{name} {value}");
                    }
                }
            }
        };
        let plain = |value: u64| [(None, value.to_string())];
        counter(
            "latchkey_verify_accepted_total",
            "Tokens accepted",
            &plain(self.accepted),
        );
        let refused: Vec<_> = self
            .refused
            .iter()
            .map(|(refusal, count)| (Some(("reason", refusal.label().to_string())), count.to_string()))
            .collect();
        counter(
            "latchkey_verify_refused_total",
            "Tokens refused, by reason (stale: the feed was out of reach for longer than the bound)",
            &refused,
        );
        counter(
            "latchkey_verify_introspect_fallbacks_total",
            "Tokens checked with a call to /auth/introspect while the feed was stale",
            &plain(self.introspect_fallbacks),
        );
        counter(
            "latchkey_verify_feed_reads_total",
            "Answers read from Latchkey's JWKS and verifier feed",
            &plain(self.feed_reads),
        );
        counter(
            "latchkey_verify_feed_errors_total",
            "Reads of Latchkey's JWKS and verifier feed that failed",
            &plain(self.feed_errors),
        );
        let ages: Vec<_> = self
            .feed_ages
            .iter()
            .map(|(application, age)| {
                let age = age.map_or("+Inf".to_string(), |age| format!("{:.3}", age.as_secs_f64()));
                (Some(("application", application.to_string())), age)
            })
            .collect();
        counter(
            "latchkey_verify_feed_age_seconds",
            "Seconds since the application's feed last answered well (+Inf: never)",
            &ages,
        );
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_reason_and_application_is_in_the_text() {
        let counters = Counters::default();
        Counters::count(&counters.accepted);
        counters.refused(Refusal::Stale);
        counters.refused(Refusal::Stale);
        let (fresh, never) = (Id::generate(1), Id::generate(2));
        let metrics = counters.snapshot(vec![(fresh, Some(Duration::from_millis(1_500))), (never, None)]);
        assert_eq!(metrics.refused(Refusal::Stale), 2);
        let text = metrics.prometheus();
        assert!(text.contains("latchkey_verify_accepted_total 1\n"), "{text}");
        assert!(
            text.contains("latchkey_verify_refused_total{reason=\"stale\"} 2\n"),
            "{text}"
        );
        assert!(
            text.contains("latchkey_verify_refused_total{reason=\"revoked\"} 0\n"),
            "{text}"
        );
        assert!(text.contains(&format!(
            "latchkey_verify_feed_age_seconds{{application=\"{fresh}\"}} 1.500\n"
        )));
        assert!(text.contains(&format!(
            "latchkey_verify_feed_age_seconds{{application=\"{never}\"}} +Inf\n"
        )));
        assert!(text.contains("# TYPE latchkey_verify_feed_age_seconds gauge\n"));
    }
}
