//! The agent's own health: Graph requests and failures, tokens, rows, sinks, progress,
//! and the readiness that `/readyz` reports. Handles are bound to their source or sink
//! once, so reporting an event is an atomic add.

use super::SourceId;
use super::registrar::{MetricsError, Registrar};
use crate::graph::FailureReason;
use crate::model::BadRow;
use prometheus::{GaugeVec, HistogramVec, IntCounterVec, IntGauge};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

mod readiness;
mod telemetry;

use readiness::{Readiness, SinkHealth, SourceHealth, lock, replace};
pub use readiness::{ReadinessReport, SourceCadence};
pub use telemetry::{SinkTelemetry, SourceTelemetry};

const REQUEST_BUCKETS: &[f64] = &[0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0];

#[derive(Debug)]
pub(super) struct HealthMetrics {
    graph_requests: IntCounterVec,
    graph_failures: IntCounterVec,
    graph_throttled: IntCounterVec,
    graph_retries: IntCounterVec,
    graph_duration: HistogramVec,
    token_requests: IntCounterVec,
    rows_read: IntCounterVec,
    rows_duplicate: IntCounterVec,
    rows_skipped: IntCounterVec,
    polls: IntCounterVec,
    last_success: GaugeVec,
    backlog: GaugeVec,
    poll_interval: GaugeVec,
    ready: IntGauge,
    sinks: SinkSeries,
    readiness: Arc<Mutex<Readiness>>,
}

/// The sinks' series: batches by outcome, events accepted and rejected.
#[derive(Debug)]
struct SinkSeries {
    batches: IntCounterVec,
    events: IntCounterVec,
    rejected: IntCounterVec,
}

impl SinkSeries {
    fn new(registry: &Registrar<'_>) -> Result<Self, MetricsError> {
        Ok(SinkSeries {
            batches: registry.counter(
                "pstn_sink_batches_total",
                "Batches offered to a sink, by outcome.",
                &["sink", "outcome"],
            )?,
            events: registry.counter(
                "pstn_sink_events_total",
                "Events a sink accepted.",
                &["sink"],
            )?,
            rejected: registry.counter(
                "pstn_sink_rejected_events_total",
                "Events a destination took the request for but rejected (OTLP partial success); not retried.",
                &["sink"],
            )?,
        })
    }
}

impl HealthMetrics {
    pub(super) fn new(registry: &Registrar<'_>) -> Result<Self, MetricsError> {
        Ok(HealthMetrics {
            graph_requests: registry.counter(
                "pstn_graph_requests_total",
                "HTTP requests sent to Graph (each attempt).",
                &["source", "tenant"],
            )?,
            graph_failures: registry.counter(
                "pstn_graph_request_failures_total",
                "Graph requests that failed, by reason (each attempt).",
                &["source", "tenant", "reason"],
            )?,
            graph_throttled: registry.counter(
                "pstn_graph_throttled_total",
                "429 answers from Graph.",
                &["source", "tenant"],
            )?,
            graph_retries: registry.counter(
                "pstn_graph_retries_total",
                "Graph requests retried after a transient failure.",
                &["source", "tenant"],
            )?,
            graph_duration: registry.histogram(
                "pstn_graph_request_duration_seconds",
                "Time for one Graph request, body included (tenant empty for a source of several tenants).",
                REQUEST_BUCKETS,
                &["source", "tenant"],
            )?,
            token_requests: registry.counter(
                "pstn_token_requests_total",
                "Access token requests to Entra ID, by outcome.",
                &["source", "tenant", "outcome"],
            )?,
            rows_read: registry.counter(
                "pstn_rows_read_total",
                "Rows Graph returned (sweeps re-read rows on purpose).",
                &["source", "tenant"],
            )?,
            rows_duplicate: registry.counter(
                "pstn_rows_duplicate_total",
                "Rows dropped because they were already delivered.",
                &["source", "tenant"],
            )?,
            rows_skipped: registry.counter(
                "pstn_rows_skipped_total",
                "Rows skipped as unusable, by reason.",
                &["source", "tenant", "reason"],
            )?,
            polls: registry.counter(
                "pstn_source_polls_total",
                "Polls of a source, by outcome.",
                &["source", "tenant", "outcome"],
            )?,
            last_success: registry.gauge(
                "pstn_source_last_success_timestamp_seconds",
                "When the source last completed a window (Unix time).",
                &["source", "tenant"],
            )?,
            backlog: registry.gauge(
                "pstn_source_backlog_seconds",
                "How far behind the source is: the oldest span of start times still owed a sweep.",
                &["source", "tenant"],
            )?,
            poll_interval: registry.gauge(
                "pstn_source_poll_interval_seconds",
                "The configured poll interval, so alerts can say 'no success for N polls'.",
                &["source", "tenant"],
            )?,
            ready: registry.int_gauge(
                "pstn_agent_ready",
                "1 when /readyz answers 200 (every source progressing, no sink failing), else 0.",
            )?,
            sinks: SinkSeries::new(registry)?,
            readiness: Arc::default(),
        })
    }

    /// Stops judging `source`'s progress (this replica gave its lease up, or its tenant
    /// was removed) and drops its progress gauges, so a stale last success here raises
    /// no `PstnSourceStalled`: whoever reads it now reports them.
    pub(super) fn forget_source(&self, source: SourceId<'_>) {
        let component = source.component();
        lock(&self.readiness)
            .sources
            .retain(|(existing, _)| *existing != component);
        let labels = [source.name, source.tenant];
        for gauge in [&self.last_success, &self.backlog, &self.poll_interval] {
            // Absent already (never polled here) is as good as removed.
            let _ = gauge.remove_label_values(&labels);
        }
    }

    /// Reports `source` as not ready with `problem` (a fixed text) until it is built
    /// again: this replica holds its lease but cannot build it, or gave the lease up.
    pub(super) fn source_not_read(&self, source: SourceId<'_>, problem: String) {
        let health = Arc::new(Mutex::new(SourceHealth {
            started: Instant::now(),
            last_progress: None,
            patience: Duration::MAX,
            problem: Some(problem),
            last_failure: None,
        }));
        replace(
            &mut lock(&self.readiness).sources,
            &source.component(),
            health,
        );
    }

    /// The handles of one source. Its zero series by failure reason are created for a
    /// source of one tenant only (no alert reads them; a thousand tenants' zeros would
    /// be 16,000 series); tokens and polls by outcome are, for every tenant: alerts
    /// compare their increases.
    pub(super) fn source(&self, source: SourceId<'_>, cadence: SourceCadence) -> SourceTelemetry {
        if source.initialise_all() {
            self.initialise_reasons(source);
        }
        for outcome in ["success", "failure"] {
            self.token_requests
                .with_label_values(&[source.name, source.tenant, outcome]);
            self.polls
                .with_label_values(&[source.name, source.tenant, outcome]);
        }
        self.poll_interval
            .with_label_values(&[source.name, source.tenant])
            .set(cadence.poll_interval.as_secs_f64());
        let health = Arc::new(Mutex::new(SourceHealth {
            started: Instant::now(),
            last_progress: None,
            patience: (cadence.real_poll_interval * 3).max(Duration::from_secs(60)),
            problem: None,
            last_failure: None,
        }));
        replace(
            &mut lock(&self.readiness).sources,
            &source.component(),
            health.clone(),
        );
        SourceTelemetry {
            name: source.name.into(),
            tenant: source.tenant.into(),
            requests: self
                .graph_requests
                .with_label_values(&[source.name, source.tenant]),
            failures: self.graph_failures.clone(),
            throttled: self
                .graph_throttled
                .with_label_values(&[source.name, source.tenant]),
            retries: self
                .graph_retries
                .with_label_values(&[source.name, source.tenant]),
            duration: self
                .graph_duration
                .with_label_values(&[source.name, source.shared_tenant()]),
            tokens_ok: self.token_requests.with_label_values(&[
                source.name,
                source.tenant,
                "success",
            ]),
            tokens_failed: self.token_requests.with_label_values(&[
                source.name,
                source.tenant,
                "failure",
            ]),
            rows_read: self
                .rows_read
                .with_label_values(&[source.name, source.tenant]),
            rows_duplicate: self
                .rows_duplicate
                .with_label_values(&[source.name, source.tenant]),
            rows_skipped: self.rows_skipped.clone(),
            polls_ok: self
                .polls
                .with_label_values(&[source.name, source.tenant, "success"]),
            polls_failed: self
                .polls
                .with_label_values(&[source.name, source.tenant, "failure"]),
            last_success: self
                .last_success
                .with_label_values(&[source.name, source.tenant]),
            backlog: self
                .backlog
                .with_label_values(&[source.name, source.tenant]),
            health,
        }
    }

    /// Graph's failures and the skipped rows by reason, at zero.
    fn initialise_reasons(&self, source: SourceId<'_>) {
        for reason in FailureReason::ALL {
            self.graph_failures
                .with_label_values(&[source.name, source.tenant, reason.as_str()]);
        }
        for reason in BadRow::ALL {
            self.rows_skipped
                .with_label_values(&[source.name, source.tenant, reason.reason()]);
        }
    }

    pub(super) fn sink(&self, sink: &str) -> SinkTelemetry {
        let health = Arc::new(Mutex::new(SinkHealth::default()));
        replace(&mut lock(&self.readiness).sinks, sink, health.clone());
        SinkTelemetry {
            accepted: self.sinks.batches.with_label_values(&[sink, "accepted"]),
            failed: self.sinks.batches.with_label_values(&[sink, "failed"]),
            events: self.sinks.events.with_label_values(&[sink]),
            rejected: self.sinks.rejected.with_label_values(&[sink]),
            health,
        }
    }

    pub(super) fn readiness(&self, more: Option<(String, String)>) -> ReadinessReport {
        let readiness = lock(&self.readiness);
        let mut problems: Vec<(String, String)> = more.into_iter().collect();
        for (name, health) in &readiness.sources {
            let health = lock(health);
            let since = health.last_progress.unwrap_or(health.started);
            if let Some(problem) = &health.problem {
                problems.push((format!("sources.{name}"), problem.clone()));
            } else if since.elapsed() > health.patience {
                let what = if health.last_progress.is_some() {
                    "no progress"
                } else {
                    "no completed window yet"
                };
                let cause = health
                    .last_failure
                    .as_ref()
                    .map(|failure| format!("; last failure: {failure}"))
                    .unwrap_or_default();
                problems.push((
                    format!("sources.{name}"),
                    format!("{what} for {}s{cause}", since.elapsed().as_secs()),
                ));
            }
        }
        for (name, health) in &readiness.sinks {
            let health = lock(health);
            if let Some(problem) = health.failing.as_ref().or(health.rejecting.as_ref()) {
                problems.push((format!("sinks.{name}"), problem.clone()));
            }
        }
        let report = ReadinessReport { problems };
        self.ready.set(i64::from(report.is_ready()));
        report
    }
}
