//! Instants as milliseconds since the Unix epoch, and their wire form:
//! UTC ISO-8601 with milliseconds (`2016-06-13T04:00:00.000Z`).

use chrono::{DateTime, NaiveDate, NaiveTime, SecondsFormat, Utc};

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

/// The forms [`parse_expiry`] accepts, each with an example, for messages.
pub const EXPIRY_FORMS: &str = "an RFC 3339 date-time (2030-01-01T00:00:00Z), a date (2030-01-01: the end of that \
     day, UTC) or a duration from now (30d, 12h, 90m)";

/// When something given as a person types it expires: an RFC 3339 date-time,
/// a plain date (the last millisecond of that day, UTC, so the day itself is
/// included), or a whole number of days, hours or minutes after `now`.
/// `None` when `text` is none of these or lies beyond what can be represented.
pub fn parse_expiry(text: &str, now: Millis) -> Option<Millis> {
    if let Some(at) = parse_rfc3339(text) {
        return Some(at);
    }
    if let Ok(day) = NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        let last_millisecond = NaiveTime::from_hms_milli_opt(23, 59, 59, 999)?;
        return Some(day.and_time(last_millisecond).and_utc().timestamp_millis());
    }
    let at = parse_duration(text)?.checked_add(now)?;
    DateTime::<Utc>::from_timestamp_millis(at).map(|_| at)
}

/// The forms [`parse_duration`] accepts, with examples, for messages.
pub const DURATION_FORMS: &str = "a whole number of days, hours or minutes (90d, 12h, 30m)";

/// A span of time as a person types it: a whole number of days, hours or
/// minutes (`30d`, `12h`, `90m`), in milliseconds. `None` for anything else
/// or a span too long to represent.
pub fn parse_duration(text: &str) -> Option<Millis> {
    let unit_millis: Millis = match text.chars().last()? {
        'd' => 86_400_000,
        'h' => 3_600_000,
        'm' => 60_000,
        _ => return None,
    };
    let count = &text[..text.len() - 1];
    if count.is_empty() || !count.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    count.parse::<Millis>().ok()?.checked_mul(unit_millis)
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

    #[test]
    fn expiry_takes_a_date_time_a_day_or_a_duration() {
        let now = 1_465_790_400_000;
        assert_eq!(parse_expiry("2016-06-13T06:00:00+02:00", now), Some(1_465_790_400_000));
        assert_eq!(parse_expiry("2016-06-13", now), Some(1_465_862_399_999));
        assert_eq!(parse_expiry("30d", now), Some(now + 30 * 86_400_000));
        assert_eq!(parse_expiry("12h", now), Some(now + 12 * 3_600_000));
        assert_eq!(parse_expiry("90m", now), Some(now + 90 * 60_000));
        assert_eq!(parse_expiry("0m", now), Some(now));
    }

    #[test]
    fn durations_are_whole_days_hours_or_minutes() {
        assert_eq!(parse_duration("90d"), Some(90 * 86_400_000));
        assert_eq!(parse_duration("12h"), Some(12 * 3_600_000));
        assert_eq!(parse_duration("0m"), Some(0));
        for text in [
            "",
            "d",
            "90",
            "90s",
            "-1d",
            "1.5h",
            "2030-01-01",
            "99999999999999999999d",
        ] {
            assert_eq!(parse_duration(text), None, "{text:?}");
        }
    }

    #[test]
    fn expiry_refuses_everything_else() {
        let now = 1_465_790_400_000;
        for text in [
            "",
            "tomorrow",
            "d",
            "30",
            "30s",
            "-5d",
            "+5d",
            "1.5h",
            "30 d",
            "3d12h",
            "2030-02-30",
            "2030-1-1x",
            "99999999999999999999d",
            "9999999999999d",
            "３０d",
            "2030-01-01T25:00:00Z",
        ] {
            assert_eq!(parse_expiry(text, now), None, "{text:?}");
        }
    }
}
