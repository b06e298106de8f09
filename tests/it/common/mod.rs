//! A harness: the simulated tenant on loopback and the agent (as a library) polling it.

mod certificates;
pub mod dialout;
pub mod otlp;
pub mod postgres;
pub mod tools;

pub use certificates::{make_certificate, make_pki};

use pstn_agent::config::{Config, Environment};
use pstn_agent::metrics::Metrics;
use pstn_agent::model::LogKind;
use pstn_agent::retry::RetryPolicy;
use pstn_agent::shutdown::shutdown_pair;
use pstn_agent::simulate::{SimulatorHandle, SimulatorOptions};
use pstn_agent::sinks::ReopenSignal;
use pstn_agent::time::{ManualClock, SharedClock, Timestamp};
use pstn_agent::topology::{RunMode, RunOptions, RunReport, run};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

pub const NOW: &str = "2024-05-20T12:00:00Z";

pub fn at(text: &str) -> Timestamp {
    Timestamp::parse(text).unwrap()
}

pub struct Harness {
    pub simulator: SimulatorHandle,
    pub clock: Arc<ManualClock>,
    pub dir: tempfile::TempDir,
    /// Shared by every run of this harness, as one long-running process would.
    pub metrics: Arc<Metrics>,
}

/// Fast retries so fault tests take seconds, not minutes.
pub fn quick_retries() -> RetryPolicy {
    RetryPolicy {
        min_delay: Duration::from_millis(20),
        max_delay: Duration::from_millis(200),
        max_retries: 6,
        max_throttle_wait: Duration::from_secs(60),
        max_elapsed: None,
    }
}

impl Harness {
    /// The simulated tenant without Graph's published limits, and (in the configs
    /// below) an agent paced far beyond them: these tests need speed, not Graph's pace.
    /// [`Harness::start_with_graph_limits`] keeps the limits.
    pub async fn start(options: SimulatorOptions) -> Harness {
        Harness::start_with_graph_limits(options.without_graph_limits()).await
    }

    /// The simulated tenant as `options` say, Graph's published limits on by default.
    pub async fn start_with_graph_limits(options: SimulatorOptions) -> Harness {
        let clock = Arc::new(ManualClock::new(at(NOW)));
        let shared: SharedClock = clock.clone();
        let simulator = pstn_agent::simulate::start(([127, 0, 0, 1], 0).into(), options, shared)
            .await
            .unwrap();
        Harness {
            simulator,
            clock,
            dir: tempfile::tempdir().unwrap(),
            metrics: Metrics::new().unwrap(),
        }
    }

    pub fn output(&self) -> PathBuf {
        self.dir.path().join("out/calls.jsonl")
    }

    /// A config with one source of `kind` and a file sink; `extra` goes into the source table.
    pub fn config(&self, kind: LogKind, extra: &str) -> Config {
        self.config_with_secret(kind, extra, "secret")
    }

    pub fn config_with_secret(&self, kind: LogKind, extra: &str, secret: &str) -> Config {
        self.config_full(
            kind,
            extra,
            &format!("client_secret = \"{secret}\""),
            &self.output(),
        )
    }

    /// A config with these credential lines, writing to `out`.
    pub fn config_full(&self, kind: LogKind, extra: &str, credential: &str, out: &Path) -> Config {
        let url = self.simulator.url();
        let text = format!(
            r#"
data_dir = "{data}"
[sources.tenant]
type = "{kind}"
tenant_id = "contoso.onmicrosoft.com"
client_id = "11111111-1111-1111-1111-111111111111"
{credential}
authority_url = "{url}"
graph_url = "{url}"
requests_per_minute = 60000
{extra}
[sinks.archive]
type = "file"
path = "{out}"
inputs = ["tenant"]
retry_max_duration = "2s"
"#,
            data = self.dir.path().join("state").display(),
            kind = kind.source_type(),
            out = out.display(),
        );
        Config::parse(&text, Path::new("/"), &Environment::fixed([]))
            .unwrap_or_else(|problems| panic!("{problems:?}"))
    }

    pub async fn once(&self, config: &Config) -> RunReport {
        self.once_with(config, quick_retries()).await
    }

    pub async fn once_with(&self, config: &Config, retry: RetryPolicy) -> RunReport {
        let (_trigger, shutdown) = shutdown_pair();
        let options = RunOptions {
            mode: RunMode::Once,
            clock: self.clock.clone(),
            retry,
            reopen: ReopenSignal::default(),
            metrics: self.metrics.clone(),
        };
        run(config, options, shutdown).await.unwrap()
    }

    /// Every event written so far, as (row key, event): see [`row_key`]. Only
    /// complete lines count ([`complete_lines`]).
    pub fn events(&self) -> Vec<(String, serde_json::Value)> {
        let text = std::fs::read_to_string(self.output()).unwrap_or_default();
        complete_lines(&text)
            .map(|line| {
                let event: serde_json::Value = serde_json::from_str(line).unwrap();
                (row_key(&event["call"]), event)
            })
            .collect()
    }

    /// How many times each id was delivered.
    pub fn delivery_counts(&self) -> HashMap<String, usize> {
        let mut counts = HashMap::new();
        for (id, _) in self.events() {
            *counts.entry(id).or_insert(0) += 1;
        }
        counts
    }

    /// Deliveries per call id after SIGKILLs, and the torn lines: a kill mid-write
    /// leaves a fragment that the next run ends with a newline before writing on.
    pub fn delivery_counts_after_kills(&self) -> (HashMap<String, usize>, usize) {
        let text = std::fs::read_to_string(self.output()).unwrap_or_default();
        let (mut counts, mut torn) = (HashMap::new(), 0);
        for line in text.lines() {
            match serde_json::from_str::<serde_json::Value>(line) {
                Ok(event) => {
                    let id = row_key(&event["call"]);
                    *counts.entry(id).or_insert(0) += 1;
                }
                Err(_) => torn += 1,
            }
        }
        (counts, torn)
    }

    /// The keys ([`row_key`]) of the rows the simulator holds with a start in
    /// [from, to) visible at `now`.
    pub fn expected_ids(
        &self,
        kind: LogKind,
        from: Timestamp,
        to: Timestamp,
        now: Timestamp,
    ) -> Vec<String> {
        let generator = &self.simulator.generator;
        generator
            .visible_calls(kind, from, to, false, now)
            .map(|call| {
                let mut row = String::new();
                generator.write_row(kind, version_of(kind), &call, &mut row);
                row_key(&serde_json::from_str(&row).unwrap())
            })
            .collect()
    }
}

/// The lines of `text` that end in a newline: a file sink's output read while the
/// agent runs may end halfway through one batch's write.
pub fn complete_lines(text: &str) -> std::str::Lines<'_> {
    text.rfind('\n').map_or("", |end| &text[..end]).lines()
}

/// Waits until `done` holds, asking every 20 ms; fails naming `what` after `limit`.
/// For waits on real processes, real sockets and real files, where tokio's paused
/// time cannot stand in (it would jump past a wait on the network): the deadline only
/// bounds a failing test, a passing one goes on as soon as the condition holds.
pub async fn eventually(what: &str, limit: Duration, mut done: impl AsyncFnMut() -> bool) {
    let deadline = std::time::Instant::now() + limit;
    while !done().await {
        assert!(
            std::time::Instant::now() < deadline,
            "{what} did not happen within {limit:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A config with one PSTN source `tenant` (with `source` lines) reading the directory
/// (`directory` lines), a file sink (`sink` lines added to it), `${KEY}` set for
/// redaction, and the API on a free port.
pub fn directory_config(harness: &Harness, source: &str, directory: &str, sink: &str) -> Config {
    let url = harness.simulator.url();
    let text = format!(
        r#"
data_dir = "{data}"
[api]
address = "127.0.0.1:0"
[sources.tenant]
type = "pstn_calls"
tenant_id = "contoso.onmicrosoft.com"
client_id = "11111111-1111-1111-1111-111111111111"
client_secret = "secret"
authority_url = "{url}"
graph_url = "{url}"
requests_per_minute = 60000
lookback = "2d"
{source}
[sources.tenant.directory]
{directory}
[sinks.archive]
type = "file"
path = "{out}"
inputs = ["tenant"]
{sink}
"#,
        data = harness.dir.path().join("state").display(),
        out = harness.output().display(),
    );
    let environment = Environment::fixed([(
        "KEY".to_owned(),
        "0123456789abcdef0123456789abcdef".to_owned(),
    )]);
    Config::parse(&text, Path::new("/"), &environment).unwrap_or_else(|p| panic!("{p:?}"))
}

/// The API version a source of `kind` reads by default.
pub fn version_of(kind: LogKind) -> pstn_agent::model::ApiVersion {
    if kind.beta_only() {
        pstn_agent::model::ApiVersion::Beta
    } else {
        pstn_agent::model::ApiVersion::V1
    }
}

/// What tells one row from another, independently of the agent's own dedupe key: its
/// `id`, else its `remediationId` (blocked users), else its whole content (serde_json
/// sorts object keys, so equal rows give equal text).
pub fn row_key(call: &serde_json::Value) -> String {
    ["id", "remediationId"]
        .iter()
        .find_map(|field| call[*field].as_str())
        .map(str::to_owned)
        .unwrap_or_else(|| call.to_string())
}

/// `pstn-agent --config CONFIG --once` (the real binary) on a clock standing at `NOW`,
/// run off the async runtime; `customise` adds flags and environment.
pub async fn agent_once(
    config: &Path,
    customise: impl FnOnce(&mut std::process::Command) + Send + 'static,
) -> std::process::Output {
    let config = config.to_owned();
    tokio::task::spawn_blocking(move || {
        let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_pstn-agent"));
        command.arg("--config").arg(&config).args([
            "--once",
            "--clock-start",
            NOW,
            "--time-scale",
            "0",
        ]);
        customise(&mut command);
        command.output().unwrap()
    })
    .await
    .unwrap()
}
