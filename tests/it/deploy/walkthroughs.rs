//! The compose stack and the Kubernetes pod as far as this machine allows (no
//! container engine, no cluster): their agent (and the compose simulator) run from the
//! built binary with the commands, environment and agent config they ship, the
//! Collector replaced by an OTLP receiver of the tests, names and volumes by loopback
//! ports and temporary directories.

use super::common::eventually;
use super::common::tools::{Running, free_port};
use super::deploy;
use super::receiver::{Received, start_grpc};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

/// The `command: [...]` of the compose service whose command contains `marker`.
fn service_command(compose: &str, marker: &str) -> Vec<String> {
    let line = compose
        .lines()
        .map(str::trim)
        .find(|line| line.starts_with("command: [") && line.contains(marker))
        .unwrap_or_else(|| panic!("no command with {marker}"));
    serde_json::from_str(line.trim_start_matches("command: ")).unwrap()
}

/// `GET /metrics` over a plain socket (what Prometheus' scrape of the service does).
fn get_metrics(port: u16) -> String {
    get(port, "/metrics")
}

/// A plain `GET path` on loopback (what a scrape or a kubelet probe does): the answer.
fn get(port: u16, path: &str) -> String {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream
        .write_all(
            format!("GET {path} HTTP/1.1\r\nHost: pstn-agent\r\nConnection: close\r\n\r\n")
                .as_bytes(),
        )
        .unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    answer
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_compose_services_run_with_their_shipped_commands_and_config() {
    let compose = std::fs::read_to_string(deploy("compose/compose.yaml")).unwrap();
    let agent_binary = env!("CARGO_BIN_EXE_pstn-agent");
    // simulator: its own command, on a loopback port instead of 0.0.0.0:8080.
    let simulator_port = free_port();
    let simulator_args: Vec<String> = service_command(&compose, "simulate")
        .into_iter()
        .map(|word| word.replace("0.0.0.0:8080", &format!("127.0.0.1:{simulator_port}")))
        .collect();
    let _simulator = Running(
        Command::new(agent_binary)
            .args(&simulator_args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    eventually(
        "the simulator listening",
        Duration::from_secs(20),
        async || std::net::TcpStream::connect(("127.0.0.1", simulator_port)).is_ok(),
    )
    .await;
    // collector: a gRPC receiver; agent: the shipped config with the names resolved.
    let collector = super::receiver::free_address();
    let received = Arc::new(Received::default());
    start_grpc(collector, received.clone());
    let dir = tempfile::tempdir().unwrap();
    let api_port = free_port();
    let config = write_shipped_config(dir.path(), api_port, simulator_port, collector);
    let agent_args: Vec<String> = service_command(&compose, "--config")
        .into_iter()
        .map(|word| {
            word.replace(
                "/etc/pstn-agent/pstn-agent.toml",
                &config.display().to_string(),
            )
        })
        .collect();
    let events = dir.path().join("stdout.jsonl");
    let mut agent = Running(
        Command::new(agent_binary)
            .args(&agent_args)
            .env("GRAPH_CLIENT_SECRET", "simulated-secret")
            .stdout(std::fs::File::create(&events).unwrap())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    assert!(compose.contains("GRAPH_CLIENT_SECRET: simulated-secret"));
    eventually(
        "events on stdout and at the collector",
        Duration::from_secs(60),
        async || {
            let exported = !received.exports.lock().unwrap().is_empty();
            let printed = std::fs::read_to_string(&events).is_ok_and(|text| text.starts_with('{'));
            exported && printed
        },
    )
    .await;
    let metrics = get_metrics(api_port);
    assert!(
        metrics.contains("pstn_sink_events_total{sink=\"collector\"}"),
        "{metrics}"
    );
    assert!(
        Command::new("kill")
            .args(["-TERM", &agent.0.id().to_string()])
            .status()
            .unwrap()
            .success()
    );
    let status = tokio::task::spawn_blocking(move || agent.0.wait())
        .await
        .unwrap();
    assert_eq!(status.unwrap().code(), Some(0));
}

/// compose's shipped `pstn-agent.toml` in `dir`, its names and ports resolved to
/// loopback: the state in `dir`, the api on `api_port`, the simulator's and the
/// collector's addresses.
fn write_shipped_config(
    dir: &Path,
    api_port: u16,
    simulator_port: u16,
    collector: std::net::SocketAddr,
) -> PathBuf {
    let shipped = std::fs::read_to_string(deploy("compose/pstn-agent.toml")).unwrap();
    let config = dir.join("pstn-agent.toml");
    std::fs::write(
        &config,
        shipped
            .replace(
                "/var/lib/pstn-agent",
                &dir.join("state").display().to_string(),
            )
            .replace("0.0.0.0:9464", &format!("127.0.0.1:{api_port}"))
            .replace("127.0.0.1:8080", &format!("127.0.0.1:{simulator_port}"))
            .replace("http://collector:4317", &format!("http://{collector}")),
    )
    .unwrap();
    config
}

/// The Deployment's `value:` of the environment variable `name` (plain text search:
/// the manifest's `- name: X` is followed by `value: Y`).
fn pod_env(deployment: &str, name: &str) -> String {
    let mut lines = deployment.lines().map(str::trim);
    lines
        .find(|line| *line == format!("- name: {name}"))
        .and_then(|_| lines.next())
        .and_then(|line| line.strip_prefix("value: "))
        .unwrap_or_else(|| panic!("no value for {name}"))
        .to_owned()
}

/// The pod's agent: the ConfigMap's pstn-agent.toml, the container's args and
/// environment, the Collector sidecar at 127.0.0.1:4317 (a test receiver on another
/// port here), the probes' paths answered, exit 0 on SIGTERM (the kubelet's stop).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_kubernetes_pod_agent_runs_with_its_configmap_args_and_probes() {
    let Some(configmap) = super::configmap_file("pstn-agent.toml") else {
        return;
    };
    let deployment = std::fs::read_to_string(deploy("kubernetes/deployment.yaml")).unwrap();
    let args_line = deployment
        .lines()
        .map(str::trim)
        .find(|line| line.starts_with("args: [\"--config\""))
        .expect("the agent container's args");
    let args: Vec<String> = serde_json::from_str(args_line.trim_start_matches("args: ")).unwrap();
    assert!(deployment.contains("mountPath: /var/lib/pstn-agent"));
    assert!(
        configmap.contains("\"http://127.0.0.1:4317\"") && configmap.contains("\"0.0.0.0:9464\"")
    );
    let collector = super::receiver::free_address();
    let received = Arc::new(Received::default());
    start_grpc(collector, received.clone());
    let dir = tempfile::tempdir().unwrap();
    let api_port = free_port();
    let config = dir.path().join("pstn-agent.toml");
    std::fs::write(
        &config,
        configmap
            .replace(
                "/var/lib/pstn-agent",
                &dir.path().join("pvc").display().to_string(),
            )
            .replace("0.0.0.0:9464", &format!("127.0.0.1:{api_port}"))
            .replace("127.0.0.1:4317", &collector.to_string()),
    )
    .unwrap();
    let args: Vec<String> = args
        .into_iter()
        .map(|word| {
            word.replace(
                "/etc/pstn-agent/pstn-agent.toml",
                &config.display().to_string(),
            )
        })
        .collect();
    let mut agent = Running(
        Command::new(env!("CARGO_BIN_EXE_pstn-agent"))
            .args(&args)
            .env("AZURE_TENANT_ID", pod_env(&deployment, "AZURE_TENANT_ID"))
            .env("AZURE_CLIENT_ID", pod_env(&deployment, "AZURE_CLIENT_ID"))
            .env("GRAPH_CLIENT_SECRET", "from-the-pstn-agent-graph-secret")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    eventually("the metrics port", Duration::from_secs(20), async || {
        std::net::TcpStream::connect(("127.0.0.1", api_port)).is_ok()
    })
    .await;
    for path in ["/healthz", "/readyz"] {
        assert!(deployment.contains(&format!("path: {path}")), "{path}");
        let answer = get(api_port, path);
        assert!(answer.starts_with("HTTP/1.1 200"), "{path}: {answer}");
    }
    assert!(
        Command::new("kill")
            .args(["-TERM", &agent.0.id().to_string()])
            .status()
            .unwrap()
            .success()
    );
    let status = tokio::task::spawn_blocking(move || agent.0.wait())
        .await
        .unwrap();
    assert_eq!(status.unwrap().code(), Some(0));
}
