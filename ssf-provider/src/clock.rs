//! Wall-clock time as stored in the database: Unix epoch milliseconds.

use chrono::{DateTime, TimeZone, Utc};

/// Now, in Unix epoch milliseconds.
pub fn now_ms() -> i64 {
    Utc::now().timestamp_millis()
}

/// A stored millisecond timestamp as a UTC date-time (for APIs that show RFC 3339 times).
pub fn to_datetime(ms: i64) -> DateTime<Utc> {
    Utc.timestamp_millis_opt(ms).single().unwrap_or_default()
}
