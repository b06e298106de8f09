//! The single place the agent (and the simulator) asks for the current time.
//!
//! Production uses [`SystemClock`]. The simulated tenant and the tests replay days of
//! traffic in seconds with [`ScaledClock`], or step time by hand with [`ManualClock`];
//! the agent's code is the same in all three cases.

use super::Timestamp;
use std::fmt::Debug;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Where "now" comes from, and how long a span of that clock's time lasts for real.
pub trait Clock: Send + Sync + Debug {
    /// The current instant on this clock.
    fn now(&self) -> Timestamp;
    /// How long to really wait for `simulated` to pass on this clock.
    fn real_duration(&self, simulated: Duration) -> Duration;
}

/// A clock shared between the tasks of one process.
pub type SharedClock = Arc<dyn Clock>;

/// The operating system's wall clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        let since_epoch = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or(Duration::ZERO);
        Timestamp::UNIX_EPOCH.saturating_add(since_epoch)
    }

    fn real_duration(&self, simulated: Duration) -> Duration {
        simulated
    }
}

/// Simulated time: starts at a given instant and runs `scale` times faster than real
/// time; a scale of zero stands still (reproducible runs of separate processes).
#[derive(Debug, Clone)]
pub struct ScaledClock {
    start: Timestamp,
    started: Instant,
    scale: f64,
}

impl ScaledClock {
    /// A clock reading `start` now and advancing `scale` simulated seconds per real second.
    pub fn new(start: Timestamp, scale: f64) -> Self {
        ScaledClock {
            start,
            started: Instant::now(),
            scale: if scale.is_finite() && scale >= 0.0 {
                scale
            } else {
                1.0
            },
        }
    }
}

impl Clock for ScaledClock {
    fn now(&self) -> Timestamp {
        let elapsed = self.started.elapsed().mul_f64(self.scale);
        self.start.saturating_add(elapsed)
    }

    fn real_duration(&self, simulated: Duration) -> Duration {
        if self.scale == 0.0 {
            simulated
        } else {
            simulated.div_f64(self.scale)
        }
    }
}

/// A clock that only moves when told to: for tests that step time deliberately.
#[derive(Debug)]
pub struct ManualClock {
    ticks: AtomicI64,
}

impl ManualClock {
    /// A clock standing at `start`.
    pub fn new(start: Timestamp) -> Self {
        ManualClock {
            ticks: AtomicI64::new(start.ticks()),
        }
    }

    /// Moves the clock forward by `by`.
    pub fn advance(&self, by: Duration) {
        self.ticks
            .fetch_add(super::duration_to_ticks(by), Ordering::SeqCst);
    }

    /// Sets the clock to `to` (backwards too: for clock-jump tests).
    pub fn set(&self, to: Timestamp) {
        self.ticks.store(to.ticks(), Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Timestamp {
        Timestamp::from_ticks(self.ticks.load(Ordering::SeqCst))
    }

    /// Waiting on a manual clock is short and real: the test moves time itself.
    fn real_duration(&self, simulated: Duration) -> Duration {
        simulated.min(Duration::from_millis(10))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_scaled_clock_runs_faster_and_shortens_waits() {
        let start = Timestamp::from_unix_seconds(1_700_000_000);
        let clock = ScaledClock::new(start, 3600.0);
        assert_eq!(
            clock.real_duration(Duration::from_secs(3600)),
            Duration::from_secs(1)
        );
        std::thread::sleep(Duration::from_millis(20));
        assert!(clock.now().duration_since(start) >= Duration::from_secs(60));
    }

    #[test]
    fn a_scale_of_zero_stands_still() {
        let start = Timestamp::from_unix_seconds(1_700_000_000);
        let clock = ScaledClock::new(start, 0.0);
        std::thread::sleep(Duration::from_millis(5));
        assert_eq!(clock.now(), start);
        assert_eq!(
            clock.real_duration(Duration::from_secs(3)),
            Duration::from_secs(3)
        );
    }

    #[test]
    fn a_manual_clock_moves_only_when_told() {
        let start = Timestamp::from_unix_seconds(1_700_000_000);
        let clock = ManualClock::new(start);
        assert_eq!(clock.now(), start);
        clock.advance(Duration::from_secs(5));
        assert_eq!(clock.now().duration_since(start), Duration::from_secs(5));
    }
}
