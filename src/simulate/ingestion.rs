//! The Azure Monitor Logs Ingestion stand-in's knobs and what it received: records
//! kept per stream so tests can count each call's deliveries, and faults switched the
//! way Graph's are (atomics a test changes while the server runs).

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

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
    pub forbid: AtomicBool,
    /// The next N requests answer 401 as if the token had been revoked.
    pub revoke_next: AtomicU64,
    /// The next N requests answer 429 with `Retry-After: retry_after_seconds`.
    pub throttle_next: AtomicU64,
    /// The next N requests answer 503 with `Retry-After: retry_after_seconds`.
    pub unavailable_next: AtomicU64,
    /// Request number N (1-based, counted on this route; 0 = none) answers 503
    /// without Retry-After: a failure half way through a batch.
    pub unavailable_at: AtomicU64,
    /// Seconds announced in Retry-After.
    pub retry_after_seconds: AtomicU64,
    /// Largest body accepted, compressed or not (default 1 MiB); over it: 413.
    pub max_bytes: AtomicU64,
    /// The streams the simulated DCR declares (others: 400 InvalidStream).
    pub streams: Mutex<Vec<String>>,
    /// Records whose `rowId` is this are refused (400) as if their content were bad.
    pub refuse_row_id: Mutex<Option<String>>,
    /// Requests received on the route.
    pub requests: AtomicU64,
    /// Each request's status, in order.
    pub statuses: Mutex<Vec<u16>>,
    /// Every record accepted (204), in order.
    pub records: Mutex<Vec<IngestedRecord>>,
    /// Whether each accepted request came gzipped.
    pub gzipped: Mutex<Vec<bool>>,
}

impl Default for Ingestion {
    fn default() -> Self {
        Ingestion {
            forbid: AtomicBool::new(false),
            revoke_next: AtomicU64::new(0),
            throttle_next: AtomicU64::new(0),
            unavailable_next: AtomicU64::new(0),
            unavailable_at: AtomicU64::new(0),
            retry_after_seconds: AtomicU64::new(1),
            max_bytes: AtomicU64::new(INGESTION_MAX_BYTES),
            streams: Mutex::new(
                [
                    "Custom-PstnCalls",
                    "Custom-DirectRoutingCalls",
                    "Custom-SmsLog",
                    "Custom-PstnBlockedUsers",
                ]
                .map(String::from)
                .to_vec(),
            ),
            refuse_row_id: Mutex::new(None),
            requests: AtomicU64::new(0),
            statuses: Mutex::new(Vec::new()),
            records: Mutex::new(Vec::new()),
            gzipped: Mutex::new(Vec::new()),
        }
    }
}

impl Ingestion {
    /// Every record accepted so far.
    pub fn records(&self) -> Vec<IngestedRecord> {
        self.records
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Each request's status so far.
    pub fn statuses(&self) -> Vec<u16> {
        self.statuses
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    pub(super) fn note_status(&self, status: u16) {
        self.statuses
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(status);
    }

    pub(super) fn accept(
        &self,
        dcr: &str,
        stream: &str,
        records: Vec<serde_json::Value>,
        gzip: bool,
    ) {
        self.gzipped
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(gzip);
        let mut stored = self.records.lock().unwrap_or_else(|p| p.into_inner());
        stored.extend(records.into_iter().map(|record| IngestedRecord {
            dcr: dcr.to_owned(),
            stream: stream.to_owned(),
            record,
        }));
    }

    /// Whether the simulated DCR declares `stream`.
    pub(super) fn declares(&self, stream: &str) -> bool {
        self.streams
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .any(|declared| declared == stream)
    }

    /// The `rowId` refused on demand, if any.
    pub(super) fn refused_row(&self) -> Option<String> {
        self.refuse_row_id
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// The limit now in force.
    pub(super) fn limit(&self) -> u64 {
        self.max_bytes.load(Ordering::SeqCst)
    }
}
