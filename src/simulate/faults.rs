//! Faults the simulated Graph injects on demand, and counts of what it served.
//! Tests switch faults through the methods below while the server runs; the atomics
//! behind them stay private to this file.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// The faults that count down: each request they hit takes one, until none is left.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Countdown {
    /// Graph requests failing with the status of [`Faults::fail_next`].
    Failure,
    /// Page bodies that stop mid-transfer and never finish.
    Stall,
    /// Page bodies cut off mid-transfer.
    Truncation,
    /// Graph requests answered 401 as if the token had been revoked.
    Revocation,
    /// Graph requests answered 403 (the application role is missing).
    Forbidden,
    /// Token requests answered 503.
    TokenFailure,
}

impl Countdown {
    const COUNT: usize = 6;

    fn index(self) -> usize {
        self as usize
    }
}

/// Faults to inject; all off by default.
#[derive(Debug, Default)]
pub struct Faults {
    /// Graph requests allowed per 20 s before 429s (0 = no throttling).
    throttle_budget: AtomicU64,
    /// Seconds announced in Retry-After (0 = until the 20 s window ends).
    retry_after_seconds: AtomicU64,
    /// Status for [`Countdown::Failure`] (0 = 503).
    fail_status: AtomicU64,
    /// Per-mille of Graph requests answered 500 or 503 at random.
    error_per_mille: AtomicU64,
    /// Extra latency per Graph request, in milliseconds.
    latency_ms: AtomicU64,
    /// What is left of each [`Countdown`].
    countdowns: [AtomicU64; Countdown::COUNT],
    /// The current 20 s throttling window: when it started and the requests in it.
    window: Mutex<Option<(Instant, u64)>>,
}

/// Faults switched on from the start (the `simulate` command's flags), so a caller
/// fills options instead of reaching into the running server.
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
        let faults = Faults::default();
        faults.throttle(
            settings.throttle_budget,
            Duration::from_secs(settings.retry_after_seconds),
        );
        faults.fail_at_random(settings.error_per_mille);
        faults.slow_down(settings.latency);
        faults
    }

    /// Allows `budget` Graph requests per 20 s, then answers 429 announcing
    /// `retry_after` (whole seconds; zero: until the 20 s window ends). A budget of 0
    /// stops throttling.
    pub fn throttle(&self, budget: u64, retry_after: Duration) {
        self.retry_after_seconds
            .store(retry_after.as_secs(), Ordering::SeqCst);
        self.throttle_budget.store(budget, Ordering::SeqCst);
    }

    /// The next `count` Graph requests fail with `status`.
    pub fn fail_next(&self, count: u64, status: u16) {
        self.fail_status.store(u64::from(status), Ordering::SeqCst);
        self.arm(Countdown::Failure, count);
    }

    /// The next `count` page bodies stop mid-transfer and never finish (until the
    /// client gives up).
    pub fn stall_next(&self, count: u64) {
        self.arm(Countdown::Stall, count);
    }

    /// The next `count` page bodies are cut off mid-transfer.
    pub fn truncate_next(&self, count: u64) {
        self.arm(Countdown::Truncation, count);
    }

    /// The next `count` Graph requests answer 401 as if the token had been revoked.
    pub fn revoke_next(&self, count: u64) {
        self.arm(Countdown::Revocation, count);
    }

    /// The next `count` Graph requests answer 403 (the application role is missing).
    pub fn forbid_next(&self, count: u64) {
        self.arm(Countdown::Forbidden, count);
    }

    /// The next `count` token requests answer 503.
    pub fn fail_next_tokens(&self, count: u64) {
        self.arm(Countdown::TokenFailure, count);
    }

    /// Answers `per_mille` of Graph requests 500 or 503 at random (0 = none).
    pub fn fail_at_random(&self, per_mille: u64) {
        self.error_per_mille.store(per_mille, Ordering::SeqCst);
    }

    /// Delays every Graph request by `latency` (zero = none).
    pub fn slow_down(&self, latency: Duration) {
        let millis = u64::try_from(latency.as_millis()).unwrap_or(u64::MAX);
        self.latency_ms.store(millis, Ordering::SeqCst);
    }

    /// What is left of a countdown: zero once every fault it was set to has happened.
    pub fn left(&self, countdown: Countdown) -> u64 {
        self.countdowns[countdown.index()].load(Ordering::SeqCst)
    }

    fn arm(&self, countdown: Countdown, count: u64) {
        self.countdowns[countdown.index()].store(count, Ordering::SeqCst);
    }

    /// Takes one from a countdown, saying whether it was still running.
    pub(super) fn take(&self, countdown: Countdown) -> bool {
        take(&self.countdowns[countdown.index()])
    }

    /// The status of a [`Countdown::Failure`].
    pub(super) fn failure_status(&self) -> u64 {
        match self.fail_status.load(Ordering::SeqCst) {
            0 => 503,
            status => status,
        }
    }

    /// Per-mille of Graph requests to fail at random.
    pub(super) fn error_per_mille(&self) -> u64 {
        self.error_per_mille.load(Ordering::SeqCst)
    }

    /// The extra latency of each Graph request.
    pub(super) fn latency(&self) -> Duration {
        Duration::from_millis(self.latency_ms.load(Ordering::SeqCst))
    }

    /// Whether this request is over the 20-second budget; if so, how long to wait.
    pub(super) fn over_budget(&self) -> Option<Duration> {
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

/// Takes one from a countdown, saying whether it was still running (the Logs
/// Ingestion stand-in's countdowns too).
pub(super) fn take(counter: &AtomicU64) -> bool {
    counter
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
        .is_ok()
}

/// What the simulator served, for tests and benchmarks.
#[derive(Debug, Default)]
pub struct Stats {
    token_requests: AtomicU64,
    graph_requests: AtomicU64,
    throttled: AtomicU64,
    pages: AtomicU64,
    rows: AtomicU64,
    foreign_requests_with_token: AtomicU64,
    issued_tokens: Mutex<Vec<String>>,
    throttles: Mutex<Vec<(Instant, Duration)>>,
    arrivals: Mutex<Vec<Instant>>,
}

/// A copy of what a mutex holds, poisoned or not.
fn copy<T: Clone>(held: &Mutex<T>) -> T {
    held.lock().unwrap_or_else(|p| p.into_inner()).clone()
}

impl Stats {
    /// Token requests answered.
    pub fn token_requests(&self) -> u64 {
        self.token_requests.load(Ordering::SeqCst)
    }

    /// Graph call-log requests received.
    pub fn graph_requests(&self) -> u64 {
        self.graph_requests.load(Ordering::SeqCst)
    }

    /// 429s sent.
    pub fn throttled(&self) -> u64 {
        self.throttled.load(Ordering::SeqCst)
    }

    /// Pages served (200s).
    pub fn pages(&self) -> u64 {
        self.pages.load(Ordering::SeqCst)
    }

    /// Rows served.
    pub fn rows(&self) -> u64 {
        self.rows.load(Ordering::SeqCst)
    }

    /// Requests that carried an Authorization header to the foreign-link trap.
    pub fn foreign_requests_with_token(&self) -> u64 {
        self.foreign_requests_with_token.load(Ordering::SeqCst)
    }

    /// Every access token issued (for tests that search outputs for leaks).
    pub fn issued_tokens(&self) -> Vec<String> {
        copy(&self.issued_tokens)
    }

    /// When each 429 was sent and the wait it announced (for Retry-After tests).
    pub fn throttles(&self) -> Vec<(Instant, Duration)> {
        copy(&self.throttles)
    }

    /// When each Graph call-log request arrived (for Retry-After tests).
    pub fn arrivals(&self) -> Vec<Instant> {
        copy(&self.arrivals)
    }

    pub(super) fn note_token_request(&self) {
        self.token_requests.fetch_add(1, Ordering::SeqCst);
    }

    pub(super) fn note_token_issued(&self, token: &str) {
        push(&self.issued_tokens, token.to_owned());
    }

    pub(super) fn note_graph_request(&self) {
        self.graph_requests.fetch_add(1, Ordering::SeqCst);
        push(&self.arrivals, Instant::now());
    }

    pub(super) fn note_throttled(&self, wait: Duration) {
        self.throttled.fetch_add(1, Ordering::SeqCst);
        push(&self.throttles, (Instant::now(), wait));
    }

    pub(super) fn note_page(&self, rows: usize) {
        self.pages.fetch_add(1, Ordering::SeqCst);
        self.rows.fetch_add(rows as u64, Ordering::SeqCst);
    }

    pub(super) fn note_foreign_request_with_token(&self) {
        self.foreign_requests_with_token
            .fetch_add(1, Ordering::SeqCst);
    }
}

fn push<T>(list: &Mutex<Vec<T>>, item: T) {
    list.lock().unwrap_or_else(|p| p.into_inner()).push(item);
}
