//! Every file of deploy/ passes the real tool made to check it: promtool (config,
//! rules, rule unit tests), hadolint, kubernetes-validate, the Prometheus Operator's
//! ServiceMonitor schema, docker compose, systemd-analyze, and the agent's own
//! `validate` for each configuration it ships. (The dashboard: tests/it/dashboard.rs.)

use crate::common;

use common::tools::external_tool;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn repository() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn deploy(path: &str) -> PathBuf {
    repository().join("deploy").join(path)
}

fn files(directory: &str, extension: &str) -> Vec<PathBuf> {
    let mut found: Vec<PathBuf> = std::fs::read_dir(deploy(directory))
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|found| found == extension))
        .collect();
    found.sort();
    assert!(!found.is_empty(), "no .{extension} in deploy/{directory}");
    found
}

/// Runs `program` and fails the test with everything it printed unless it succeeded.
fn succeeds(command: &mut Command) -> Output {
    let output = command.output().unwrap();
    assert!(
        output.status.success(),
        "{command:?} exited {:?}\n{}{}",
        output.status.code(),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

/// node and the npm packages `.ci/run` installs, or `None` outside CI without them.
fn node_checker() -> Option<Command> {
    let node = external_tool("node", "--version")?;
    let modules = std::env::var_os("PSTN_AGENT_NODE_MODULES")
        .map(PathBuf::from)
        .unwrap_or_else(|| repository().join("target/deploy-tools/node_modules"));
    if !modules.join("js-yaml").is_dir() {
        common::tools::skipped(&format!("no {}", modules.display()));
        return None;
    }
    let mut command = Command::new(node);
    command
        .env("PSTN_AGENT_NODE_MODULES", modules)
        .arg(repository().join("tests/it/deploy/check.mjs"));
    Some(command)
}

/// Each Prometheus config scrapes the agent one way (a fixed address, or Kubernetes
/// discovery): a second job whose target cannot exist where the file runs would be
/// down for good and fire PstnAgentDown.
/// One file of the ConfigMap (rendered by the node checker), or `None` outside CI
/// without node and its packages.
fn configmap_file(name: &str) -> Option<String> {
    let output = succeeds(
        node_checker()?
            .arg("configmap")
            .arg(deploy("kubernetes/configmap.yaml"))
            .arg(name),
    );
    Some(String::from_utf8(output.stdout).unwrap())
}

#[test]
fn prometheus_config_and_rules_pass_promtool_check() {
    let configs = files("prometheus", "yml");
    for config in &configs {
        let text = std::fs::read_to_string(config).unwrap();
        let jobs = text.matches("- job_name:").count();
        assert_eq!(jobs, 1, "{}: {jobs} scrape jobs", config.display());
    }
    assert_eq!(configs.len(), 2, "{configs:?}");
    let Some(promtool) = external_tool("promtool", "--version") else {
        return;
    };
    for config in &configs {
        let output = succeeds(
            Command::new(&promtool)
                .args(["check", "config"])
                .arg(config),
        );
        let said = String::from_utf8_lossy(&output.stdout);
        assert!(said.contains("2 rule files found"), "{said}");
    }
    succeeds(
        Command::new(&promtool)
            .args(["check", "rules"])
            .args(files("prometheus/rules", "yml")),
    );
}

#[test]
fn every_alert_passes_its_promtool_unit_tests() {
    let Some(promtool) = external_tool("promtool", "--version") else {
        return;
    };
    let tests = files("prometheus/tests", "yml");
    succeeds(Command::new(&promtool).args(["test", "rules"]).args(&tests));
    // Every alert is tested, firing and not firing.
    let rules = std::fs::read_to_string(deploy("prometheus/rules/pstn-agent-alerts.yml")).unwrap();
    let tested: String = tests
        .iter()
        .map(|path| std::fs::read_to_string(path).unwrap())
        .collect();
    for alert in rules
        .lines()
        .filter_map(|line| line.trim().strip_prefix("- alert: "))
    {
        let cases = tested.matches(&format!("alertname: {alert}\n")).count();
        let silent = tested
            .matches(&format!("alertname: {alert}\n        exp_alerts: []"))
            .count();
        assert!(
            silent >= 1 && cases > silent,
            "{alert}: {cases} cases, {silent} not firing"
        );
    }
}

#[test]
fn dockerfile_is_hadolint_clean() {
    let Some(hadolint) = external_tool("hadolint", "--version") else {
        return;
    };
    succeeds(Command::new(hadolint).arg(deploy("docker/Dockerfile")));
}

#[test]
fn kubernetes_manifests_validate_against_the_kubernetes_schemas() {
    let Some(validate) = external_tool("kubernetes-validate", "--version") else {
        return;
    };
    let mut manifests = files("kubernetes", "yaml");
    manifests.extend(files("kubernetes-replicated", "yaml"));
    let output = succeeds(Command::new(validate).arg("--strict").args(&manifests));
    let said = String::from_utf8_lossy(&output.stdout);
    for manifest in &manifests {
        let name = manifest.file_name().unwrap().to_string_lossy();
        assert!(said.contains(&format!("{name} passed")), "{name}: {said}");
    }
}

#[test]
fn the_servicemonitor_validates_against_the_prometheus_operator_schema() {
    let Some(mut check) = node_checker() else {
        return;
    };
    succeeds(
        check
            .arg("servicemonitor")
            .arg(deploy("kubernetes/prometheus-operator/servicemonitor.yaml")),
    );
}

#[test]
fn collector_configs_wire_every_component_they_define() {
    let Some(_) = node_checker() else {
        return;
    };
    let sidecar = tempfile::NamedTempFile::new().unwrap();
    let output = succeeds(
        node_checker()
            .unwrap()
            .arg("configmap")
            .arg(deploy("kubernetes/configmap.yaml"))
            .arg("collector.yaml"),
    );
    std::fs::write(sidecar.path(), output.stdout).unwrap();
    for config in [
        deploy("otel-collector/collector.yaml"),
        deploy("compose/collector.yaml"),
        sidecar.path().to_owned(),
    ] {
        succeeds(node_checker().unwrap().arg("collector").arg(config));
    }
}

#[test]
fn every_shipped_agent_config_validates() {
    let Some(_) = node_checker() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let configmap = dir.path().join("configmap.toml");
    let output = succeeds(
        node_checker()
            .unwrap()
            .arg("configmap")
            .arg(deploy("kubernetes/configmap.yaml"))
            .arg("pstn-agent.toml"),
    );
    std::fs::write(&configmap, output.stdout).unwrap();
    for config in [
        deploy("docker/pstn-agent.toml"),
        deploy("compose/pstn-agent.toml"),
        deploy("vector/pstn-agent-stdout.toml"),
        configmap,
    ] {
        // Files for containers and other hosts: the file alone, not this machine.
        succeeds(
            Command::new(env!("CARGO_BIN_EXE_pstn-agent"))
                .args(["validate", "--no-local-checks", "--config"])
                .arg(&config)
                .env("AZURE_TENANT_ID", "contoso.onmicrosoft.com")
                .env("AZURE_CLIENT_ID", "11111111-1111-1111-1111-111111111111")
                .env("GRAPH_CLIENT_SECRET", "s"),
        );
    }
}

#[test]
fn vector_and_fluent_bit_configs_parse_and_wire_every_input() {
    let Some(_) = node_checker() else {
        return;
    };
    for config in [
        deploy("vector/vector.yaml"),
        deploy("vector/vector-exec.yaml"),
    ] {
        succeeds(node_checker().unwrap().arg("vector").arg(config));
    }
    succeeds(
        node_checker()
            .unwrap()
            .arg("fluent-bit")
            .arg(deploy("fluent-bit/fluent-bit.yaml")),
    );
}

#[test]
fn the_telegraf_config_runs_the_agent_with_a_json_execd_input() {
    // Telegraf is not installable here: TOML, and the keys its execd input needs.
    let text = std::fs::read_to_string(deploy("telegraf/telegraf.conf")).unwrap();
    let config: toml::Table = text.parse().unwrap();
    let execd = &config["inputs"]["execd"][0];
    assert_eq!(execd["data_format"].as_str(), Some("json"));
    let command: Vec<&str> = execd["command"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(toml::Value::as_str)
        .collect();
    assert_eq!(command.first(), Some(&"pstn-agent"));
    assert!(command.contains(&"--config"));
    assert!(
        config["outputs"]
            .as_table()
            .is_some_and(|outputs| !outputs.is_empty())
    );
}

#[test]
fn the_compose_stack_is_valid_for_docker_compose() {
    let Some(compose) = external_tool("docker-compose", "version") else {
        return;
    };
    succeeds(
        Command::new(compose)
            .arg("--file")
            .arg(deploy("compose/compose.yaml"))
            .args(["config", "--quiet"]),
    );
}

#[test]
fn the_systemd_unit_verifies_and_scores_as_hardened() {
    let Some(systemd_analyze) = external_tool("systemd-analyze", "--version") else {
        return;
    };
    // The unit as installed, with the binary where this build put it.
    let unit = std::fs::read_to_string(deploy("systemd/pstn-agent.service"))
        .unwrap()
        .replace(
            "/usr/local/bin/pstn-agent",
            env!("CARGO_BIN_EXE_pstn-agent"),
        );
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("pstn-agent.service");
    std::fs::write(&path, &unit).unwrap();
    let output = succeeds(Command::new(&systemd_analyze).arg("verify").arg(&path));
    let said = String::from_utf8_lossy(&output.stderr);
    assert!(
        !said.contains("pstn-agent.service"),
        "verify warned: {said}"
    );
    // Its documentation is the README its install steps put where the link points.
    let documentation = unit
        .lines()
        .find_map(|line| line.strip_prefix("Documentation=file:"))
        .expect("Documentation=file:...");
    assert!(
        unit.contains(&format!("install -D -m 0644 README.md {documentation}")),
        "{documentation}"
    );
    // Exposure 2.0 or lower (systemd says "OK" below 2.1); this unit scores 1.2.
    succeeds(
        Command::new(&systemd_analyze)
            .args(["security", "--offline=true", "--threshold=20"])
            .arg(&path),
    );
}

mod docker_context;
mod image_entry_point;
mod operations;
mod replicated;
use crate::common::otlp as receiver;
mod walkthroughs;
