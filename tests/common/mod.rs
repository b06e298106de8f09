//! A harness: the simulated tenant on loopback and the agent (as a library) polling it.
#![allow(dead_code)]

pub mod postgres;
pub mod tools;

use pstn_agent::config::{Config, Environment};
use pstn_agent::metrics::Metrics;
use pstn_agent::model::LogKind;
use pstn_agent::retry::RetryPolicy;
use pstn_agent::shutdown::shutdown_pair;
use pstn_agent::simulate::{SimulatorHandle, SimulatorOptions};
use pstn_agent::sinks::ReopenSignal;
use pstn_agent::time::{ManualClock, SharedClock, Timestamp};
use pstn_agent::topology::{RunOptions, RunReport, run};
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
            once: true,
            clock: self.clock.clone(),
            retry,
            reopen: ReopenSignal::default(),
            metrics: self.metrics.clone(),
        };
        run(config, options, shutdown).await.unwrap()
    }

    /// Every event written so far, as (row key, event): see [`row_key`].
    pub fn events(&self) -> Vec<(String, serde_json::Value)> {
        let text = std::fs::read_to_string(self.output()).unwrap_or_default();
        text.lines()
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

/// Runs openssl in `dir`; tests that need certificates need it.
fn openssl(dir: &Path, args: &[&str]) {
    let status = std::process::Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .expect("openssl is needed to make test certificates");
    assert!(status.success(), "openssl {args:?}");
}

/// A self-signed certificate and its RSA key (PKCS#8), made with openssl in `dir`.
pub fn make_certificate(dir: &Path, name: &str) -> (PathBuf, PathBuf) {
    let (cert, key) = (format!("{name}.pem"), format!("{name}.key"));
    openssl(
        dir,
        &[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=pstn-agent-test",
            "-keyout",
            &key,
            "-out",
            &cert,
        ],
    );
    (dir.join(cert), dir.join(key))
}

/// A test CA, and a server and a client certificate it signed (made with openssl).
pub fn make_pki(dir: &std::path::Path) {
    let run = |args: &[&str]| openssl(dir, args);
    std::fs::write(
        dir.join("server.ext"),
        "subjectAltName=DNS:localhost,DNS:graph.example.test,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n",
    )
    .unwrap();
    std::fs::write(dir.join("client.ext"), "extendedKeyUsage=clientAuth\n").unwrap();
    run(&[
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-days",
        "2",
        "-subj",
        "/CN=pstn-agent test CA",
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
    ]);
    for name in ["server", "client"] {
        run(&[
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-subj",
            &format!("/CN={name}"),
            "-keyout",
            &format!("{name}.key"),
            "-out",
            &format!("{name}.csr"),
        ]);
        run(&[
            "x509",
            "-req",
            "-in",
            &format!("{name}.csr"),
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-days",
            "2",
            "-extfile",
            &format!("{name}.ext"),
            "-out",
            &format!("{name}.pem"),
        ]);
    }
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
