//! The database keeps times as milliseconds since the Unix epoch: one integer type
//! that SQLite and Postgres store and compare the same way.

use time::OffsetDateTime;

pub(crate) fn to_ms(t: OffsetDateTime) -> i64 {
    (t.unix_timestamp_nanos() / 1_000_000) as i64
}

pub(crate) fn from_ms(ms: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000).unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

pub(crate) fn opt_from_ms(ms: Option<i64>) -> Option<OffsetDateTime> {
    ms.map(from_ms)
}
