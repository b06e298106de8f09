//! Real programs the tests run beside the agent: Prometheus, promtool, hadolint,
//! kubernetes-validate. `tools/install-test-tools` installs them (`.ci/run` calls it);
//! outside CI a test without its tool skips, saying so; in CI it fails.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

/// Kills the child process when the test ends, however it ends.
pub struct Running(pub Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A loopback port nobody listens on right now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// `name` if `name version_flag` runs, found in `target/deploy-tools/venv/bin` (where
/// `.ci/run` installs the PyPI tools) or on `PATH`; `None` outside CI when it does not.
pub fn external_tool(name: &str, version_flag: &str) -> Option<PathBuf> {
    let installed = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("target/deploy-tools/venv/bin")
        .join(name);
    let program = if installed.is_file() {
        installed
    } else {
        PathBuf::from(name)
    };
    match Command::new(&program)
        .arg(version_flag)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
    {
        Ok(status) if status.success() => Some(program),
        _ => {
            skipped(&format!("{name} is not installed"));
            None
        }
    }
}

/// How many checks of this test binary skipped themselves; said once more at exit.
static SKIPPED: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// Says that the running test skipped its check, under its own name, where `cargo test`
/// shows it: `SKIPPED <test name>: <why>` straight to the process's stderr (libtest
/// captures only the `print!` family, so a line written this way is never hidden). At
/// exit the binary says how many of its checks were skipped, apart from libtest's
/// "passed" count, which still counts them. In CI (`CI` set) a skip is a failure.
pub fn skipped(why: &str) {
    use std::io::Write;
    use std::sync::atomic::Ordering;
    let current = std::thread::current();
    let test = current.name().unwrap_or("a test");
    assert!(
        std::env::var_os("CI").is_none(),
        "{test}: {why}; in CI every check must run (.ci/run installs what the tests use)"
    );
    let _ = writeln!(
        std::io::stderr().lock(),
        "SKIPPED {test}: {why} (tools/install-test-tools installs what the tests use)"
    );
    if SKIPPED.fetch_add(1, Ordering::SeqCst) == 0 {
        // SAFETY: registers a plain `extern "C" fn` with no captured state.
        unsafe { libc::atexit(say_how_many_skipped) };
    }
}

/// Run by libc at exit (after libtest's summary): the skipped checks, counted apart.
extern "C" fn say_how_many_skipped() {
    use std::io::Write;
    let count = SKIPPED.load(std::sync::atomic::Ordering::SeqCst);
    let _ = writeln!(
        std::io::stderr().lock(),
        "SKIPPED: {count} check{} of this test binary did not run (counted as passed above; each named on its SKIPPED line)",
        if count == 1 { "" } else { "s" }
    );
}

/// The Prometheus binary (Debian's package), or `None` outside CI.
pub fn prometheus_binary() -> Option<PathBuf> {
    external_tool("prometheus", "--version")
}

/// One instant query's result: each series' labels and value. Empty when the query
/// failed (see [`prometheus_api`] for the error).
pub async fn query(
    http: &reqwest::Client,
    prometheus: u16,
    promql: &str,
) -> Vec<(HashMap<String, String>, f64)> {
    let body = prometheus_api(http, prometheus, "query", &[("query", promql)]).await;
    body["data"]["result"]
        .as_array()
        .map(|results| {
            results
                .iter()
                .map(|result| {
                    let labels =
                        serde_json::from_value(result["metric"].clone()).unwrap_or_default();
                    let value = result["value"][1]
                        .as_str()
                        .and_then(|v| v.parse().ok())
                        .unwrap_or(f64::NAN);
                    (labels, value)
                })
                .collect()
        })
        .unwrap_or_default()
}

/// A GET of Prometheus' HTTP API (`/api/v1/{endpoint}`), the JSON answer or `Null`.
pub async fn prometheus_api(
    http: &reqwest::Client,
    prometheus: u16,
    endpoint: &str,
    parameters: &[(&str, &str)],
) -> serde_json::Value {
    let query: String = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(parameters)
        .finish();
    let url = format!("http://127.0.0.1:{prometheus}/api/v1/{endpoint}?{query}");
    let Ok(response) = http.get(url).send().await else {
        return serde_json::Value::Null;
    };
    serde_json::from_slice(&response.bytes().await.unwrap_or_default()).unwrap_or_default()
}

/// The agent binary running `config` on a clock frozen at [`super::NOW`], so what it
/// delivers matches the in-process simulator's view.
pub fn spawn_agent_at_now(config: &Path) -> Running {
    Running(
        Command::new(env!("CARGO_BIN_EXE_pstn-agent"))
            .arg("--config")
            .arg(config)
            .args(["--clock-start", super::NOW, "--time-scale", "0"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    )
}

/// A real Prometheus in `dir` scraping the agent at `agent_port` every second, with
/// `rule_files` evaluated every second; returns it and the port of its HTTP API.
pub fn start_prometheus(
    binary: &Path,
    dir: &Path,
    agent_port: u16,
    rule_files: &[PathBuf],
) -> (Running, u16) {
    let rules: String = rule_files
        .iter()
        .map(|path| format!("  - {}\n", path.display()))
        .collect();
    let config = dir.join("prometheus.yml");
    std::fs::write(
        &config,
        format!(
            "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nrule_files:\n{rules}scrape_configs:\n  - job_name: pstn-agent\n    static_configs:\n      - targets: ['127.0.0.1:{agent_port}']\n"
        ),
    )
    .unwrap();
    // A free port can be taken by another test (or the agent, not yet listening)
    // before Prometheus binds it: Prometheus then exits, and it is started again on
    // another port until it answers /-/ready.
    for _ in 0..5 {
        let port = loop {
            let port = free_port();
            if port != agent_port {
                break port;
            }
        };
        let mut running = Running(
            Command::new(binary)
                .arg(format!("--config.file={}", config.display()))
                .arg(format!(
                    "--storage.tsdb.path={}",
                    dir.join("tsdb").display()
                ))
                .arg(format!("--web.listen-address=127.0.0.1:{port}"))
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap(),
        );
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        while std::time::Instant::now() < deadline {
            if running.0.try_wait().unwrap().is_some() {
                break;
            }
            if prometheus_ready(port) {
                return (running, port);
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
    }
    panic!("Prometheus did not start: five ports tried");
}

/// Prometheus on `port` answers `/-/ready` with 200.
fn prometheus_ready(port: u16) -> bool {
    use std::io::{Read, Write};
    let Ok(mut stream) = std::net::TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(std::time::Duration::from_secs(2)));
    if stream
        .write_all(b"GET /-/ready HTTP/1.0\r\nHost: localhost\r\n\r\n")
        .is_err()
    {
        return false;
    }
    let mut answer = String::new();
    let _ = stream.read_to_string(&mut answer);
    answer.starts_with("HTTP/1.0 200") || answer.starts_with("HTTP/1.1 200")
}

/// `promtool check metrics` finds nothing in `text`, the exposition the agent serves
/// (skipped, visibly, without promtool outside CI; a failure in CI).
pub fn promtool_check_metrics(text: &str) {
    use std::io::Write;
    use std::process::{Command, Stdio};
    let child = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn();
    let mut child = match child {
        Ok(child) => child,
        Err(error) if std::env::var_os("CI").is_none() => {
            skipped(&format!("promtool not found ({error})"));
            return;
        }
        Err(error) => panic!("promtool is required in CI: {error}"),
    };
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let output = child.wait_with_output().unwrap();
    let findings = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        output.status.success() && findings.trim().is_empty(),
        "promtool: {findings}"
    );
}
