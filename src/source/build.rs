//! The one place a source is built from its configuration: its HTTP client, Graph
//! client (tokens, pace, retries), telemetry, state, cursors and directory. The
//! topology (every source of a config) and `embed` (one source) both call [`build`];
//! the shape is Vector's `SourceConfig::build(cx)`.

use super::SourceConfig;
use super::delivery::SinkRetry;
use super::{Source, SourceError, directory, page};
use crate::event::EventEncoder;
use crate::graph::{
    AuthError, GraphClient, GraphClientOptions, GraphEndpoint, GraphTokenEvents, PaceBook,
    PaceMember, TokenSource,
};
use crate::http_client::{BufferPool, ClientError};
use crate::metrics::{Metrics, SourceCadence, SourceTelemetry};
use crate::planner::SweepLadder;
use crate::retry::RetryPolicy;
use crate::shutdown::Shutdown;
use crate::sinks::SinkHandle;
use crate::state::{SourceState, StateError, StateStore};
use crate::time::{SharedClock, Timestamp};
use std::sync::Arc;
use std::time::Duration;

/// How a source runs: one poll over every window due now, then the end (`--once`,
/// the embed builder's `once()`), or a poll every `poll_interval` until shutdown.
/// One fact: it bounds Graph's retries and a refusing sink's, and picks the loop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunMode {
    /// One poll, then stop; retries end after the source's or sink's
    /// `retry_max_duration`, so the process ends (and soon enough for cron).
    Once,
    /// Poll until shutdown; a refusing sink is waited for, never skipped.
    Forever,
}

/// What the agent around a source gives it: what all its sources share (HTTP client,
/// Graph's limits, state, clock, shutdown, metrics) and how they run.
#[derive(Debug, Clone)]
pub struct SourceContext<'a> {
    /// The HTTP client sources share (a source with its own `ca_file` builds its own).
    pub http: &'a reqwest::Client,
    /// Graph's published limits, shared per function, application and tenant.
    pub paces: &'a PaceBook,
    /// Where every source keeps its progress.
    pub store: &'a StateStore,
    /// Where "now" comes from.
    pub clock: SharedClock,
    /// When to stop.
    pub shutdown: Shutdown,
    /// Where calls and the source's health are counted.
    pub metrics: Arc<Metrics>,
    /// Graph retries, and the backoff between offers to a refusing sink.
    pub retry: RetryPolicy,
    /// One poll or until shutdown.
    pub mode: RunMode,
    /// The lease the source is read under (PostgreSQL with replicas): every write of
    /// its state, from the cursors it sets up on a first run on, is fenced by it.
    pub fence: Option<crate::lease::Fence>,
    /// The page buffers of the source this is one tenant of, shared by its tenants;
    /// `None` gives the source its own.
    pub buffers: Option<PageBuffers>,
}

/// The large buffers a source reuses from page to page (issue 28): its pages' bodies
/// and its batches' event lines, a few of each, one set per source (its tenants
/// share it), so memory stays flat with tenants.
#[derive(Debug, Clone, Default)]
pub struct PageBuffers {
    bodies: BufferPool,
    lines: BufferPool,
}

#[cfg(test)]
impl PageBuffers {
    /// Whether `other` holds the same pools (a tenant of the same source).
    pub fn is_shared_with(&self, other: &PageBuffers) -> bool {
        self.bodies.is_shared_with(&other.bodies) && self.lines.is_shared_with(&other.lines)
    }
}

/// Why a source could not be built; each keeps its cause.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BuildError {
    /// Its own HTTP client (`ca_file`) could not be built.
    #[error(transparent)]
    Client(#[from] ClientError),
    /// Its credential could not be loaded (certificate or private key).
    #[error("{0}")]
    Credential(String),
    /// Its token source could not be set up.
    #[error(transparent)]
    Tokens(#[from] AuthError),
    /// Its state could not be opened.
    #[error(transparent)]
    State(#[from] StateError),
    /// Its cursors or directory could not be loaded.
    #[error(transparent)]
    Load(#[from] SourceError),
}

impl BuildError {
    /// Whether building again here cannot help until the configuration or this
    /// machine changes: its own client, credential or token endpoint, or state that
    /// refuses the source (recorded as another kind). State that cannot be reached
    /// (PostgreSQL away) is not: the next try may work.
    pub fn is_permanent(&self) -> bool {
        match self {
            BuildError::Client(_) | BuildError::Credential(_) | BuildError::Tokens(_) => true,
            BuildError::State(error) | BuildError::Load(SourceError::State(error)) => {
                matches!(error, StateError::Refused { .. })
            }
            BuildError::Load(_) => false,
        }
    }
}

/// What a source asks of the agent's [`PaceBook`]: Graph's limits are per function
/// of a tenant, per application in a tenant and per tenant.
pub fn pace_member(config: &SourceConfig) -> PaceMember<'_> {
    PaceMember {
        tenant: &config.tenant_id,
        client_id: &config.client_id,
        function: config.kind.function(),
        requests_per_minute: config.requests_per_minute,
    }
}

/// Builds the source `config` delivering to `sinks`, ready to [`run`](Source::run):
/// loads its cursors (first run: `now - lookback`) and its directory.
pub async fn build(
    config: &SourceConfig,
    sinks: Vec<SinkHandle>,
    cx: &SourceContext<'_>,
) -> Result<Source, BuildError> {
    let telemetry = cx.metrics.source(
        config.metrics_id(),
        config.kind,
        SourceCadence {
            poll_interval: config.poll_interval,
            real_poll_interval: cx.clock.real_duration(config.poll_interval),
        },
    );
    // A source with its own ca_file gets its own client; the others share one.
    let http = match &config.ca_file {
        Some(ca_file) => crate::http_client::client_trusting(Some(ca_file))?,
        None => cx.http.clone(),
    };
    // Once must end, and soon enough for cron: a request stops retrying after the
    // source's retry_max_duration.
    let graph_retry = RetryPolicy {
        max_elapsed: (cx.mode == RunMode::Once)
            .then_some(config.retry_max_duration)
            .or(cx.retry.max_elapsed),
        ..cx.retry
    };
    let buffers = cx.buffers.clone().unwrap_or_default();
    let client = Arc::new(
        graph_client(config, &http, graph_retry, &telemetry, cx.paces)?.with_bodies(buffers.bodies),
    );
    let state = open_state(config, cx).await?;
    let ladder = SweepLadder::bounded(config.poll_interval, config.late_window, config.max_delay);
    let cursors = load_cursors(config, &ladder, &state, &cx.clock).await?;
    // What its log lines say: the name, and `NAME/TENANT` for one of several tenants.
    let name: Arc<str> = config.metrics_id().component().into();
    let directory = open_directory(config, &name, &client, &state, cx).await?;
    Ok(Source {
        name,
        preparer: page::Preparer {
            source: config.name.as_str().into(),
            kind: config.kind,
            encoder: EventEncoder::new(&config.name, &config.tenant_id, config.kind),
            state: state.clone(),
            telemetry: telemetry.clone(),
            bad_rows: page::BadRowLog::default(),
            directory,
            recent: Default::default(),
            lines: buffers.lines,
            spare_rows: Vec::new(),
            spare_facts: Vec::new(),
        },
        config: config.clone(),
        client,
        state,
        sinks,
        clock: cx.clock.clone(),
        shutdown: cx.shutdown.clone(),
        // Once must end: it gives up on a sink that keeps refusing after that sink's
        // retry_max_duration, reports it and exits 1.
        sink_retry: SinkRetry {
            policy: cx.retry,
            mode: cx.mode,
        },
        mode: cx.mode,
        ladder,
        cursors,
        metrics: cx.metrics.clone(),
        telemetry,
    })
}

/// The source's state: one tenant's of several, or the source's own; under the
/// unit's fence when leased, so every write checks the lease.
async fn open_state(
    config: &SourceConfig,
    cx: &SourceContext<'_>,
) -> Result<SourceState, BuildError> {
    let (name, kind) = (&config.name, config.kind.source_type());
    let state = match config.tenancy.is_multi() {
        true => {
            cx.store
                .tenant_source(name, kind, &config.tenant_id, config.tenants.len())
                .await?
        }
        false => cx.store.source(name, kind, &config.tenant_id).await?,
    };
    Ok(match &cx.fence {
        Some(fence) => state.under(fence.clone()),
        None => state,
    })
}

/// The source's directory (`[sources.x.directory]`), its chargeback series enabled.
async fn open_directory(
    config: &SourceConfig,
    name: &Arc<str>,
    client: &Arc<GraphClient>,
    state: &SourceState,
    cx: &SourceContext<'_>,
) -> Result<Option<directory::Directory>, SourceError> {
    let Some(directory_config) = &config.directory else {
        return Ok(None);
    };
    cx.metrics.calls.enable_chargeback(
        config.metrics_id(),
        config.kind,
        directory_config.max_label_values,
    );
    let directory_state = state.directory().await?;
    Ok(Some(directory::Directory::new(
        name.clone(),
        directory_config,
        client.clone(),
        directory_state,
        cx.clock.clone(),
    )))
}

/// The Graph client of one source (its token source, endpoint, pace from `paces`,
/// and retries).
pub(super) fn graph_client(
    config: &SourceConfig,
    http: &reqwest::Client,
    retry: RetryPolicy,
    telemetry: &SourceTelemetry,
    paces: &PaceBook,
) -> Result<GraphClient, BuildError> {
    let material = config
        .credential
        .material()
        .map_err(BuildError::Credential)?;
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
    )?
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

/// The sweeps' cursors: as stored when the schedule is unchanged, carried over when
/// it changed, `now - lookback` on the first run. A report keeps none (it is read by
/// UTC day, not by sweeps).
async fn load_cursors(
    config: &SourceConfig,
    ladder: &SweepLadder,
    state: &SourceState,
    clock: &SharedClock,
) -> Result<Vec<Timestamp>, SourceError> {
    let stored = state.cursors().await?;
    if config.kind.is_report() {
        return Ok(Vec::new());
    }
    let delays = ladder.delays().to_vec();
    if stored
        .iter()
        .map(|(delay, _)| *delay)
        .eq(delays.iter().copied())
    {
        return Ok(stored.iter().map(|(_, cursor)| *cursor).collect());
    }
    let cursors = match ladder.adopt(&stored) {
        Some(adopted) => {
            tracing::info!(source = %config.name, "sweep schedule changed (poll_interval, late_window or max_delay); carrying progress over");
            adopted
        }
        None => {
            let now = clock.now();
            tracing::info!(source = %config.name, from = %now.saturating_sub(config.lookback), "first run: reading from now - lookback");
            ladder.initial_cursors(now, config.lookback)
        }
    };
    let rows: Vec<(Duration, Timestamp)> = delays
        .iter()
        .copied()
        .zip(cursors.iter().copied())
        .collect();
    state.replace_cursors(rows).await?;
    Ok(cursors)
}
