//! The binary running rather than reading a config: healthcheck against a live agent,
//! the demo (its clock, its end when the reader goes away), diagnostics on a pipe.

use super::*;

/// A config whose api.address is `address`; the rest only has to be valid.
fn config_listening_on(dir: &std::path::Path, address: &str) -> std::path::PathBuf {
    let path = dir.join("agent.toml");
    std::fs::write(
        &path,
        format!(
            "data_dir = \"{}\"\n[api]\naddress = \"{address}\"\n[sources.x]\ntype = \"pstn_calls\"\ntenant_id = \"t\"\nclient_id = \"11111111-1111-1111-1111-111111111111\"\nclient_secret = \"s\"\n[sinks.out]\ntype = \"console\"\ninputs = [\"x\"]\n",
            dir.join("state").display()
        ),
    )
    .unwrap();
    path
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn healthcheck_asks_the_running_agent_and_exits_0_1_or_78() {
    let metrics = pstn_agent::metrics::Metrics::new().unwrap();
    let listener = pstn_agent::api::ApiListener::bind(([127, 0, 0, 1], 0).into())
        .await
        .unwrap();
    let port = listener.local_address().unwrap().port();
    let _server = listener.spawn(metrics.clone());
    let dir = tempfile::tempdir().unwrap();
    // A wildcard listen address is asked over loopback.
    let config = config_listening_on(dir.path(), &format!("0.0.0.0:{port}"));
    let run = |ready: bool| {
        let mut command = agent();
        command.arg("healthcheck").arg("--config").arg(&config);
        if ready {
            command.arg("--ready");
        }
        command.output().unwrap()
    };
    assert!(run(false).status.success());
    assert!(run(true).status.success());

    let sink = metrics.sink("siem");
    sink.batch(10, Some("collector refused the export".into()));
    assert!(run(false).status.success(), "alive while not ready");
    let output = run(true);
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("/readyz answered HTTP/1.1 503") && stderr.contains("sinks.siem"),
        "{stderr}"
    );

    let nobody = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let closed_port = nobody.local_addr().unwrap().port();
    drop(nobody);
    let config = config_listening_on(dir.path(), &format!("127.0.0.1:{closed_port}"));
    let output = agent()
        .arg("healthcheck")
        .arg("--config")
        .arg(&config)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&output.stderr).contains("cannot reach the agent"));

    std::fs::write(&config, "data_dir = 3\n").unwrap();
    let output = agent()
        .arg("healthcheck")
        .arg("--config")
        .arg(&config)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(78));
}

#[cfg(feature = "simulator")]
#[test]
fn a_demo_clock_that_would_not_move_is_refused() {
    let output = agent()
        .args(["demo", "--time-scale", "0"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("not a number above zero"), "{stderr}");
}

#[cfg(feature = "simulator")]
#[test]
fn the_demo_ends_when_its_reader_goes_away() {
    use std::io::{BufRead, BufReader};
    use std::process::Stdio;
    use std::time::{Duration, Instant};
    // stderr to a file: a pipe nobody reads could fill and block the demo.
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("stderr.log");
    let mut demo = agent()
        .args(["demo", "--time-scale", "600"])
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    {
        // Like `pstn-agent demo | head -3`: read three events, then close the pipe.
        let mut reader = BufReader::new(demo.stdout.take().unwrap());
        for _ in 0..3 {
            let mut line = String::new();
            reader.read_line(&mut line).unwrap();
            assert!(line.starts_with('{'), "{line}");
        }
    }
    let deadline = Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Some(status) = demo.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = demo.kill();
            panic!("the demo kept running after its reader went away");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    // Like any writer of a pipeline: status 0, and no error about the closed pipe.
    let stderr = std::fs::read_to_string(&log).unwrap();
    assert!(status.success(), "{status:?}\n{stderr}");
    assert!(
        !stderr.contains(" WARN ") && !stderr.contains(" ERROR "),
        "{stderr}"
    );
}

#[cfg(feature = "simulator")]
#[test]
fn diagnostics_written_to_a_pipe_carry_no_colour_codes() {
    use std::io::{BufRead, BufReader};
    use std::process::Stdio;
    let mut simulator = agent()
        .args(["simulate", "--address", "127.0.0.1:0"])
        .env_remove("NO_COLOR")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(simulator.stderr.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let _ = simulator.kill();
    let _ = simulator.wait();
    assert!(line.contains("simulated tenant listening"), "{line}");
    assert!(!line.contains('\u{1b}'), "escape codes in a pipe: {line:?}");
}
