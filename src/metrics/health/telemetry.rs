//! The handles one source or sink reports through, bound once so that reporting an
//! event is an atomic add.

use super::readiness::{SinkHealth, SourceHealth, lock};
use crate::graph::{FailureReason, GraphEvent, GraphEvents};
use crate::model::BadRow;
use prometheus::{Gauge, Histogram, IntCounter, IntCounterVec};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// One source's metric handles and readiness.
#[derive(Debug, Clone)]
pub struct SourceTelemetry {
    pub(super) name: Arc<str>,
    pub(super) tenant: Arc<str>,
    pub(super) requests: IntCounter,
    pub(super) failures: IntCounterVec,
    pub(super) throttled: IntCounter,
    pub(super) retries: IntCounter,
    pub(super) duration: Histogram,
    pub(super) tokens_ok: IntCounter,
    pub(super) tokens_failed: IntCounter,
    pub(super) rows_read: IntCounter,
    pub(super) rows_duplicate: IntCounter,
    pub(super) rows_skipped: IntCounterVec,
    pub(super) polls_ok: IntCounter,
    pub(super) polls_failed: IntCounter,
    pub(super) last_success: Gauge,
    pub(super) backlog: Gauge,
    pub(super) health: Arc<Mutex<SourceHealth>>,
}

impl SourceTelemetry {
    fn failed(&self, reason: FailureReason) {
        self.failures
            .with_label_values(&[&self.name, &self.tenant, reason.as_str()])
            .inc();
        self.failing(format!("Graph request failed ({})", reason.as_str()));
    }

    /// Remembers the last failure, in fixed words, as the cause of a stall.
    fn failing(&self, what: String) {
        lock(&self.health).last_failure = Some(what);
    }

    /// A page was read: its rows, and those dropped as duplicates or skipped.
    pub fn page_read(&self, rows: u64, duplicates: u64) {
        self.rows_read.inc_by(rows);
        self.rows_duplicate.inc_by(duplicates);
    }

    /// A row was skipped as unusable.
    pub fn row_skipped(&self, reason: BadRow) {
        self.rows_skipped
            .with_label_values(&[&self.name, &self.tenant, reason.reason()])
            .inc();
    }

    /// A window was fully read, delivered and committed.
    pub fn window_done(&self, unix_seconds: f64) {
        self.last_success.set(unix_seconds);
        let mut health = lock(&self.health);
        health.last_progress = Some(Instant::now());
        health.problem = None;
        health.last_failure = None;
    }

    /// A poll ended; `backlog` is how far the slowest sweep is behind.
    pub fn poll_done(&self, failure: Option<String>, backlog: Duration) {
        self.backlog.set(backlog.as_secs_f64());
        match failure {
            None => self.polls_ok.inc(),
            Some(problem) => {
                self.polls_failed.inc();
                lock(&self.health).problem = Some(problem);
            }
        }
    }
}

impl GraphEvents for SourceTelemetry {
    fn emit(&self, event: GraphEvent) {
        match event {
            GraphEvent::RequestFinished { took, failure } => {
                self.requests.inc();
                self.duration.observe(took.as_secs_f64());
                if let Some(reason) = failure {
                    self.failed(reason);
                    if reason == FailureReason::Throttled {
                        self.throttled.inc();
                    }
                }
            }
            GraphEvent::Failed(reason) => self.failed(reason),
            GraphEvent::Retrying => self.retries.inc(),
            GraphEvent::TokenRequested { succeeded: true } => self.tokens_ok.inc(),
            GraphEvent::TokenRequested { succeeded: false } => {
                self.tokens_failed.inc();
                self.failing("Entra ID token request failed".to_owned());
            }
        }
    }
}

/// One sink's metric handles and readiness.
#[derive(Debug, Clone)]
pub struct SinkTelemetry {
    pub(super) accepted: IntCounter,
    pub(super) failed: IntCounter,
    pub(super) events: IntCounter,
    pub(super) rejected: IntCounter,
    pub(super) health: Arc<Mutex<SinkHealth>>,
}

impl SinkTelemetry {
    /// The sink answered a batch of `events`.
    pub fn batch(&self, events: usize, failure: Option<String>) {
        match failure {
            None => {
                self.accepted.inc();
                self.events.inc_by(events as u64);
            }
            Some(_) => self.failed.inc(),
        }
        lock(&self.health).failing = failure;
    }

    /// The destination took an export but rejected `events` of it (OTLP partial
    /// success; 0 with only a message); `/readyz` says so until an export is taken whole.
    pub fn rejected(&self, events: u64) {
        self.rejected.inc_by(events);
        lock(&self.health).rejecting =
            Some("the destination rejects part of what it takes (partial success)".to_owned());
    }

    /// The destination took an export whole.
    pub fn taken_whole(&self) {
        lock(&self.health).rejecting = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::{Metrics, SourceCadence};

    #[test]
    fn a_stalled_source_gives_its_last_failure_as_the_cause() {
        let metrics = Metrics::new().unwrap();
        let cadence = SourceCadence {
            poll_interval: Duration::from_secs(60),
            real_poll_interval: Duration::from_secs(60),
        };
        let source = metrics.source(
            crate::metrics::SourceId {
                name: "tenant",
                tenant: "t",
                one_of_many: false,
            },
            crate::model::LogKind::Pstn,
            cadence,
        );
        source.emit(GraphEvent::TokenRequested { succeeded: false });
        // Started long enough ago that three poll intervals passed without progress.
        let long_ago = Instant::now()
            .checked_sub(Duration::from_secs(600))
            .unwrap();
        lock(&source.health).started = long_ago;
        let report = metrics.readiness();
        let (component, why) = &report.problems[0];
        assert_eq!(component, "sources.tenant");
        assert!(
            why.starts_with("no completed window yet for ")
                && why.ends_with("s; last failure: Entra ID token request failed"),
            "{why}"
        );
        source.emit(GraphEvent::Failed(FailureReason::Network));
        assert!(
            metrics.readiness().problems[0]
                .1
                .ends_with("last failure: Graph request failed (network)")
        );
        source.window_done(0.0);
        assert!(metrics.readiness().is_ready());
    }
}
