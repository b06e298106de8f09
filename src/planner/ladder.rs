//! The sweep ladder: the delays at which a source's sweeps read, and how cursors saved
//! under another ladder carry over.

use crate::time::Timestamp;
use std::time::Duration;

/// Each sweep's delay is this factor shorter than the next one's.
pub const SWEEP_FACTOR: u32 = 3;

/// Graph's resolution: delays are whole ticks so the ones read back from state compare equal.
const TICK_NANOS: u128 = 100;

fn ticks(duration: Duration) -> u128 {
    duration.as_nanos() / TICK_NANOS
}

fn from_ticks(ticks: u128) -> Duration {
    Duration::from_nanos(u64::try_from(ticks * TICK_NANOS).unwrap_or(u64::MAX))
}

/// The delays of a source's sweeps, shortest (zero) first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SweepLadder {
    delays: Vec<Duration>,
}

impl SweepLadder {
    /// The default ladder for a poll interval and a late window: delays a factor
    /// [`SWEEP_FACTOR`] apart, few reads per row, a wait that grows with lateness.
    pub fn new(poll_interval: Duration, late_window: Duration) -> Self {
        let mut delays = Vec::new();
        let mut delay = late_window;
        while !delay.is_zero() {
            delays.push(from_ticks(ticks(delay)));
            let shorter = delay / SWEEP_FACTOR;
            if shorter < poll_interval.saturating_mul(2) {
                break;
            }
            delay = shorter;
        }
        delays.push(Duration::ZERO);
        delays.reverse();
        SweepLadder { delays }
    }

    /// The ladder that bounds the wait users choose (`max_delay`): the default ladder's
    /// delays shorter than `max_delay`, then delays evenly spaced at most `max_delay`
    /// apart (never closer than `poll_interval`, which adds reads and no speed) up to
    /// `late_window`. A row that becomes visible at age `a` within the late window is
    /// read by the first sweep whose delay is at least `a`, so it waits less than the
    /// gap below that delay plus a poll: at most `max_delay + poll_interval`. Without
    /// `max_delay`, the default ladder.
    pub fn bounded(
        poll_interval: Duration,
        late_window: Duration,
        max_delay: Option<Duration>,
    ) -> Self {
        let default = Self::new(poll_interval, late_window);
        let Some(max_delay) = max_delay else {
            return default;
        };
        let spacing = ticks(max_delay.max(poll_interval)).max(1);
        let mut delays: Vec<Duration> = default
            .delays
            .into_iter()
            .filter(|delay| ticks(*delay) < spacing)
            .collect();
        let from = delays.last().map_or(0, |delay| ticks(*delay));
        let to = ticks(late_window);
        if to > from {
            let steps = (to - from).div_ceil(spacing);
            // Integer steps: consecutive delays differ by at most ceil((to - from) / steps) ≤ spacing.
            delays.extend((1..=steps).map(|step| from_ticks(from + (to - from) * step / steps)));
        }
        SweepLadder { delays }
    }

    /// Delays, shortest first; the first is always zero.
    pub fn delays(&self) -> &[Duration] {
        &self.delays
    }

    #[cfg(any(test, feature = "__internals"))]
    /// The longest a row that becomes visible within the late window waits to be read,
    /// with polls exactly `poll_interval` apart: the widest gap between delays plus a poll.
    pub fn longest_wait(&self, poll_interval: Duration) -> Duration {
        let gap = self
            .delays
            .windows(2)
            .map(|pair| pair[1].saturating_sub(pair[0]))
            .max()
            .unwrap_or_default();
        gap + poll_interval
    }

    /// Cursors for a source's very first run at `now`: the head starts at
    /// `now - lookback`; a later sweep need not look at starts the head reads at least
    /// its delay after them, so it starts at `now - delay` (or the head, if later).
    pub fn initial_cursors(&self, now: Timestamp, lookback: Duration) -> Vec<Timestamp> {
        let head = now.saturating_sub(lookback);
        self.delays
            .iter()
            .map(|delay| {
                if delay.is_zero() {
                    head
                } else {
                    head.max(now.saturating_sub(*delay))
                }
            })
            .collect()
    }

    /// Maps cursors saved under another ladder (the late window, poll interval or
    /// max_delay changed) onto this one, never skipping a start time a sweep still owes.
    pub fn adopt(&self, stored: &[(Duration, Timestamp)]) -> Option<Vec<Timestamp>> {
        let oldest = stored.iter().map(|(_, cursor)| *cursor).min()?;
        Some(
            self.delays
                .iter()
                .map(|delay| {
                    // A saved sweep with a delay at least this long has read every start
                    // before its cursor late enough for this one too.
                    stored
                        .iter()
                        .filter(|(stored_delay, _)| stored_delay >= delay)
                        .map(|(_, cursor)| *cursor)
                        .max()
                        .unwrap_or(oldest)
                })
                .collect(),
        )
    }
}

#[cfg(test)]
#[path = "ladder_tests.rs"]
mod tests;
