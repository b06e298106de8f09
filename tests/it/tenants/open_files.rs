//! Open files (issue 27): the real binary, started with a low `ulimit -n`, raises its
//! soft limit to the hard one so sixty tenants with SQLite state (two descriptors
//! each, and their sockets) all deliver; with a hard limit too low it says so in one line at start.

use super::{delivered_by_tenant, harness, source_table};
use crate::common::{Harness, NOW};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const TENANTS: usize = 60;

/// Runs the agent `--once` over sixty tenants under `ulimit` (e.g. `-Sn 64`): its exit
/// code and its stderr.
async fn once_under(harness: &Harness, ulimit: &str) -> (Option<i32>, String) {
    let dir = harness.dir.path();
    let tenants: Vec<String> = (0..TENANTS)
        .map(|index| format!("customer{index:02}.onmicrosoft.com"))
        .collect();
    let text = format!(
        "data_dir = \"{}\"\n{}[sinks.archive]\ntype = \"file\"\npath = \"{}\"\ninputs = [\"customers\"]\n",
        dir.join("state").display(),
        source_table(harness, &format!("tenants = {tenants:?}"))
            .replace("lookback = \"2d\"", "lookback = \"6h\""),
        harness.output().display(),
    );
    let config = dir.join("agent.toml");
    std::fs::write(&config, text).unwrap();
    let log = dir.join("agent.log");
    let mut child = Command::new("sh")
        .arg("-c")
        .arg(format!("ulimit {ulimit} && exec \"$0\" \"$@\""))
        .arg(env!("CARGO_BIN_EXE_pstn-agent"))
        .arg("--config")
        .arg(&config)
        .args(["--once", "--clock-start", NOW, "--time-scale", "0"])
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    // The simulator answers from this test's runtime: wait without blocking it.
    let deadline = Instant::now() + Duration::from_secs(120);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!(
                "the agent did not finish: {}",
                std::fs::read_to_string(&log).unwrap()
            );
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    (status.code(), std::fs::read_to_string(&log).unwrap())
}

#[tokio::test]
async fn sixty_tenants_deliver_under_a_soft_limit_of_64_open_files() {
    let harness = harness(&[]).await;
    let (code, log) = once_under(&harness, "-Sn 64").await;
    assert_eq!(code, Some(0), "{log}");
    assert!(!log.contains("open files:"), "{log}");
    let delivered = delivered_by_tenant(&harness);
    assert_eq!(delivered.len(), TENANTS, "{:?}", delivered.keys());
}

#[tokio::test]
async fn a_hard_limit_below_what_the_tenants_need_is_said_in_one_line_at_start() {
    let harness = harness(&[]).await;
    let (_, log) = once_under(&harness, "-n 64").await;
    let said: Vec<&str> = log
        .lines()
        .filter(|line| {
            line.contains("open files: the limit (64) is below the about 308 descriptors")
        })
        .collect();
    assert_eq!(said.len(), 1, "{log}");
}
