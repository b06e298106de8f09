//! `pstn-agent demo`: the simulated tenant and the agent in one process, no set-up.

use crate::config::{Config, Credential, Secret, SinkConfig, SinkKind, SourceConfig};
use crate::model::{ApiVersion, LogKind};
use crate::retry::RetryPolicy;
use crate::shutdown::Shutdown;
use crate::simulate::{Lateness, SimulatorOptions};
use crate::sinks::ReopenSignal;
use crate::time::{Clock, ScaledClock, SharedClock, SystemClock};
use crate::topology::{RunMode, RunOptions, StartError, run};
use std::sync::Arc;
use std::time::Duration;
use url::Url;

/// Why the demo could not start; each keeps its cause.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DemoError {
    /// The simulated tenant could not start.
    #[error("cannot start the simulated tenant: {0}")]
    Simulator(#[source] std::io::Error),
    /// The simulated tenant's address is not a URL.
    #[error("{0}")]
    Url(#[source] url::ParseError),
    /// The demo's state directory could not be made.
    #[error("{}: {source}", path.display())]
    DataDir {
        /// The directory.
        path: std::path::PathBuf,
        /// What the operating system said.
        source: std::io::Error,
    },
    /// The agent could not start.
    #[error(transparent)]
    Start(#[from] StartError),
}

/// Knobs of the demo.
#[derive(Debug, Clone)]
pub struct DemoOptions {
    /// Simulated seconds per real second.
    pub time_scale: f64,
    /// Calls per day of each kind.
    pub calls_per_day: f64,
    /// Seed of the tenant.
    pub seed: u64,
    /// Also deliver to the simulator's Logs Ingestion stand-in (`--sentinel`).
    pub sentinel: bool,
}

fn source(name: &str, kind: LogKind, url: &Url) -> SourceConfig {
    SourceConfig {
        name: name.to_owned(),
        kind,
        tenant_id: "00000000-0000-0000-0000-000000000000".into(),
        tenancy: crate::config::Tenancy::Single,
        tenants: std::sync::Arc::from(["00000000-0000-0000-0000-000000000000".to_owned()]),
        client_id: "11111111-1111-1111-1111-111111111111".into(),
        credential: Credential::Secret(Secret::new("demo-secret")),
        authority_url: url.clone(),
        graph_url: url.clone(),
        // The SMS and blocked-user logs and the dial-out report exist only under beta.
        api_version: if kind.beta_only() {
            ApiVersion::Beta
        } else {
            ApiVersion::V1
        },
        poll_interval: Duration::from_secs(300),
        lookback: Duration::from_secs(2 * 86_400),
        late_window: Duration::from_secs(6 * 3600),
        max_delay: None,
        requests_per_minute: crate::model::graph_limits::COLLECTION_PER_MINUTE.into(),
        request_timeout: Duration::from_secs(30),
        retry_max_duration: crate::config::DEFAULT_ONCE_RETRY_MAX_DURATION,
        ca_file: None,
        // The calls show `user` (the simulated directory); the logs stay as they are.
        directory: kind.is_call().then(crate::config::DirectoryConfig::default),
    }
}

/// Runs the demo until shutdown.
pub async fn demo(options: DemoOptions, shutdown: Shutdown) -> Result<i32, DemoError> {
    let clock: SharedClock = Arc::new(ScaledClock::new(SystemClock.now(), options.time_scale));
    let simulator_options = SimulatorOptions {
        seed: options.seed,
        calls_per_day: options.calls_per_day,
        lateness: Lateness::Default,
        ..SimulatorOptions::default()
    };
    let simulator =
        crate::simulate::start(([127, 0, 0, 1], 0).into(), simulator_options, clock.clone())
            .await
            .map_err(DemoError::Simulator)?;
    let data_dir = tempfile_dir()?;
    let url = Url::parse(&simulator.url()).map_err(DemoError::Url)?;
    let config = Config {
        data_dir: data_dir.clone(),
        api_address: demo_api_address(),
        state: Default::default(),
        sources: vec![
            source("demo_pstn", LogKind::Pstn, &url),
            source("demo_direct_routing", LogKind::DirectRouting, &url),
            source("demo_sms", LogKind::Sms, &url),
            source("demo_blocked_users", LogKind::PstnBlockedUser, &url),
            source("demo_dialout", LogKind::PstnDialoutReport, &url),
        ],
        sinks: vec![SinkConfig {
            name: "stdout".into(),
            inputs: vec![
                "demo_pstn".into(),
                "demo_direct_routing".into(),
                "demo_sms".into(),
                "demo_blocked_users".into(),
                "demo_dialout".into(),
            ],
            kind: SinkKind::Console,
            redact: None,
            retry_max_duration: crate::config::DEFAULT_RETRY_MAX_DURATION,
        }],
    };
    let mut config = config;
    if options.sentinel {
        config.sinks.push(sentinel_sink(&url));
        tokio::spawn(report_ingested(simulator.ingestion.clone()));
    }
    tracing::info!(
        simulator = %simulator.url(),
        time_scale = options.time_scale,
        calls_per_day = options.calls_per_day,
        state = %data_dir.display(),
        "demo: a simulated tenant on loopback and the agent polling it every 5 simulated minutes, two days back; events go to stdout (try `| jq .kind`: calls, SMS, blocked users and the dial-out report's changed rows), this log to stderr, metrics at /metrics (address below). Stop with Ctrl-C."
    );
    tracing::info!(
        "to read a real tenant: write a config (see config/pstn-agent.toml), check it with `pstn-agent validate --config FILE`, then run `pstn-agent --config FILE`"
    );
    // `demo | head -3`: once the reader has its lines, end quietly with 0.
    crate::sinks::when_reader_gone(end_quietly);
    let run_options = RunOptions {
        metrics: crate::metrics::Metrics::new().map_err(StartError::from)?,
        mode: RunMode::Forever,
        clock,
        retry: RetryPolicy::default(),
        reopen: ReopenSignal::default(),
    };
    let report = run(&config, run_options, shutdown).await;
    let _ = std::fs::remove_dir_all(&data_dir);
    Ok(report?.exit_code())
}

/// Stdout's reader went away: the demo did its job. Its state is removed (the
/// process ends here, before `demo` could), and the status is 0 with nothing said.
fn end_quietly() {
    if let Ok(dir) = tempfile_dir() {
        let _ = std::fs::remove_dir_all(dir);
    }
    std::process::exit(0);
}

/// `--sentinel`: the Logs Ingestion sink, pointed at the simulator's stand-in.
fn sentinel_sink(url: &Url) -> SinkConfig {
    SinkConfig {
        name: "sentinel".into(),
        inputs: vec!["demo_pstn".into(), "demo_direct_routing".into()],
        kind: SinkKind::AzureLogsIngestion(Box::new(crate::config::AzureLogsIngestionConfig {
            endpoint: url.clone(),
            dcr_immutable_id: "dcr-00000000000000000000000000000000".into(),
            stream_name: None,
            streams: Vec::new(),
            tenant_id: "00000000-0000-0000-0000-000000000000".into(),
            client_id: "22222222-2222-2222-2222-222222222222".into(),
            credential: Credential::Secret(Secret::new("demo-secret")),
            authority_url: url.clone(),
            token_scope: crate::config::DEFAULT_MONITOR_SCOPE.into(),
            timeout: Duration::from_secs(30),
            gzip: true,
        })),
        redact: None,
        retry_max_duration: crate::config::DEFAULT_RETRY_MAX_DURATION,
    }
}

/// Logs, every ten seconds, how many records the stand-in holds per stream, and one
/// record once: what Log Analytics would store.
async fn report_ingested(ingestion: Arc<crate::simulate::Ingestion>) {
    let mut shown = false;
    loop {
        tokio::time::sleep(Duration::from_secs(10)).await;
        let records = ingestion.records();
        let mut streams = std::collections::BTreeMap::<String, usize>::new();
        for record in &records {
            *streams.entry(record.stream.clone()).or_default() += 1;
        }
        tracing::info!(?streams, "Logs Ingestion stand-in: records received so far");
        if let (false, Some(first)) = (shown, records.first()) {
            shown = true;
            tracing::info!(stream = %first.stream, record = %first.record, "Logs Ingestion stand-in: one record as Log Analytics would store it");
        }
    }
}

/// The contract's 127.0.0.1:9464 when free; otherwise any free port (the log says which).
fn demo_api_address() -> std::net::SocketAddr {
    let preferred: std::net::SocketAddr = ([127, 0, 0, 1], 9464).into();
    match std::net::TcpListener::bind(preferred) {
        Ok(_) => preferred,
        Err(_) => ([127, 0, 0, 1], 0).into(),
    }
}

fn tempfile_dir() -> Result<std::path::PathBuf, DemoError> {
    let dir = std::env::temp_dir().join(format!("pstn-agent-demo-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|source| DemoError::DataDir {
        path: dir.clone(),
        source,
    })?;
    Ok(dir)
}
