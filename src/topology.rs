//! Builds the running agent from a configuration: one task per sink, one per source.

use crate::api::ApiListener;
use crate::config::{Config, SinkKind, SourceConfig};
use crate::entra::TokenSource;
use crate::graph::{
    GraphClient, GraphClientOptions, GraphEndpoint, GraphTokenEvents, PaceBook, PaceMember,
};
use crate::metrics::{Metrics, SourceTelemetry};
use crate::retry::RetryPolicy;
use crate::shutdown::Shutdown;
use crate::sinks::{
    AzureLogsSink, ConsoleSink, DeadLetters, FileSink, OtlpSink, RedactingSink, ReopenSignal, Sink,
    SinkHandle, SinkTaskOptions,
};
use crate::source::{PollSummary, SinkRetry, Source, SourceError, SourceOutcome, SourceParts};
use crate::state::{StateError, StateStore};
use crate::time::SharedClock;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

/// How to run, beyond the configuration file.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// Poll every source once, then exit.
    pub once: bool,
    /// Where "now" comes from (the system clock, or a simulated one).
    pub clock: SharedClock,
    /// Retry behaviour of Graph requests, and the backoff of sink deliveries.
    pub retry: RetryPolicy,
    /// Signal file sinks to reopen (SIGHUP).
    pub reopen: ReopenSignal,
    /// Where metrics go (served at `[api].address` unless `once`).
    pub metrics: Arc<Metrics>,
}

/// Why the agent could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// State could not be opened.
    #[error("state: {0}")]
    State(#[from] StateError),
    /// The metrics could not be registered (a clashing or malformed definition).
    #[error(transparent)]
    Metrics(#[from] crate::metrics::MetricsError),
    /// A sink could not be opened.
    #[error("{0}")]
    Sink(String),
    /// Something else the agent needs could not be set up (HTTP client, directories).
    #[error("{0}")]
    Setup(String),
    /// A source could not be set up.
    #[error("sources.{source_name}: {message}")]
    Source {
        /// The source.
        source_name: String,
        /// Why.
        message: String,
    },
}

/// What a run ended with.
#[derive(Debug, Default)]
pub struct RunReport {
    /// Sources that failed (after retries, or permanently), with why.
    pub failed: Vec<(String, String)>,
    /// Events each sink sent to its dead letters during the run (not delivered).
    pub dead_lettered: Vec<(String, u64)>,
}

impl RunReport {
    /// Exit status: 0 when every source succeeded, 1 otherwise.
    pub fn exit_code(&self) -> i32 {
        if self.failed.is_empty() { 0 } else { 1 }
    }
}

/// The HTTP client every source shares: rustls with ring, no redirects (a redirect
/// must never carry the token elsewhere), a clear user agent.
pub fn http_client() -> Result<reqwest::Client, String> {
    http_client_trusting(None)
}

/// The same client, also trusting the CA in `ca_file` (PEM).
pub fn http_client_trusting(ca_file: Option<&std::path::Path>) -> Result<reqwest::Client, String> {
    let mut builder = crate::http_client::builder()?;
    if let Some(path) = ca_file {
        let pem = std::fs::read(path).map_err(|error| format!("{}: {error}", path.display()))?;
        let certificate = reqwest::Certificate::from_pem(&pem)
            .map_err(|error| format!("{}: {error}", path.display()))?;
        builder = builder.add_root_certificate(certificate);
    }
    builder
        .connect_timeout(Duration::from_secs(15))
        .pool_idle_timeout(Duration::from_secs(60))
        .build()
        .map_err(|error| format!("cannot build the HTTP client: {error}"))
}

/// What a source asks of the agent's [`PaceBook`]: Graph's limits are per function
/// of a tenant, per application in a tenant and per tenant.
pub(crate) fn pace_member(config: &SourceConfig) -> PaceMember<'_> {
    PaceMember {
        tenant: &config.tenant_id,
        client_id: &config.client_id,
        function: config.kind.function(),
        requests_per_minute: config.requests_per_minute,
    }
}

/// The Graph client of one source (its token source, endpoint, pace from `paces`,
/// and retries).
pub(crate) fn build_client(
    config: &SourceConfig,
    http: &reqwest::Client,
    retry: RetryPolicy,
    telemetry: &SourceTelemetry,
    paces: &PaceBook,
) -> Result<GraphClient, String> {
    let material = config.credential.material()?;
    let tokens = TokenSource::new(
        http.clone(),
        &config.authority_url,
        &config.tenant_id,
        &config.client_id,
        &format!(
            "{}/.default",
            config.graph_url.as_str().trim_end_matches('/')
        ),
        material,
        Arc::new(GraphTokenEvents(Arc::new(telemetry.clone()))),
    )
    .map_err(|error| error.to_string())?
    .with_timeout(config.request_timeout);
    let endpoint = GraphEndpoint {
        base: config.graph_url.clone(),
        version: config.api_version,
        kind: config.kind,
        tenant_id: config.tenant_id.clone(),
    };
    let options = GraphClientOptions {
        requests_per_minute: config.requests_per_minute,
        request_timeout: config.request_timeout,
        retry,
        ..GraphClientOptions::default()
    };
    Ok(GraphClient::new(
        http.clone(),
        endpoint,
        tokens,
        options,
        Arc::new(telemetry.clone()),
    )
    .with_pace(paces.pace(&pace_member(config))))
}

/// Each sink's handle by name, and the tasks to await at the end.
type BuiltSinks = (
    HashMap<String, SinkHandle>,
    Vec<tokio::task::JoinHandle<()>>,
);

fn build_sinks(
    config: &Config,
    reopen: &ReopenSignal,
    metrics: &Metrics,
    http: &reqwest::Client,
) -> Result<BuiltSinks, StartError> {
    let mut handles = HashMap::new();
    let mut tasks = Vec::new();
    for sink in &config.sinks {
        // One set of handles per sink: the task reports batches, OTLP also rejections.
        let telemetry = metrics.sink(&sink.name);
        let built: Box<dyn Sink> = match &sink.kind {
            SinkKind::Console => Box::new(ConsoleSink::new(&sink.name)),
            SinkKind::File { path } => Box::new(
                FileSink::new(&sink.name, path.clone(), reopen.clone())
                    .map_err(|error| StartError::Sink(error.to_string()))?,
            ),
            SinkKind::Otlp(otlp) => {
                let mut tenants: Vec<String> = config
                    .sources
                    .iter()
                    .filter(|source| sink.inputs.contains(&source.name))
                    .map(|source| source.tenant_id.clone())
                    .collect();
                tenants.sort();
                tenants.dedup();
                Box::new(
                    OtlpSink::new(&sink.name, otlp, &tenants, telemetry.clone())
                        .map_err(|error| StartError::Sink(error.to_string()))?,
                )
            }
            SinkKind::AzureLogsIngestion(azure) => Box::new(
                AzureLogsSink::new(&sink.name, azure, http.clone())
                    .map_err(|error| StartError::Sink(error.to_string()))?,
            ),
        };
        let built: Box<dyn Sink> = match &sink.redact {
            Some(redact) => Box::new(RedactingSink::new(&sink.name, built, redact)),
            None => built,
        };
        let options = SinkTaskOptions {
            telemetry,
            dead_letters: DeadLetters::new(
                &config.data_dir,
                &sink.name,
                metrics.dead_letters(&sink.name),
            ),
            retry_max_duration: sink.retry_max_duration,
        };
        let (handle, task) = SinkHandle::spawn(&sink.name, built, options);
        handles.insert(sink.name.clone(), handle);
        tasks.push(task);
    }
    Ok((handles, tasks))
}

/// The one line a `--once` run ends with: rows per source and per sink (those a sink
/// dead-lettered counted apart from those it delivered), duplicates skipped, time taken.
fn summarise_once(
    config: &Config,
    delivered: &[(String, PollSummary)],
    report: &RunReport,
    started: std::time::Instant,
) {
    let dead_of = |sink: &str| {
        report
            .dead_lettered
            .iter()
            .find(|(name, _)| name == sink)
            .map_or(0, |(_, rows)| *rows)
    };
    let rows_of = |source: &str| {
        delivered
            .iter()
            .find(|(name, _)| name == source)
            .map_or(0, |(_, summary)| summary.rows_new)
    };
    let per_source: Vec<String> = config
        .sources
        .iter()
        .map(|source| format!("{}={}", source.name, rows_of(&source.name)))
        .collect();
    let per_sink: Vec<String> = config
        .sinks
        .iter()
        .map(|sink| {
            let rows: u64 = sink.inputs.iter().map(|input| rows_of(input)).sum();
            format!("{}={}", sink.name, rows.saturating_sub(dead_of(&sink.name)))
        })
        .collect();
    let dead_lettered: Vec<String> = report
        .dead_lettered
        .iter()
        .filter(|(_, rows)| *rows > 0)
        .map(|(sink, rows)| format!("{sink}={rows}"))
        .collect();
    let (rows, duplicates) = delivered.iter().fold((0, 0), |(rows, duplicates), (_, s)| {
        (rows + s.rows_new, duplicates + s.duplicates)
    });
    tracing::info!(
        rows_delivered = rows,
        duplicates_skipped = duplicates,
        sources = per_source.join(" "),
        sinks = per_sink.join(" "),
        rows_dead_lettered = report.dead_lettered.iter().map(|(_, rows)| rows).sum::<u64>(),
        dead_lettered = dead_lettered.join(" "),
        sources_failed = report.failed.len(),
        seconds = format!("{:.1}", started.elapsed().as_secs_f64()),
        "once: done"
    );
}

/// Runs the agent until shutdown (or, with `once`, one poll of every source).
pub async fn run(
    config: &Config,
    options: RunOptions,
    shutdown: Shutdown,
) -> Result<RunReport, StartError> {
    let started = std::time::Instant::now();
    let store = StateStore::open_configured(&config.state, &config.data_dir).await?;
    // A long-running agent serves /metrics, /healthz and /readyz; --once has no listener.
    let api = if options.once {
        None
    } else {
        let listener = ApiListener::bind(config.api_address)
            .await
            .map_err(|error| {
                StartError::Setup(format!(
                    "api.address: cannot listen on {}: {error}",
                    config.api_address
                ))
            })?;
        let address = listener.local_address().unwrap_or(config.api_address);
        tracing::info!(metrics = %format!("http://{address}/metrics"), "serving /metrics, /healthz and /readyz");
        Some(listener.spawn(options.metrics.clone()))
    };
    let http = http_client().map_err(StartError::Setup)?;
    let (sink_handles, sink_tasks) = build_sinks(config, &options.reopen, &options.metrics, &http)?;
    // One book for the whole agent: its sources share Graph's limits per function,
    // application and tenant.
    let paces = PaceBook::new(config.sources.iter().map(pace_member));
    let mut sources = Vec::new();
    for source_config in &config.sources {
        let failed = |message: String| StartError::Source {
            source_name: source_config.name.clone(),
            message,
        };
        let telemetry = options.metrics.source(
            &source_config.name,
            source_config.kind,
            crate::metrics::SourceCadence {
                poll_interval: source_config.poll_interval,
                real_poll_interval: options.clock.real_duration(source_config.poll_interval),
            },
        );
        // A source with its own ca_file gets its own client; the others share one.
        let source_http = match &source_config.ca_file {
            Some(ca_file) => http_client_trusting(Some(ca_file)).map_err(failed)?,
            None => http.clone(),
        };
        // --once must end, and soon enough for cron: a request stops retrying after
        // the source's retry_max_duration.
        let graph_retry = RetryPolicy {
            max_elapsed: options
                .once
                .then_some(source_config.retry_max_duration)
                .or(options.retry.max_elapsed),
            ..options.retry
        };
        let client =
            build_client(source_config, &source_http, graph_retry, &telemetry, &paces)
                .map_err(failed)?;
        let state = store.source(
            &source_config.name,
            source_config.kind.source_type(),
            &source_config.tenant_id,
        ).await?;
        let sinks = config
            .sinks_of(&source_config.name)
            .filter_map(|sink| sink_handles.get(&sink.name).cloned())
            .collect();
        let parts = SourceParts {
            config: source_config.clone(),
            client,
            state,
            sinks,
            clock: options.clock.clone(),
            shutdown: shutdown.clone(),
            metrics: options.metrics.clone(),
            telemetry,
            sink_retry: SinkRetry {
                policy: options.retry,
                // --once must end: it gives up on a sink that keeps refusing after
                // that sink's retry_max_duration, reports it and exits 1.
                bounded: options.once,
            },
        };
        sources.push(
            Source::new(parts)
                .await
                .map_err(|error| failed(error.to_string()))?,
        );
    }
    let dead_letters: Vec<(String, DeadLetters)> = sink_handles
        .iter()
        .map(|(name, handle)| (name.clone(), handle.dead_letters().clone()))
        .collect();
    drop(sink_handles);
    let mut tasks = tokio::task::JoinSet::new();
    for mut source in sources {
        let once = options.once;
        tasks.spawn(async move {
            let name = source.name().to_owned();
            let outcome = if once {
                let polled = source.poll_once().await;
                source.finish_directory_round().await;
                match polled {
                    Ok(summary) => {
                        tracing::info!(source = %name, rows_new = summary.rows_new, rows_read = summary.rows_read, duplicates = summary.duplicates, bad_rows = summary.bad_rows, windows = summary.windows,
                            pages = summary.pages, "poll done");
                        Ok(summary)
                    }
                    Err(SourceError::Interrupted) => Ok(PollSummary::default()),
                    Err(error) => {
                        tracing::error!(source = %name, %error, "poll failed");
                        Err(error.to_string())
                    }
                }
            } else {
                match source.run().await {
                    SourceOutcome::Stopped => Ok(PollSummary::default()),
                    SourceOutcome::Failed(error) => Err(error.to_string()),
                }
            };
            (name, outcome)
        });
    }
    let mut report = RunReport::default();
    let mut delivered = Vec::new();
    while let Some(joined) = tasks.join_next().await {
        match joined {
            Ok((name, Ok(summary))) => delivered.push((name, summary)),
            Ok((name, Err(message))) => report.failed.push((name, message)),
            Err(error) => report.failed.push(("?".into(), error.to_string())),
        }
    }
    report.dead_lettered = dead_letters
        .iter()
        .map(|(name, letters)| (name.clone(), letters.written()))
        .collect();
    report.dead_lettered.sort();
    if options.once {
        summarise_once(config, &delivered, &report, started);
    } else if !report.failed.is_empty() && report.failed.len() == config.sources.len() {
        tracing::error!(
            sources = report.failed.len(),
            "every source stopped on a permanent error; exiting with status 1"
        );
    }
    // Sources are done and their sink handles dropped: each sink finishes its queue.
    if let Some(api) = api {
        api.abort();
    }
    for task in sink_tasks {
        let _ = task.await;
    }
    Ok(report)
}
