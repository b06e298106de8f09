//! The real binary under signals: killed mid-backfill it loses nothing and repeats at
//! most the batch in flight; asked to stop, it exits 0 promptly with state saved.

use crate::common;

use common::{Harness, NOW};
use pstn_agent::model::LogKind;
use pstn_agent::simulate::{Lateness, SimulatorOptions};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const PAGE_SIZE: usize = 100;
const LOOKBACK_DAYS: u64 = 3;

async fn harness() -> Harness {
    let options = SimulatorOptions {
        calls_per_day: 3000.0,
        page_size: PAGE_SIZE,
        lateness: Lateness::None,
        ..SimulatorOptions::default()
    };
    let harness = Harness::start(options).await;
    // Slow pages down so that signals land mid-backfill.
    harness
        .simulator
        .faults
        .slow_down(Duration::from_millis(15));
    harness
}

fn write_config(harness: &Harness) -> PathBuf {
    let path = harness.dir.path().join("agent.toml");
    let text = format!(
        "data_dir = \"{}\"\n[api]\naddress = \"127.0.0.1:0\"\n[sources.tenant]\ntype = \"pstn_calls\"\ntenant_id = \"contoso.onmicrosoft.com\"\nclient_id = \"11111111-1111-1111-1111-111111111111\"\nclient_secret = \"s\"\nauthority_url = \"{url}\"\ngraph_url = \"{url}\"\nlookback = \"{LOOKBACK_DAYS}d\"\nlate_window = \"0s\"\nrequests_per_second = 1000\n[sinks.archive]\ntype = \"file\"\npath = \"{}\"\ninputs = [\"tenant\"]\n",
        harness.dir.path().join("state").display(),
        harness.output().display(),
        url = harness.simulator.url(),
    );
    std::fs::write(&path, text).unwrap();
    path
}

/// The agent binary on the simulator's clock (standing still at NOW).
fn agent(config: &PathBuf, once: bool) -> Child {
    let mut command = Command::new(env!("CARGO_BIN_EXE_pstn-agent"));
    command
        .arg("--config")
        .arg(config)
        .args(["--clock-start", NOW, "--time-scale", "0"]);
    if once {
        command.arg("--once");
    }
    command
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

fn lines(harness: &Harness) -> usize {
    std::fs::read(harness.output())
        .map(|bytes| bytes.iter().filter(|b| **b == b'\n').count())
        .unwrap_or(0)
}

async fn wait_for_lines(harness: &Harness, at_least: usize) {
    let what = format!("the agent writing {at_least} lines");
    common::eventually(&what, Duration::from_secs(60), async || {
        lines(harness) >= at_least
    })
    .await;
}

async fn wait_for_exit(child: &mut Child, within: Duration) -> std::process::ExitStatus {
    let deadline = Instant::now() + within;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        assert!(
            Instant::now() < deadline,
            "the agent did not exit within {within:?}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

fn expected(harness: &Harness) -> Vec<String> {
    let now = common::at(NOW);
    harness.expected_ids(
        LogKind::Pstn,
        now.saturating_sub(Duration::from_secs(LOOKBACK_DAYS * 86_400)),
        now,
        now,
    )
}

#[tokio::test]
async fn killed_mid_backfill_again_and_again_it_loses_nothing_and_repeats_at_most_a_batch_per_kill()
{
    let harness = harness().await;
    let config = write_config(&harness);
    let expected = expected(&harness);
    assert!(expected.len() > 3000, "{} rows", expected.len());
    // Kill at points spread over the backfill: 5 in CI; the long run sets more,
    // `PSTN_AGENT_KILLS=25 cargo test --release --test it process::killed`.
    let count: usize = std::env::var("PSTN_AGENT_KILLS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(5);
    let kills: Vec<usize> = (1..=count)
        .map(|k| expected.len() * k / (count + 1))
        .collect();
    for &threshold in &kills {
        let mut child = agent(&config, false);
        wait_for_lines(&harness, threshold).await;
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
    }
    let mut last = agent(&config, true);
    let status = wait_for_exit(&mut last, Duration::from_secs(60)).await;
    assert!(status.success());
    let (counts, torn) = harness.delivery_counts_after_kills();
    assert!(
        torn <= kills.len(),
        "{torn} torn lines after {} kills",
        kills.len()
    );
    assert!(
        expected.iter().all(|id| counts.contains_key(id)),
        "a row was lost to a kill"
    );
    assert_eq!(counts.len(), expected.len());
    let repeated: usize = counts.values().map(|n| n - 1).sum();
    eprintln!(
        "{} kills over {} rows: {repeated} rows repeated (bound {}), {torn} torn lines",
        kills.len(),
        expected.len(),
        kills.len() * PAGE_SIZE
    );
    assert!(
        repeated <= kills.len() * PAGE_SIZE,
        "{repeated} rows repeated over {} kills",
        kills.len()
    );
}

#[tokio::test]
async fn sigterm_stops_within_ten_seconds_with_exit_0_and_nothing_repeats() {
    let harness = harness().await;
    let config = write_config(&harness);
    let mut child = agent(&config, false);
    wait_for_lines(&harness, 1500).await;
    let terminated = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(terminated.success());
    let status = wait_for_exit(&mut child, Duration::from_secs(10)).await;
    assert_eq!(status.code(), Some(0));
    assert!(
        lines(&harness) < expected(&harness).len(),
        "the signal came too late to test anything"
    );
    let mut rest = agent(&config, true);
    assert!(
        wait_for_exit(&mut rest, Duration::from_secs(60))
            .await
            .success()
    );
    let counts = harness.delivery_counts();
    assert_eq!(counts.len(), expected(&harness).len());
    assert!(
        counts.values().all(|n| *n == 1),
        "a graceful stop repeated rows"
    );
}

#[tokio::test]
async fn a_second_agent_on_the_same_data_dir_exits_at_once_naming_the_lock_and_the_first_pid() {
    let harness = harness().await;
    let config = write_config(&harness);
    let mut first = agent(&config, false);
    wait_for_lines(&harness, 1).await;
    let started = Instant::now();
    let second = Command::new(env!("CARGO_BIN_EXE_pstn-agent"))
        .arg("--config")
        .arg(&config)
        .args(["--once", "--clock-start", NOW, "--time-scale", "0"])
        .output()
        .unwrap();
    let waited = started.elapsed();
    let _ = first.kill();
    let _ = first.wait();
    assert!(!second.status.success(), "{second:?}");
    let stderr = String::from_utf8_lossy(&second.stderr);
    assert!(stderr.contains("locked"), "{stderr}");
    assert!(stderr.contains(&format!("pid {}", first.id())), "{stderr}");
    assert!(stderr.contains("/state/lock"), "{stderr}");
    // At once: not after polling or retrying anything (a generous bound for slow CI).
    assert!(waited < Duration::from_secs(20), "{waited:?}");
}
