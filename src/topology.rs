//! Builds the running agent from a configuration: one task per sink, one per source.
//! Each source is built by [`crate::source::build`] (the same as `embed`'s); this
//! module opens the sinks, the api listener, and spawns and awaits the tasks.

mod leased;
mod sinks;
mod summary;
mod tenants;

/// The HTTP client every source shares (it lives in `http_client`; tests and benches
/// know it by this name too).
pub use crate::http_client::client as http_client;
pub use crate::source::RunMode;

use crate::api::ApiListener;
use crate::config::Config;
use crate::graph::PaceBook;
use crate::http_client::ClientError;
use crate::lease::LeaseKeeper;
use crate::metrics::Metrics;
use crate::retry::RetryPolicy;
use crate::shutdown::Shutdown;
use crate::sinks::{DeadLetters, ReopenSignal, SinkError, SinkHandle};
use crate::source::{BuildError, PollSummary, Source, SourceConfig, SourceContext};
use crate::state::{StateError, StateStore};
use crate::time::SharedClock;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;

/// How to run, beyond the configuration file.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// Poll every source once, then exit (`--once`); or run until shutdown.
    pub mode: RunMode,
    /// Where "now" comes from (the system clock, or a simulated one).
    pub clock: SharedClock,
    /// Retry behaviour of Graph requests, and the backoff of sink deliveries.
    pub retry: RetryPolicy,
    /// Signal file sinks to reopen (SIGHUP).
    pub reopen: ReopenSignal,
    /// Where metrics go (served at `[api].address` unless `Once`).
    pub metrics: Arc<Metrics>,
}

/// Why the agent could not start; each keeps its cause.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StartError {
    /// State could not be opened.
    #[error("state: {0}")]
    State(#[from] StateError),
    /// The metrics could not be registered (a clashing or malformed definition).
    #[error(transparent)]
    Metrics(#[from] crate::metrics::MetricsError),
    /// A sink could not be opened.
    #[error("{source}")]
    Sink {
        /// The sink.
        sink: String,
        /// Why (the error names the sink too).
        source: Box<SinkError>,
    },
    /// The api listener could not take its address.
    #[error("api.address: cannot listen on {address}: {source}")]
    Listen {
        /// `[api].address`.
        address: SocketAddr,
        /// What the operating system said.
        source: std::io::Error,
    },
    /// The HTTP client the sources share could not be built.
    #[error(transparent)]
    HttpClient(#[from] ClientError),
    /// A source could not be set up.
    #[error("sources.{source_name}: {cause}")]
    Source {
        /// The source.
        source_name: String,
        /// Why.
        #[source]
        cause: Box<BuildError>,
    },
}

impl StartError {
    /// Source `name` could not be built: its state as a state error, as ever, the rest
    /// named by the source.
    fn source(name: &str, error: BuildError) -> StartError {
        match error {
            BuildError::State(error) => StartError::State(error),
            cause => StartError::Source {
                source_name: name.to_owned(),
                cause: Box::new(cause),
            },
        }
    }
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

/// Runs the agent until shutdown (or, with `RunMode::Once`, one poll of every source).
pub async fn run(
    config: &Config,
    options: RunOptions,
    shutdown: Shutdown,
) -> Result<RunReport, StartError> {
    let started = std::time::Instant::now();
    let store = StateStore::open_configured(&config.state, &config.data_dir).await?;
    // A long-running agent serves /metrics, /healthz and /readyz; --once has no listener.
    let api = match options.mode {
        RunMode::Once => None,
        RunMode::Forever => Some(serve_api(config, &options.metrics).await?),
    };
    let http = http_client()?;
    let (sink_handles, sink_tasks) =
        sinks::build_sinks(config, &options.reopen, &options.metrics, &http)?;
    // One book for the whole agent: its sources (each tenant of each) share Graph's
    // limits per function, application and tenant.
    let every_tenant: Vec<SourceConfig> = config
        .sources
        .iter()
        .flat_map(SourceConfig::per_tenant)
        .collect();
    let paces = Arc::new(PaceBook::new(
        every_tenant.iter().map(crate::source::pace_member),
    ));
    drop(every_tenant);
    let cx = SourceContext {
        http: &http,
        paces: &paces,
        store: &store,
        clock: options.clock.clone(),
        shutdown,
        metrics: options.metrics.clone(),
        retry: options.retry,
        mode: options.mode,
        fence: None,
        buffers: None,
    };
    let keeper = leased::keeper(config, &store, &options.metrics)?;
    let tasks = spawn_every_source(
        config,
        keeper.as_ref(),
        &sink_handles,
        &cx,
        &paces,
        &options,
    )
    .await?;
    drop(cx);
    let dead_letters: Vec<(String, DeadLetters)> = sink_handles
        .iter()
        .map(|(name, handle)| (name.clone(), handle.dead_letters().clone()))
        .collect();
    drop(sink_handles);
    let (delivered, mut report) = run_sources(tasks).await;
    // The sources stopped delivering: the others take their units at once.
    if let Some(keeper) = keeper {
        keeper.stop().await;
    }
    report.dead_lettered = dead_lettered(&dead_letters);
    say_how_it_ended(config, options.mode, &delivered, &report, started);
    // Sources are done and their sink handles dropped: each sink finishes its queue.
    if let Some(api) = api {
        api.abort();
    }
    for task in sink_tasks {
        let _ = task.await;
    }
    Ok(report)
}

/// How many events each sink dead-lettered, by sink name.
fn dead_lettered(dead_letters: &[(String, DeadLetters)]) -> Vec<(String, u64)> {
    let mut written: Vec<(String, u64)> = dead_letters
        .iter()
        .map(|(name, letters)| (name.clone(), letters.written()))
        .collect();
    written.sort();
    written
}

/// `--once` ends with its summary; a long run whose every source stopped says so.
fn say_how_it_ended(
    config: &Config,
    mode: RunMode,
    delivered: &[(String, PollSummary)],
    report: &RunReport,
    started: std::time::Instant,
) {
    if mode == RunMode::Once {
        summary::summarise_once(config, delivered, report, started);
    } else if !report.failed.is_empty() && report.failed.len() == config.sources.len() {
        tracing::error!(
            sources = report.failed.len(),
            "every source stopped on a permanent error; exiting with status 1"
        );
    }
}

/// Binds `[api].address` and serves /metrics, /healthz and /readyz from a task.
async fn serve_api(
    config: &Config,
    metrics: &Arc<Metrics>,
) -> Result<tokio::task::JoinHandle<()>, StartError> {
    let listener = ApiListener::bind(config.api_address)
        .await
        .map_err(|source| StartError::Listen {
            address: config.api_address,
            source,
        })?;
    let address = listener.local_address().unwrap_or(config.api_address);
    tracing::info!(metrics = %format!("http://{address}/metrics"), "serving /metrics, /healthz and /readyz");
    Ok(listener.spawn(metrics.clone()))
}

/// Spawns every source of `config`: with SQLite each built here (a source of several
/// tenants, each tenant, by `tenants`); with PostgreSQL each under its unit's lease.
async fn spawn_every_source(
    config: &Config,
    keeper: Option<&LeaseKeeper>,
    sink_handles: &HashMap<String, SinkHandle>,
    cx: &SourceContext<'_>,
    paces: &Arc<PaceBook>,
    options: &RunOptions,
) -> Result<tokio::task::JoinSet<SourceTask>, StartError> {
    let mut tasks = tokio::task::JoinSet::new();
    let shared = leased::Shared {
        http: cx.http.clone(),
        paces: paces.clone(),
        store: cx.store.clone(),
        clock: cx.clock.clone(),
        shutdown: cx.shutdown.clone(),
        metrics: cx.metrics.clone(),
        retry: cx.retry,
        mode: cx.mode,
        buffers: None,
    };
    match keeper {
        None => {
            spawn_sources(build_sources(config, sink_handles, cx).await?, &mut tasks);
            tenants::spawn(config, sink_handles, &shared, &options.reopen, &mut tasks);
        }
        Some(keeper) => {
            if options.mode == RunMode::Forever {
                let reopen = &options.reopen;
                tenants::follow_leased(config, keeper, sink_handles, &shared, reopen, &mut tasks);
            }
            leased::spawn_sources(config, keeper, sink_handles, &shared, &mut tasks);
        }
    }
    Ok(tasks)
}

/// Every source of one tenant of `config`, each delivering to the sinks that name it
/// in `inputs` (those of several tenants are `tenants`' to run).
async fn build_sources(
    config: &Config,
    sink_handles: &HashMap<String, SinkHandle>,
    cx: &SourceContext<'_>,
) -> Result<Vec<Source>, StartError> {
    let mut sources = Vec::new();
    for source_config in config.sources.iter().filter(|s| !s.tenancy.is_multi()) {
        let sinks = config
            .sinks_of(&source_config.name)
            .filter_map(|sink| sink_handles.get(&sink.name).cloned())
            .collect();
        let source = crate::source::build(source_config, sinks, cx)
            .await
            .map_err(|error| StartError::source(&source_config.name, error))?;
        sources.push(source);
    }
    Ok(sources)
}

/// A source task's outcome: its name, and what it delivered or why it failed.
type SourceTask = (String, Result<PollSummary, String>);

/// Spawns every built source in a task of its own.
fn spawn_sources(sources: Vec<Source>, tasks: &mut tokio::task::JoinSet<SourceTask>) {
    for source in sources {
        tasks.spawn(async move {
            let name = source.name().to_owned();
            (name, source.run().await.map_err(|error| error.to_string()))
        });
    }
}

/// Awaits every source task: what each delivered, and the report of those that failed.
async fn run_sources(
    mut tasks: tokio::task::JoinSet<SourceTask>,
) -> (Vec<(String, PollSummary)>, RunReport) {
    let mut report = RunReport::default();
    let mut delivered = Vec::new();
    while let Some(joined) = tasks.join_next().await {
        match joined {
            Ok((name, Ok(summary))) => delivered.push((name, summary)),
            Ok((name, Err(error))) => report.failed.push((name, error)),
            Err(error) => report.failed.push(("?".into(), error.to_string())),
        }
    }
    (delivered, report)
}

#[cfg(test)]
mod tests;
