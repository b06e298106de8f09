//! No secret ever reaches stdout, stderr or metrics: the client secret, the access
//! token and sink header values, through success and failure paths alike.

use crate::common;

use common::{Harness, NOW};
use pstn_agent::simulate::{Lateness, SimulatorOptions};
use std::process::{Command, Stdio};

const CLIENT_SECRET: &str = "client-SECRET-3d9f1c7a-value";
const WRONG_SECRET: &str = "wrong-SECRET-88e1b2c4-value";
const SIEM_TOKEN: &str = "siem-SECRET-5a7c0e2d-token";

fn closed_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Writes the agent's config: the client secret and the SIEM token come from the
/// environment; the SIEM collector is down (a closed port).
fn write_config(harness: &Harness) -> std::path::PathBuf {
    let config = harness.dir.path().join("agent.toml");
    std::fs::write(
        &config,
        format!(
            "data_dir = \"{}\"\n[api]\naddress = \"127.0.0.1:0\"\n[sources.tenant]\ntype = \"pstn_calls\"\ntenant_id = \"contoso.onmicrosoft.com\"\nclient_id = \"11111111-1111-1111-1111-111111111111\"\nclient_secret = \"${{TEST_CLIENT_SECRET}}\"\nauthority_url = \"{url}\"\ngraph_url = \"{url}\"\nlookback = \"1d\"\nrequests_per_minute = 60000\n\
             [sinks.stdout]\ntype = \"console\"\ninputs = [\"tenant\"]\n\
             [sinks.siem]\ntype = \"otlp\"\ninputs = [\"tenant\"]\nendpoint = \"http://127.0.0.1:{}\"\nheaders = {{ authorization = \"Bearer ${{TEST_SIEM_TOKEN}}\" }}\ntimeout = \"1s\"\n",
            harness.dir.path().join("state").display(),
            closed_port(),
            url = harness.simulator.url()
        ),
    )
    .unwrap();
    config
}

fn agent(config: &std::path::Path, secret: &str, once: bool) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_pstn-agent"));
    command
        .args([
            "--log-level",
            "debug",
            "--clock-start",
            NOW,
            "--time-scale",
            "0",
            "--config",
        ])
        .arg(config);
    if once {
        command.arg("--once");
    }
    command
        .env("TEST_CLIENT_SECRET", secret)
        .env("TEST_SIEM_TOKEN", SIEM_TOKEN)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    command
}

/// Collects a pipe on a thread, so the test's runtime (and the simulator) keep running.
/// Returns the text so far and the reader thread, which ends when the pipe closes.
type Collected = (
    std::sync::Arc<std::sync::Mutex<String>>,
    std::thread::JoinHandle<()>,
);

fn collect(pipe: impl std::io::Read + Send + 'static) -> Collected {
    let text = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
    let sink = text.clone();
    let reader = std::thread::spawn(move || {
        use std::io::BufRead;
        for line in std::io::BufReader::new(pipe).lines().map_while(Result::ok) {
            let mut text = sink.lock().unwrap();
            text.push_str(&line);
            text.push('\n');
        }
    });
    (text, reader)
}

/// Runs the agent until its SIEM export has failed (with the header in hand), then
/// stops it with SIGTERM; returns everything it wrote.
async fn run_until_the_export_fails(harness: &Harness) -> String {
    let mut child = agent(&write_config(harness), CLIENT_SECRET, false)
        .spawn()
        .unwrap();
    let (stdout, stdout_reader) = collect(child.stdout.take().unwrap());
    let (stderr, stderr_reader) = collect(child.stderr.take().unwrap());
    common::eventually(
        "an export failure reported on stderr",
        std::time::Duration::from_secs(60),
        async || stderr.lock().unwrap().contains("did not accept a batch"),
    )
    .await;
    assert!(
        Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()
            .unwrap()
            .success()
    );
    let status = tokio::task::spawn_blocking(move || child.wait())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(status.code(), Some(0));
    // The process is gone, so its pipes are closed: read them to the end.
    tokio::task::spawn_blocking(move || {
        let _ = stdout_reader.join();
        let _ = stderr_reader.join();
    })
    .await
    .unwrap();
    let output = format!("{}{}", stdout.lock().unwrap(), stderr.lock().unwrap());
    output
}

fn assert_clean(output: &str, harness: &Harness) {
    for secret in [CLIENT_SECRET, WRONG_SECRET, SIEM_TOKEN] {
        assert!(!output.contains(secret), "{secret} leaked:\n{output}");
    }
    for token in harness.simulator.stats.issued_tokens().iter() {
        assert!(!output.contains(token.as_str()), "the access token leaked");
        let nonce = token.rsplit('.').next().unwrap();
        assert!(!output.contains(nonce), "part of the access token leaked");
    }
}

#[tokio::test]
async fn secrets_never_appear_in_any_output_on_success_or_failure() {
    let options = SimulatorOptions {
        calls_per_day: 300.0,
        lateness: Lateness::None,
        client_secret: Some(CLIENT_SECRET.into()),
        ..SimulatorOptions::default()
    };
    let harness = Harness::start(options).await;

    // The right secret, and a SIEM collector that is down: tokens are issued, events
    // reach stdout, exports fail with errors that must not carry the header.
    let output = run_until_the_export_fails(&harness).await;
    assert!(!harness.simulator.stats.issued_tokens().is_empty());
    assert!(
        output.contains("\"kind\":\"pstn_call\""),
        "events flowed on stdout"
    );
    assert!(
        output.contains("sink siem"),
        "the export failure was reported: {output}"
    );
    assert_clean(&output, &harness);

    // A wrong secret: Entra's answer is reported, the secret is not.
    let config = write_config(&harness);
    let output =
        tokio::task::spawn_blocking(move || agent(&config, WRONG_SECRET, true).output().unwrap())
            .await
            .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(text.contains("AADSTS7000215"), "{text}");
    assert_clean(&text, &harness);

    // Nor do the metrics, after a run that used the secret and its token.
    let report = harness
        .once(&harness.config_with_secret(
            pstn_agent::model::LogKind::Pstn,
            "lookback = \"1d\"",
            CLIENT_SECRET,
        ))
        .await;
    assert_eq!(report.exit_code(), 0, "{:?}", report.failed);
    let metrics = harness.metrics.encode();
    assert!(metrics.contains("pstn_token_requests_total"));
    assert_clean(&metrics, &harness);
}
