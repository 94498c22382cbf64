//! `--expires WHEN`: when a token stops working, as a person writes it.

use chrono::{DateTime, Utc};
use latchkey_core::time::{now_millis, parse_expiry, EXPIRY_FORMS};

/// The help of every `--expires`.
pub const HELP: &str =
    "When the token stops working: 2030-01-01T00:00:00Z, 2030-01-01 (the end of that day, UTC), or 30d, 12h, 90m from now; never when absent";

/// A clap value parser: an instant in the future, or a message naming the
/// forms `--expires` takes.
pub fn parse(text: &str) -> Result<DateTime<Utc>, String> {
    let now = now_millis();
    let at = parse_expiry(text, now).ok_or_else(|| format!("expected {EXPIRY_FORMS}"))?;
    if at <= now {
        return Err("the token would expire at once: give a time in the future".to_string());
    }
    DateTime::from_timestamp_millis(at).ok_or_else(|| format!("expected {EXPIRY_FORMS}"))
}
