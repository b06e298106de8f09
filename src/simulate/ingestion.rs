//! The Azure Monitor Logs Ingestion stand-in's knobs and what it received: records
//! kept per stream so tests can count each call's deliveries, and faults switched
//! through the methods below while the server runs: failing chosen requests, refusing
//! chosen rows, answering everything with one refusal, throttling with a given
//! `Retry-After`, a revoked token, a missing role, a smaller size limit.

use std::collections::HashSet;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Instant;

/// The API's documented limit per request, compressed or not.
pub const INGESTION_MAX_BYTES: u64 = 1024 * 1024;

/// One record the stand-in accepted.
#[derive(Debug, Clone)]
pub struct IngestedRecord {
    /// The DCR's immutable id from the URL.
    pub dcr: String,
    /// The stream from the URL.
    pub stream: String,
    /// The record as sent.
    pub record: serde_json::Value,
}

/// The stand-in's faults and its received records.
#[derive(Debug)]
pub struct Ingestion {
    /// Answer every request 403 while set (the role assignment is missing or propagating).
    forbid: AtomicBool,
    /// The next N requests answer 401 as if the token had been revoked.
    revoke_next: AtomicU64,
    /// The next N requests answer 429 with `Retry-After: retry_after_seconds`.
    throttle_next: AtomicU64,
    /// The next N requests answer 503 with `Retry-After: retry_after_seconds`.
    unavailable_next: AtomicU64,
    /// Seconds announced in Retry-After.
    retry_after_seconds: AtomicU64,
    /// Largest body accepted, compressed or not (default 1 MiB); over it: 413.
    max_bytes: AtomicU64,
    /// The streams the simulated DCR declares (others: 400 InvalidStream).
    streams: Vec<String>,
    /// Requests received on the route.
    requests: AtomicU64,
    /// Each request's status, in order (0 for a connection cut before any answer).
    statuses: Mutex<Vec<u16>>,
    /// Each request's status and when it was answered, in order.
    answered: Mutex<Vec<(u16, Instant)>>,
    /// Request numbers (1-based) answered 503 without Retry-After, nothing accepted.
    failing: Mutex<HashSet<u64>>,
    /// Request numbers (1-based) whose connection is cut before any answer, nothing
    /// accepted.
    cut: Mutex<HashSet<u64>>,
    /// `rowId`s refused (400 InvalidContent), as if their content were bad.
    refused_rows: Mutex<HashSet<String>>,
    /// Every request answered with this status and error code (after the token check).
    refuse_all: Mutex<Option<(u16, String)>>,
    /// Every record accepted (204), in order.
    records: Mutex<Vec<IngestedRecord>>,
    /// Whether each accepted request came gzipped.
    gzipped: Mutex<Vec<bool>>,
}

impl Default for Ingestion {
    fn default() -> Self {
        Ingestion {
            forbid: AtomicBool::new(false),
            revoke_next: AtomicU64::new(0),
            throttle_next: AtomicU64::new(0),
            unavailable_next: AtomicU64::new(0),
            retry_after_seconds: AtomicU64::new(1),
            max_bytes: AtomicU64::new(INGESTION_MAX_BYTES),
            streams: [
                "Custom-PstnCalls",
                "Custom-DirectRoutingCalls",
                "Custom-SmsLog",
                "Custom-PstnBlockedUsers",
            ]
            .map(String::from)
            .to_vec(),
            requests: AtomicU64::new(0),
            statuses: Mutex::new(Vec::new()),
            answered: Mutex::new(Vec::new()),
            failing: Mutex::new(HashSet::new()),
            cut: Mutex::new(HashSet::new()),
            refused_rows: Mutex::new(HashSet::new()),
            refuse_all: Mutex::new(None),
            records: Mutex::new(Vec::new()),
            gzipped: Mutex::new(Vec::new()),
        }
    }
}

impl Ingestion {
    /// Every record accepted so far.
    pub fn records(&self) -> Vec<IngestedRecord> {
        lock(&self.records).clone()
    }

    /// Each request's status so far.
    pub fn statuses(&self) -> Vec<u16> {
        lock(&self.statuses).clone()
    }

    /// Each request's status and when it was answered, so far.
    pub fn answers(&self) -> Vec<(u16, Instant)> {
        lock(&self.answered).clone()
    }

    /// Answers these requests (1-based numbers on this route, counted from the start)
    /// 503 without `Retry-After`, accepting nothing of them: failures between the
    /// requests of a batch.
    pub fn fail_requests(&self, numbers: impl IntoIterator<Item = u64>) {
        lock(&self.failing).extend(numbers);
    }

    /// Cuts the connection of these requests (1-based numbers on this route) before
    /// any answer, accepting nothing of them.
    pub fn cut_requests(&self, numbers: impl IntoIterator<Item = u64>) {
        lock(&self.cut).extend(numbers);
    }

    /// Refuses (400 InvalidContent) any request holding a record with one of these
    /// `rowId`s, as Azure does a record whose content it cannot take.
    pub fn refuse_rows<S: Into<String>>(&self, ids: impl IntoIterator<Item = S>) {
        lock(&self.refused_rows).extend(ids.into_iter().map(Into::into));
    }

    /// Answers every request with `status` and Azure error `code` (a DCR changed under
    /// the agent, an endpoint answering 413 to everything, a missing rule's 404), or,
    /// with `None`, stops.
    pub fn refuse_everything(&self, refusal: Option<(u16, &str)>) {
        *lock(&self.refuse_all) = refusal.map(|(status, code)| (status, code.to_owned()));
    }

    /// The next `count` requests answer `status` (429 or 503) with `Retry-After: seconds`.
    pub fn throttle(&self, count: u64, status: u16, seconds: u64) {
        self.retry_after_seconds.store(seconds, Ordering::SeqCst);
        let countdown = match status {
            503 => &self.unavailable_next,
            _ => &self.throttle_next,
        };
        countdown.store(count, Ordering::SeqCst);
    }

    /// Answers every request 403 while `on` (the role assignment is missing or still
    /// propagating).
    pub fn forbid(&self, on: bool) {
        self.forbid.store(on, Ordering::SeqCst);
    }

    /// The next `count` requests answer 401 as if the token had been revoked.
    pub fn revoke_next(&self, count: u64) {
        self.revoke_next.store(count, Ordering::SeqCst);
    }

    /// Accepts bodies up to `bytes` (compressed or not; the API's is 1 MiB), 413 over.
    pub fn limit_bytes(&self, bytes: u64) {
        self.max_bytes.store(bytes, Ordering::SeqCst);
    }

    /// Requests received on the route so far (cut ones too).
    pub fn requests(&self) -> u64 {
        self.requests.load(Ordering::SeqCst)
    }

    /// Whether each accepted request came gzipped, in order.
    pub fn gzipped(&self) -> Vec<bool> {
        lock(&self.gzipped).clone()
    }

    /// Forgets what was received (not the faults).
    pub fn clear_received(&self) {
        lock(&self.records).clear();
        lock(&self.statuses).clear();
        lock(&self.answered).clear();
    }

    pub(super) fn note_status(&self, status: u16) {
        lock(&self.statuses).push(status);
        lock(&self.answered).push((status, Instant::now()));
    }

    /// Counts a request on the route, returning its number (1-based).
    pub(super) fn next_request(&self) -> u64 {
        self.requests.fetch_add(1, Ordering::SeqCst) + 1
    }

    /// Whether this request's token is to be taken as revoked.
    pub(super) fn take_revocation(&self) -> bool {
        super::faults::take(&self.revoke_next)
    }

    /// Whether requests are answered 403 now.
    pub(super) fn forbidden(&self) -> bool {
        self.forbid.load(Ordering::SeqCst)
    }

    /// The throttling answer (429 or 503) this request gets, with its Retry-After
    /// seconds, if one is due.
    pub(super) fn take_throttle(&self) -> Option<(u16, u64)> {
        [(&self.throttle_next, 429), (&self.unavailable_next, 503)]
            .into_iter()
            .find(|(countdown, _)| super::faults::take(countdown))
            .map(|(_, status)| (status, self.retry_after_seconds.load(Ordering::SeqCst)))
    }

    /// Whether request `number` is one to fail.
    pub(super) fn fails(&self, number: u64) -> bool {
        lock(&self.failing).contains(&number)
    }

    /// Whether request `number`'s connection is to be cut.
    pub(super) fn cuts(&self, number: u64) -> bool {
        lock(&self.cut).contains(&number)
    }

    /// The refusal every request gets now, if any.
    pub(super) fn refusal(&self) -> Option<(u16, String)> {
        lock(&self.refuse_all).clone()
    }

    /// Whether a record with this `rowId` is refused.
    pub(super) fn refuses_row(&self, id: &str) -> bool {
        lock(&self.refused_rows).contains(id)
    }

    pub(super) fn accept(
        &self,
        dcr: &str,
        stream: &str,
        records: Vec<serde_json::Value>,
        gzip: bool,
    ) {
        lock(&self.gzipped).push(gzip);
        let mut stored = lock(&self.records);
        stored.extend(records.into_iter().map(|record| IngestedRecord {
            dcr: dcr.to_owned(),
            stream: stream.to_owned(),
            record,
        }));
    }

    /// Whether the simulated DCR declares `stream`.
    pub(super) fn declares(&self, stream: &str) -> bool {
        self.streams.iter().any(|declared| declared == stream)
    }

    /// The limit now in force.
    pub(super) fn limit(&self) -> u64 {
        self.max_bytes.load(Ordering::SeqCst)
    }
}

/// The lock, whatever a panicking test left in it.
fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|p| p.into_inner())
}
