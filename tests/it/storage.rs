//! The state directory refusing writes, or its disk filling up: a clear error naming
//! the path, no corruption, and recovery once there is room again.

use crate::common;

use common::{Harness, NOW, at};
use pstn_agent::model::LogKind;
use pstn_agent::shutdown::shutdown_pair;
use pstn_agent::simulate::{Lateness, SimulatorOptions};
use pstn_agent::sinks::ReopenSignal;
use pstn_agent::topology::{RunMode, RunOptions, run};
use std::path::Path;
use std::process::Command;
use std::time::Duration;

/// Runs a command needed to set up the fault; outside CI a missing capability skips.
fn fault_setup(program: &str, args: &[&str]) -> bool {
    let ok = Command::new(program)
        .args(args)
        .status()
        .is_ok_and(|status| status.success());
    if !ok && std::env::var_os("CI").is_some() {
        panic!("{program} {args:?} failed: CI runs as root on a machine that allows it");
    }
    if !ok {
        common::tools::skipped(&format!("{program} {args:?} is not allowed here"));
    }
    ok
}

/// Undoes a fault when the test ends, however it ends.
struct Undo(Vec<(&'static str, Vec<String>)>);

impl Drop for Undo {
    fn drop(&mut self) {
        for (program, args) in &self.0 {
            let _ = Command::new(program).args(args).status();
        }
    }
}

fn options() -> SimulatorOptions {
    SimulatorOptions {
        calls_per_day: 6000.0,
        page_size: 500,
        lateness: Lateness::None,
        ..SimulatorOptions::default()
    }
}

fn config_with_state(harness: &Harness, state: &Path) -> pstn_agent::config::Config {
    let text = format!(
        "data_dir = \"{}\"\n[sources.tenant]\ntype = \"pstn_calls\"\ntenant_id = \"t\"\nclient_id = \"11111111-1111-1111-1111-111111111111\"\nclient_secret = \"s\"\nauthority_url = \"{url}\"\ngraph_url = \"{url}\"\nlookback = \"3d\"\nrequests_per_second = 1000\n[sinks.archive]\ntype = \"file\"\npath = \"{}\"\ninputs = [\"tenant\"]\n",
        state.display(),
        harness.output().display(),
        url = harness.simulator.url()
    );
    pstn_agent::config::Config::parse(
        &text,
        Path::new("/"),
        &pstn_agent::config::Environment::fixed([]),
    )
    .unwrap()
}

async fn start_error(harness: &Harness, config: &pstn_agent::config::Config) -> String {
    let (_trigger, shutdown) = shutdown_pair();
    let options = RunOptions {
        mode: RunMode::Once,
        clock: harness.clock.clone(),
        retry: common::quick_retries(),
        reopen: ReopenSignal::default(),
        metrics: harness.metrics.clone(),
    };
    run(config, options, shutdown)
        .await
        .expect_err("the run should not start")
        .to_string()
}

#[tokio::test]
async fn a_state_directory_that_refuses_writes_is_named_in_one_clear_error() {
    let harness = Harness::start(options()).await;
    let state = harness.dir.path().join("locked-state");
    std::fs::create_dir_all(&state).unwrap();
    if !fault_setup("chattr", &["+i", &state.display().to_string()]) {
        return;
    }
    let _undo = Undo(vec![(
        "chattr",
        vec!["-i".into(), state.display().to_string()],
    )]);
    let message = start_error(&harness, &config_with_state(&harness, &state)).await;
    assert!(message.contains(&state.display().to_string()), "{message}");
    assert!(message.contains("Operation not permitted"), "{message}");
}

#[tokio::test]
async fn a_full_state_disk_fails_cleanly_and_recovers_when_space_returns() {
    let harness = Harness::start(options()).await;
    let state = harness.dir.path().join("small-disk");
    std::fs::create_dir_all(&state).unwrap();
    let mount_point = state.display().to_string();
    if !fault_setup(
        "mount",
        &["-t", "tmpfs", "-o", "size=256k", "tmpfs", &mount_point],
    ) {
        return;
    }
    let _undo = Undo(vec![("umount", vec![mount_point.clone()])]);
    let config = config_with_state(&harness, &state);

    let report = harness.once(&config).await;
    assert_eq!(report.exit_code(), 1, "the disk should have filled up");
    assert!(report.failed[0].1.contains("full"), "{:?}", report.failed);
    let partial = harness.events().len();
    assert!(
        partial > 0,
        "some pages were delivered and recorded before the disk filled"
    );

    // Room again: the same state opens (not corrupt) and every row arrives, once,
    // but for the one batch whose commit failed.
    assert!(fault_setup(
        "mount",
        &["-o", "remount,size=16m", &mount_point]
    ));
    let report = harness.once(&config).await;
    assert_eq!(report.exit_code(), 0, "{:?}", report.failed);
    let database = rusqlite::Connection::open(state.join("state.sqlite3")).unwrap();
    let integrity: String = database
        .query_row("PRAGMA integrity_check", [], |row| row.get(0))
        .unwrap();
    assert_eq!(integrity, "ok");
    let now = at(NOW);
    let expected = harness.expected_ids(
        LogKind::Pstn,
        now.saturating_sub(Duration::from_secs(3 * 86_400)),
        now,
        now,
    );
    let counts = harness.delivery_counts();
    assert!(
        expected.iter().all(|id| counts.contains_key(id)),
        "a row was lost"
    );
    let repeated: usize = counts.values().map(|n| n - 1).sum();
    assert!(
        repeated <= 500,
        "{repeated} rows repeated; at most the batch in flight may be"
    );
}
