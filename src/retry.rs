//! One retry policy for everything the agent sends: Graph requests and sink
//! deliveries back off the same way (exponential, full jitter, via backon).

use backon::ExponentialBuilder;
use std::hash::{BuildHasher, Hasher, RandomState};
use std::time::Duration;

/// How failed requests are retried.
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    /// First backoff delay (before jitter).
    pub min_delay: Duration,
    /// Largest backoff delay.
    pub max_delay: Duration,
    /// Retries after the first attempt.
    pub max_retries: usize,
    /// How long one request may keep waiting out 429s with Retry-After.
    pub max_throttle_wait: Duration,
    /// The most time one request spends in backoff before giving up, whatever
    /// `max_retries` says (`--once` under cron: a source's `retry_max_duration`).
    pub max_elapsed: Option<Duration>,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            min_delay: Duration::from_secs(1),
            max_delay: Duration::from_secs(60),
            max_retries: 8,
            max_throttle_wait: Duration::from_secs(15 * 60),
            max_elapsed: None,
        }
    }
}

impl RetryPolicy {
    /// The backon schedule of this policy (before jitter: the agent adds full jitter).
    pub fn backoff(&self) -> ExponentialBuilder {
        ExponentialBuilder::default()
            .with_min_delay(self.min_delay)
            .with_max_delay(self.max_delay)
            .with_max_times(self.max_retries)
            .with_total_delay(self.max_elapsed)
    }
}

/// A random delay between zero and `delay` ("full jitter"): clients that failed
/// together do not retry together.
pub fn full_jitter(delay: Duration) -> Duration {
    let random = RandomState::new().build_hasher().finish();
    delay.mul_f64((random >> 11) as f64 / (1u64 << 53) as f64)
}
