//! Instants in Graph's own resolution (100 ns ticks, seven fractional digits).
//!
//! Graph writes `DateTimeOffset` values with seven fractional digits (100 ns ticks),
//! so [`Timestamp`] counts exactly those ticks: a row's start survives parsing and
//! formatting unchanged, and window edges can be moved by one tick to turn an
//! inclusive end into an exclusive one.

mod rfc3339;

pub use rfc3339::TimestampError;

use std::fmt;
use std::time::Duration;

/// An instant in UTC, as 100 ns ticks since the Unix epoch (Graph's resolution).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(i64);

impl Timestamp {
    /// Ticks in one second.
    pub const TICKS_PER_SECOND: i64 = 10_000_000;
    /// The Unix epoch.
    pub const UNIX_EPOCH: Timestamp = Timestamp(0);

    /// Wraps a tick count (100 ns units since the Unix epoch).
    pub const fn from_ticks(ticks: i64) -> Self {
        Timestamp(ticks)
    }

    /// The tick count (100 ns units since the Unix epoch).
    pub const fn ticks(self) -> i64 {
        self.0
    }

    /// Whole seconds since the Unix epoch.
    pub const fn from_unix_seconds(seconds: i64) -> Self {
        Timestamp(seconds.saturating_mul(Self::TICKS_PER_SECOND))
    }

    /// Seconds since the Unix epoch, with the fraction (for metrics and logs).
    pub fn as_unix_seconds_f64(self) -> f64 {
        self.0 as f64 / Self::TICKS_PER_SECOND as f64
    }

    /// Parses RFC 3339 (`2024-05-01T08:15:03.7730000Z`, any offset, up to 9 digits).
    pub fn parse(text: &str) -> Result<Self, TimestampError> {
        rfc3339::parse(text)
    }

    /// This instant plus a duration, saturating at the far future.
    pub fn saturating_add(self, duration: Duration) -> Self {
        Timestamp(self.0.saturating_add(duration_to_ticks(duration)))
    }

    /// This instant minus a duration, saturating at the far past.
    pub fn saturating_sub(self, duration: Duration) -> Self {
        Timestamp(self.0.saturating_sub(duration_to_ticks(duration)))
    }

    /// The duration from `earlier` to `self`, zero when `earlier` is later.
    pub fn duration_since(self, earlier: Timestamp) -> Duration {
        let ticks = self.0.saturating_sub(earlier.0).max(0) as u64;
        Duration::from_nanos(ticks.saturating_mul(100))
    }

    /// The calendar month (UTC) as (year, month 1-12), without formatting any text.
    pub fn year_month(self) -> (i64, i64) {
        let days = self.0.div_euclid(Self::TICKS_PER_SECOND * 86_400);
        let (year, month, _) = rfc3339::civil_from_days(days);
        (year, month)
    }

    /// One tick earlier: turns an exclusive end into the equivalent inclusive one.
    pub const fn previous_tick(self) -> Self {
        Timestamp(self.0 - 1)
    }
}

/// A duration as ticks, saturating (durations here are at most years).
pub fn duration_to_ticks(duration: Duration) -> i64 {
    i64::try_from(duration.as_nanos() / 100).unwrap_or(i64::MAX)
}

impl fmt::Display for Timestamp {
    /// Formats as Graph does: `2024-05-01T08:15:03.7730000Z`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&rfc3339::format(*self))
    }
}

impl fmt::Debug for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}
