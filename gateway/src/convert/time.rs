//! Instants on the wire: RFC 3339 in UTC (`2026-03-01T09:30:00.123456Z`, as many fraction
//! digits as needed). Query filters also take a plain date (`2026-03-01`, UTC).

use chrono::{DateTime, NaiveDate, SecondsFormat, Utc};
use prost_types::Timestamp;
use serde_json::Value;

/// A timestamp as RFC 3339 JSON, `null` when absent.
pub fn json(ts: Option<&Timestamp>) -> Value {
    ts.and_then(to_datetime)
        .map_or(Value::Null, |d| Value::from(format(d)))
}

/// Formats an instant.
pub fn format(d: DateTime<Utc>) -> String {
    d.to_rfc3339_opts(SecondsFormat::AutoSi, true)
}

/// A proto timestamp as a `DateTime`.
pub fn to_datetime(ts: &Timestamp) -> Option<DateTime<Utc>> {
    let nanos = u32::try_from(ts.nanos).ok()?;
    DateTime::from_timestamp(ts.seconds, nanos)
}

/// A `DateTime` as a proto timestamp.
pub fn to_timestamp(d: DateTime<Utc>) -> Timestamp {
    Timestamp {
        seconds: d.timestamp(),
        nanos: i32::try_from(d.timestamp_subsec_nanos()).unwrap_or(0),
    }
}

/// Parses RFC 3339 (any offset).
pub fn parse_instant(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s.trim())
        .ok()
        .map(|d| d.with_timezone(&Utc))
}

/// Which end of a day a plain date stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DayEdge {
    /// Midnight at the start of the day (a lower bound).
    Start,
    /// Midnight at the start of the next day (an exclusive upper bound: the day is included).
    End,
}

/// Parses RFC 3339 or `YYYY-MM-DD` (UTC; `edge` picks the day's start or end).
pub fn parse_bound(s: &str, edge: DayEdge) -> Option<DateTime<Utc>> {
    if let Some(d) = parse_instant(s) {
        return Some(d);
    }
    let day = NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d").ok()?;
    let day = match edge {
        DayEdge::Start => day,
        DayEdge::End => day.succ_opt()?,
    };
    Some(day.and_hms_opt(0, 0, 0)?.and_utc())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instants_round_trip_with_their_precision() {
        let ts = Timestamp {
            seconds: 1_767_225_600,
            nanos: 123_456_000,
        };
        assert_eq!(json(Some(&ts)), Value::from("2026-01-01T00:00:00.123456Z"));
        let back = parse_instant("2026-01-01T00:00:00.123456Z").map(to_timestamp);
        assert_eq!(back, Some(ts));
        assert_eq!(json(None), Value::Null);
    }

    #[test]
    fn dates_are_day_bounds() {
        let start = parse_bound("2026-02-28", DayEdge::Start).map(format);
        let end = parse_bound("2026-02-28", DayEdge::End).map(format);
        assert_eq!(start.as_deref(), Some("2026-02-28T00:00:00Z"));
        assert_eq!(end.as_deref(), Some("2026-03-01T00:00:00Z"));
        let off = parse_bound("2026-02-28T10:00:00+02:00", DayEdge::End).map(format);
        assert_eq!(off.as_deref(), Some("2026-02-28T08:00:00Z"));
        assert_eq!(parse_bound("28/02/2026", DayEdge::Start), None);
    }
}
