//! The agent's own health: Graph requests and failures, tokens, rows, sinks, progress,
//! and the readiness that `/readyz` reports. Handles are bound to their source or sink
//! once, so reporting an event is an atomic add.

use super::register;
use prometheus::{
    Gauge, GaugeVec, Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, Opts,
    Registry,
};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const REQUEST_BUCKETS: &[f64] = &[0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0];

fn counter(registry: &Registry, name: &str, help: &str, labels: &[&str]) -> IntCounterVec {
    register(
        registry,
        IntCounterVec::new(Opts::new(name, help), labels)
            .unwrap_or_else(|error| unreachable!("{error}")),
    )
}

fn gauge(registry: &Registry, name: &str, help: &str, labels: &[&str]) -> GaugeVec {
    register(
        registry,
        GaugeVec::new(Opts::new(name, help), labels)
            .unwrap_or_else(|error| unreachable!("{error}")),
    )
}

/// Reasons a Graph request failed, as label values (see `GraphError::reason`).
const FAILURE_REASONS: &[&str] = &[
    "auth",
    "throttled",
    "server_error",
    "forbidden",
    "unauthorized",
    "refused",
    "network",
    "body_too_large",
    "unreadable_body",
    "foreign_next_link",
    "bad_next_link",
];
/// Reasons a row was skipped (see `BadRow::reason`).
const SKIP_REASONS: &[&str] = &["not_an_object", "missing_id", "bad_start"];

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
    ready: prometheus::IntGauge,
    sink_batches: IntCounterVec,
    sink_events: IntCounterVec,
    readiness: Arc<Mutex<Readiness>>,
}

/// What `/readyz` looks at.
#[derive(Debug, Default)]
pub(super) struct Readiness {
    sources: Vec<(String, Arc<Mutex<SourceHealth>>)>,
    sinks: Vec<(String, Arc<Mutex<SinkHealth>>)>,
}

#[derive(Debug)]
struct SourceHealth {
    started: Instant,
    last_progress: Option<Instant>,
    patience: Duration,
    problem: Option<String>,
}

#[derive(Debug, Default)]
struct SinkHealth {
    failing: Option<String>,
}

/// Registers `name`'s health, replacing what an earlier run of the same name left.
fn replace<T>(entries: &mut Vec<(String, Arc<Mutex<T>>)>, name: &str, health: Arc<Mutex<T>>) {
    entries.retain(|(existing, _)| existing != name);
    entries.push((name.to_owned(), health));
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl HealthMetrics {
    pub(super) fn new(registry: &Registry) -> Self {
        HealthMetrics {
            graph_requests: counter(
                registry,
                "pstn_graph_requests_total",
                "HTTP requests sent to Graph (each attempt).",
                &["source"],
            ),
            graph_failures: counter(
                registry,
                "pstn_graph_request_failures_total",
                "Graph requests that failed, by reason (each attempt).",
                &["source", "reason"],
            ),
            graph_throttled: counter(
                registry,
                "pstn_graph_throttled_total",
                "429 answers from Graph.",
                &["source"],
            ),
            graph_retries: counter(
                registry,
                "pstn_graph_retries_total",
                "Graph requests retried after a transient failure.",
                &["source"],
            ),
            graph_duration: register(
                registry,
                HistogramVec::new(
                    HistogramOpts::new(
                        "pstn_graph_request_duration_seconds",
                        "Time for one Graph request, body included.",
                    )
                    .buckets(REQUEST_BUCKETS.to_vec()),
                    &["source"],
                )
                .unwrap_or_else(|error| unreachable!("{error}")),
            ),
            token_requests: counter(
                registry,
                "pstn_token_requests_total",
                "Access token requests to Entra ID, by outcome.",
                &["source", "outcome"],
            ),
            rows_read: counter(
                registry,
                "pstn_rows_read_total",
                "Rows Graph returned (sweeps re-read rows on purpose).",
                &["source"],
            ),
            rows_duplicate: counter(
                registry,
                "pstn_rows_duplicate_total",
                "Rows dropped because they were already delivered.",
                &["source"],
            ),
            rows_skipped: counter(
                registry,
                "pstn_rows_skipped_total",
                "Rows skipped as unusable, by reason.",
                &["source", "reason"],
            ),
            polls: counter(
                registry,
                "pstn_source_polls_total",
                "Polls of a source, by outcome.",
                &["source", "outcome"],
            ),
            last_success: gauge(
                registry,
                "pstn_source_last_success_timestamp_seconds",
                "When the source last completed a window (Unix time).",
                &["source"],
            ),
            backlog: gauge(
                registry,
                "pstn_source_backlog_seconds",
                "How far behind the source is: the oldest span of start times still owed a sweep.",
                &["source"],
            ),
            poll_interval: gauge(
                registry,
                "pstn_source_poll_interval_seconds",
                "The configured poll interval, so alerts can say 'no success for N polls'.",
                &["source"],
            ),
            ready: register(
                registry,
                prometheus::IntGauge::new(
                    "pstn_agent_ready",
                    "1 when /readyz answers 200 (every source progressing, no sink failing), else 0.",
                )
                .unwrap_or_else(|error| unreachable!("{error}")),
            ),
            sink_batches: counter(
                registry,
                "pstn_sink_batches_total",
                "Batches offered to a sink, by outcome.",
                &["sink", "outcome"],
            ),
            sink_events: counter(
                registry,
                "pstn_sink_events_total",
                "Events a sink accepted.",
                &["sink"],
            ),
            readiness: Arc::default(),
        }
    }

    pub(super) fn source(&self, source: &str, cadence: SourceCadence) -> SourceTelemetry {
        for reason in FAILURE_REASONS {
            self.graph_failures.with_label_values(&[source, reason]);
        }
        for reason in SKIP_REASONS {
            self.rows_skipped.with_label_values(&[source, reason]);
        }
        for outcome in ["success", "failure"] {
            self.token_requests.with_label_values(&[source, outcome]);
            self.polls.with_label_values(&[source, outcome]);
        }
        self.poll_interval
            .with_label_values(&[source])
            .set(cadence.poll_interval.as_secs_f64());
        let health = Arc::new(Mutex::new(SourceHealth {
            started: Instant::now(),
            last_progress: None,
            patience: (cadence.real_poll_interval * 3).max(Duration::from_secs(60)),
            problem: None,
        }));
        replace(&mut lock(&self.readiness).sources, source, health.clone());
        SourceTelemetry {
            name: source.into(),
            requests: self.graph_requests.with_label_values(&[source]),
            failures: self.graph_failures.clone(),
            throttled: self.graph_throttled.with_label_values(&[source]),
            retries: self.graph_retries.with_label_values(&[source]),
            duration: self.graph_duration.with_label_values(&[source]),
            tokens_ok: self.token_requests.with_label_values(&[source, "success"]),
            tokens_failed: self.token_requests.with_label_values(&[source, "failure"]),
            rows_read: self.rows_read.with_label_values(&[source]),
            rows_duplicate: self.rows_duplicate.with_label_values(&[source]),
            rows_skipped: self.rows_skipped.clone(),
            polls_ok: self.polls.with_label_values(&[source, "success"]),
            polls_failed: self.polls.with_label_values(&[source, "failure"]),
            last_success: self.last_success.with_label_values(&[source]),
            backlog: self.backlog.with_label_values(&[source]),
            health,
        }
    }

    pub(super) fn sink(&self, sink: &str) -> SinkTelemetry {
        let health = Arc::new(Mutex::new(SinkHealth::default()));
        replace(&mut lock(&self.readiness).sinks, sink, health.clone());
        SinkTelemetry {
            accepted: self.sink_batches.with_label_values(&[sink, "accepted"]),
            failed: self.sink_batches.with_label_values(&[sink, "failed"]),
            events: self.sink_events.with_label_values(&[sink]),
            health,
        }
    }

    pub(super) fn readiness(&self) -> ReadinessReport {
        let readiness = lock(&self.readiness);
        let mut problems = Vec::new();
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
                problems.push((
                    format!("sources.{name}"),
                    format!("{what} for {}s", since.elapsed().as_secs()),
                ));
            }
        }
        for (name, health) in &readiness.sinks {
            if let Some(problem) = &lock(health).failing {
                problems.push((format!("sinks.{name}"), problem.clone()));
            }
        }
        let report = ReadinessReport { problems };
        self.ready.set(i64::from(report.is_ready()));
        report
    }
}

/// How often a source polls: as configured (what the gauge shows), and in real time
/// under the agent's clock (what readiness waits for; the same but for the demo's
/// fast clock).
#[derive(Debug, Clone, Copy)]
pub struct SourceCadence {
    /// `poll_interval` as configured.
    pub poll_interval: Duration,
    /// The same interval in wall-clock time.
    pub real_poll_interval: Duration,
}

/// Whether the agent is ready, and what is not.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadinessReport {
    /// (component, why not ready); empty when ready.
    pub problems: Vec<(String, String)>,
}

impl ReadinessReport {
    /// Ready when nothing is wrong.
    pub fn is_ready(&self) -> bool {
        self.problems.is_empty()
    }

    /// The JSON body of `/readyz`.
    pub fn to_json(&self) -> String {
        let not_ready: serde_json::Map<String, serde_json::Value> = self
            .problems
            .iter()
            .map(|(component, why)| (component.clone(), serde_json::Value::String(why.clone())))
            .collect();
        serde_json::json!({"ready": self.is_ready(), "not_ready": not_ready}).to_string()
    }
}

/// One source's metric handles and readiness.
#[derive(Debug, Clone)]
pub struct SourceTelemetry {
    name: Arc<str>,
    requests: IntCounter,
    failures: IntCounterVec,
    throttled: IntCounter,
    retries: IntCounter,
    duration: Histogram,
    tokens_ok: IntCounter,
    tokens_failed: IntCounter,
    rows_read: IntCounter,
    rows_duplicate: IntCounter,
    rows_skipped: IntCounterVec,
    polls_ok: IntCounter,
    polls_failed: IntCounter,
    last_success: Gauge,
    backlog: Gauge,
    health: Arc<Mutex<SourceHealth>>,
}

impl SourceTelemetry {
    /// A Graph request finished (any answer, or none): `failure` is its reason if it failed.
    pub fn graph_request(&self, took: Duration, failure: Option<&'static str>) {
        self.requests.inc();
        self.duration.observe(took.as_secs_f64());
        if let Some(reason) = failure {
            self.failures.with_label_values(&[&self.name, reason]).inc();
        }
    }

    /// Something other than an HTTP answer failed (unreadable body, foreign next link).
    pub fn failure(&self, reason: &'static str) {
        self.failures.with_label_values(&[&self.name, reason]).inc();
    }

    /// Graph answered 429.
    pub fn throttled(&self) {
        self.throttled.inc();
    }

    /// A failed Graph request is being tried again.
    pub fn retried(&self) {
        self.retries.inc();
    }

    /// A token request finished.
    pub fn token_request(&self, succeeded: bool) {
        if succeeded {
            self.tokens_ok.inc()
        } else {
            self.tokens_failed.inc()
        }
    }

    /// A page was read: its rows, and those dropped as duplicates or skipped.
    pub fn page_read(&self, rows: u64, duplicates: u64) {
        self.rows_read.inc_by(rows);
        self.rows_duplicate.inc_by(duplicates);
    }

    /// A row was skipped as unusable.
    pub fn row_skipped(&self, reason: &'static str) {
        self.rows_skipped
            .with_label_values(&[&self.name, reason])
            .inc();
    }

    /// A window was fully read, delivered and committed.
    pub fn window_done(&self, unix_seconds: f64) {
        self.last_success.set(unix_seconds);
        let mut health = lock(&self.health);
        health.last_progress = Some(Instant::now());
        health.problem = None;
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

/// One sink's metric handles and readiness.
#[derive(Debug, Clone)]
pub struct SinkTelemetry {
    accepted: IntCounter,
    failed: IntCounter,
    events: IntCounter,
    health: Arc<Mutex<SinkHealth>>,
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
}
