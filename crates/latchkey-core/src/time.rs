//! Instants as milliseconds since the Unix epoch, and their wire form:
//! UTC ISO-8601 with milliseconds (`2016-06-13T04:00:00.000Z`).

use chrono::{DateTime, SecondsFormat, Utc};

/// Milliseconds since the Unix epoch, UTC.
pub type Millis = i64;

pub fn now_millis() -> Millis {
    Utc::now().timestamp_millis()
}

pub fn to_wire(at: Millis) -> String {
    DateTime::<Utc>::from_timestamp_millis(at)
        .unwrap_or(DateTime::<Utc>::MAX_UTC)
        .to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// Parses an RFC 3339 date-time (any offset), truncated to milliseconds.
pub fn parse_rfc3339(text: &str) -> Option<Millis> {
    DateTime::parse_from_rfc3339(text).ok().map(|at| at.timestamp_millis())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_with_milliseconds_in_utc() {
        assert_eq!(to_wire(1_465_790_400_000), "2016-06-13T04:00:00.000Z");
        assert_eq!(to_wire(1_465_790_400_123), "2016-06-13T04:00:00.123Z");
    }

    #[test]
    fn parses_offsets_and_rejects_garbage() {
        assert_eq!(parse_rfc3339("2016-06-13T06:00:00.000+02:00"), Some(1_465_790_400_000));
        assert_eq!(parse_rfc3339("2016-06-13T04:00:00Z"), Some(1_465_790_400_000));
        assert_eq!(parse_rfc3339("2016-06-13"), None);
        assert_eq!(parse_rfc3339("tomorrow"), None);
    }
}
