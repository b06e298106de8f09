//! Faults the simulated Graph injects on demand, and counts of what it served.
//! Every knob is an atomic so tests can change it while the server runs.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Faults to inject; all off by default.
#[derive(Debug, Default)]
pub struct Faults {
    /// Graph requests allowed per 20 s before 429s (0 = no throttling).
    pub throttle_budget: AtomicU64,
    /// Seconds announced in Retry-After.
    pub retry_after_seconds: AtomicU64,
    /// The next N Graph requests fail with `fail_status`.
    pub fail_next: AtomicU64,
    /// Status for `fail_next` (default 503).
    pub fail_status: AtomicU64,
    /// Per-mille of Graph requests answered 500 or 503 at random.
    pub error_per_mille: AtomicU64,
    /// The next N page bodies stop mid-transfer and never finish (until the client gives up).
    pub stall_next: AtomicU64,
    /// The next N page bodies are cut off mid-transfer.
    pub truncate_next: AtomicU64,
    /// Extra latency per Graph request, in milliseconds.
    pub latency_ms: AtomicU64,
    /// The next N Graph requests answer 401 as if the token had been revoked.
    pub revoke_next: AtomicU64,
    /// The next N Graph requests answer 403 (the application role is missing).
    pub forbid_next: AtomicU64,
    /// The next N token requests answer 503.
    pub token_fail_next: AtomicU64,
    pub(super) window: Mutex<Option<(Instant, u64)>>,
}

/// Faults switched on from the start (the `simulate` command's flags), so a caller
/// fills options instead of reaching into the running server's atomics.
#[derive(Debug, Clone, Default)]
pub struct FaultSettings {
    /// Graph requests allowed per 20 s before 429s (0 = no throttling).
    pub throttle_budget: u64,
    /// Seconds announced in Retry-After (0 = until the 20 s window ends).
    pub retry_after_seconds: u64,
    /// Per-mille of Graph requests answered 500 or 503 at random.
    pub error_per_mille: u64,
    /// Extra latency per Graph request.
    pub latency: Duration,
}

impl Faults {
    /// Faults as `settings` say, every countdown at zero.
    pub fn new(settings: &FaultSettings) -> Faults {
        Faults {
            throttle_budget: AtomicU64::new(settings.throttle_budget),
            retry_after_seconds: AtomicU64::new(settings.retry_after_seconds),
            error_per_mille: AtomicU64::new(settings.error_per_mille),
            latency_ms: AtomicU64::new(
                u64::try_from(settings.latency.as_millis()).unwrap_or(u64::MAX),
            ),
            ..Faults::default()
        }
    }

    /// Takes one from a countdown, saying whether it was still running.
    pub(super) fn take(counter: &AtomicU64) -> bool {
        counter
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok()
    }

    /// Whether this request is over the 20-second budget; if so, how long to wait.
    pub(super) fn throttle(&self) -> Option<Duration> {
        let budget = self.throttle_budget.load(Ordering::SeqCst);
        if budget == 0 {
            return None;
        }
        let mut window = self
            .window
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let now = Instant::now();
        let (started, used) = window.get_or_insert((now, 0));
        if now.duration_since(*started) >= Duration::from_secs(20) {
            *started = now;
            *used = 0;
        }
        *used += 1;
        if *used > budget {
            let announced = self.retry_after_seconds.load(Ordering::SeqCst);
            let left = Duration::from_secs(20).saturating_sub(now.duration_since(*started));
            Some(if announced > 0 {
                Duration::from_secs(announced)
            } else {
                left.max(Duration::from_secs(1))
            })
        } else {
            None
        }
    }
}

/// What the simulator served, for tests and benchmarks.
#[derive(Debug, Default)]
pub struct Stats {
    /// Token requests answered.
    pub token_requests: AtomicU64,
    /// Graph requests received.
    pub graph_requests: AtomicU64,
    /// 429s sent.
    pub throttled: AtomicU64,
    /// Pages served (200s).
    pub pages: AtomicU64,
    /// Rows served.
    pub rows: AtomicU64,
    /// Requests that carried an Authorization header to the foreign-link trap.
    pub foreign_requests_with_token: AtomicU64,
    /// Every access token issued (for tests that search outputs for leaks).
    pub issued_tokens: Mutex<Vec<String>>,
    /// When each 429 was sent and the wait it announced (for Retry-After tests).
    pub throttles: Mutex<Vec<(Instant, Duration)>>,
    /// When each Graph request arrived (for Retry-After tests).
    pub arrivals: Mutex<Vec<Instant>>,
}
