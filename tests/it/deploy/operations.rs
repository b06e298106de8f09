//! Operating what deploy/ ships: a skipped check is visible, the pod needs every secret
//! it reads, logrotate reopens the agent's files.

use super::{deploy, external_tool, succeeds};
use std::process::Command;

/// A check whose tool is missing says so under its own name, and the binary counts the
/// skipped checks at exit; in CI the same check fails.
#[test]
fn a_check_without_its_tool_is_reported_as_skipped_under_its_name() {
    // Its path in the one test binary (libtest's --exact wants the whole path).
    let name = "deploy::the_servicemonitor_validates_against_the_prometheus_operator_schema";
    let run = |ci: bool| {
        let mut command = Command::new(std::env::current_exe().unwrap());
        command
            .args(["--exact", name])
            .env("PSTN_AGENT_NODE_MODULES", "/nonexistent")
            .env_remove("CI");
        if ci {
            command.env("CI", "true");
        }
        command.output().unwrap()
    };
    let outside_ci = run(false);
    let said = String::from_utf8_lossy(&outside_ci.stderr);
    assert!(outside_ci.status.success(), "{said}");
    assert!(said.contains(&format!("SKIPPED {name}: ")), "{said}");
    assert!(
        said.contains("SKIPPED: 1 check of this test binary did not run"),
        "{said}"
    );
    let in_ci = run(true);
    assert!(!in_ci.status.success(), "a skip passed in CI");
}

/// Every secret the pod reads is required: an `optional` one missing would start the
/// Collector with an empty token, and every export would be refused.
#[test]
fn the_pod_needs_every_secret_it_reads() {
    for pod in [
        "kubernetes/deployment.yaml",
        "kubernetes-replicated/statefulset.yaml",
    ] {
        let deployment = std::fs::read_to_string(deploy(pod)).unwrap();
        assert!(deployment.contains("secretKeyRef:"), "{pod}");
        assert!(
            !deployment.contains("optional: true"),
            "{pod}: {deployment}"
        );
    }
}

/// The logrotate file parses for logrotate and reopens the agent's files through the
/// unit's reload (SIGHUP), not copytruncate.
#[test]
fn the_logrotate_file_parses_and_reloads_the_agent() {
    let text = std::fs::read_to_string(deploy("logrotate/pstn-agent")).unwrap();
    assert!(text.contains("systemctl reload pstn-agent.service"));
    assert!(!text.lines().any(|line| line.trim() == "copytruncate"));
    let unit = std::fs::read_to_string(deploy("systemd/pstn-agent.service")).unwrap();
    assert!(unit.contains("ExecReload=/bin/kill -HUP $MAINPID"));
    assert!(unit.contains("LogsDirectory=pstn-agent") && text.contains("/var/log/pstn-agent/"));
    let Some(logrotate) = external_tool("logrotate", "--version") else {
        return;
    };
    // Pointed at a directory with a file to rotate, in debug mode (changes nothing).
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("calls.jsonl"), "{}\n").unwrap();
    let config = dir.path().join("pstn-agent");
    std::fs::write(
        &config,
        text.replace(
            "/var/log/pstn-agent/",
            &format!("{}/", dir.path().display()),
        ),
    )
    .unwrap();
    let output = succeeds(
        Command::new(logrotate)
            .arg("--debug")
            .arg("--force")
            .arg("--state")
            .arg(dir.path().join("state"))
            .arg(&config),
    );
    let said = String::from_utf8_lossy(&output.stderr);
    assert!(
        said.contains("calls.jsonl") && said.contains("running postrotate script"),
        "{said}"
    );
    assert!(!said.contains("error"), "{said}");
}
