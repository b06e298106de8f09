//! The command line as users and scripts meet it.

use std::process::Command;

fn agent() -> Command {
    Command::new(env!("CARGO_BIN_EXE_pstn-agent"))
}

#[test]
fn validate_accepts_the_shipped_example_config() {
    let output = agent()
        // The example is for a server: the file alone, not this machine's /var.
        .args([
            "validate",
            "--no-local-checks",
            "--config",
            "config/pstn-agent.toml",
        ])
        .env("AZURE_TENANT_ID", "contoso.onmicrosoft.com")
        .env("AZURE_CLIENT_ID", "11111111-1111-1111-1111-111111111111")
        .env("GRAPH_CLIENT_SECRET", "s3cr3t-value")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    assert!(!stderr.contains("s3cr3t-value"));
}

/// The example's commented SMS, blocked-users and Logs Ingestion blocks, uncommented
/// together, still validate (each block runs from its table line to a blank line).
#[test]
fn the_example_configs_commented_examples_validate_uncommented() {
    let text = std::fs::read_to_string("config/pstn-agent.toml").unwrap();
    let mut uncommented = String::new();
    let mut inside = false;
    for line in text.lines() {
        inside = match line {
            "# [sources.contoso_sms]"
            | "# [sources.contoso_blocked_users]"
            | "# [sinks.sentinel]" => true,
            "" => false,
            _ => inside,
        };
        let line = if inside {
            line.strip_prefix("# ").unwrap_or(line)
        } else {
            line
        };
        uncommented.push_str(line);
        uncommented.push('\n');
    }
    for table in [
        "[sources.contoso_sms]",
        "[sources.contoso_blocked_users]",
        "[sinks.sentinel]",
    ] {
        assert!(uncommented.lines().any(|line| line == table), "{table}");
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("pstn-agent.toml");
    std::fs::write(&path, uncommented).unwrap();
    let output = agent()
        .args(["validate", "--no-local-checks", "--config"])
        .arg(&path)
        .env("AZURE_TENANT_ID", "contoso.onmicrosoft.com")
        .env("AZURE_CLIENT_ID", "11111111-1111-1111-1111-111111111111")
        .env("GRAPH_CLIENT_SECRET", "s3cr3t-value")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    assert!(stderr.contains("(4 sources, 3 sinks)"), "{stderr}");
}

#[test]
fn validate_prints_each_plans_requests_per_hour_and_refuses_one_over_the_pace() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("agent.toml");
    let write = |source: &str| {
        std::fs::write(
            &path,
            format!(
                "data_dir = \"/tmp/x\"\n[sources.x]\ntype = \"pstn_calls\"\ntenant_id = \"t\"\nclient_id = \"11111111-1111-1111-1111-111111111111\"\nclient_secret = \"s\"\n{source}\n[sinks.out]\ntype = \"console\"\ninputs = [\"x\"]\n"
            ),
        )
        .unwrap();
    };
    let validate = || {
        agent()
            .args(["validate", "--config"])
            .arg(&path)
            .output()
            .unwrap()
    };
    // The default ladder, 6 h and 1 h bounds, at the default 5 min poll interval.
    for (max_delay, per_hour) in [
        ("", 84),
        ("max_delay = \"6h\"", 192),
        ("max_delay = \"1h\"", 900),
    ] {
        write(max_delay);
        let output = validate();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(output.status.success(), "{stderr}");
        assert!(
            stderr.lines().any(|line| line.starts_with("sources.x: ")
                && line.contains(&format!("about {per_hour} requests per hour"))
                && line.contains("of the 3000 per hour")),
            "{max_delay}: {stderr}"
        );
    }
    write("poll_interval = \"1m\"\nmax_delay = \"1h\"");
    let output = validate();
    assert_eq!(output.status.code(), Some(78));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.starts_with("sources.x.max_delay: "), "{stderr}");
    for key in ["poll_interval", "max_delay", "late_window", "would fit"] {
        assert!(stderr.contains(key), "{key}: {stderr}");
    }
}

#[test]
fn validate_names_the_directory_permission_for_each_source_that_reads_it() {
    let output = agent()
        .args(["validate", "--config", "config/simulated-tenant.toml"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    let notes: Vec<&str> = stderr
        .lines()
        .filter(|line| line.contains("User.Read.All"))
        .collect();
    assert_eq!(notes.len(), 1, "{stderr}");
    assert!(
        notes[0].starts_with("note: sources.simulated_pstn.directory"),
        "{stderr}"
    );
}

#[test]
fn validate_exits_78_with_one_line_per_problem_naming_its_key() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.toml");
    std::fs::write(
        &path,
        r#"
data_dir = "/tmp/x"
[sources.x]
type = "pstn_calls"
tenant_id = "t"
client_id = "not-a-guid"
client_secret = "${PSTN_AGENT_TEST_UNSET_VARIABLE}"
poll_interval = "5 minutes"
lookbak = "7d"
[sinks.out]
type = "console"
inputs = ["x", "y"]
"#,
    )
    .unwrap();
    let output = agent()
        .args(["validate", "--config"])
        .arg(&path)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(78));
    let stderr = String::from_utf8_lossy(&output.stderr);
    let lines: Vec<&str> = stderr.lines().collect();
    for key in [
        "sources.x.client_id: ",
        "sources.x.client_secret: ",
        "sources.x.poll_interval: ",
        "sources.x.lookbak: unknown key",
        "sinks.out.inputs[1]: ",
    ] {
        assert_eq!(
            lines.iter().filter(|line| line.starts_with(key)).count(),
            1,
            "{key} in:\n{stderr}"
        );
    }
    assert!(stderr.contains("PSTN_AGENT_TEST_UNSET_VARIABLE"));
    assert_eq!(lines.len(), 5, "{stderr}");
}

#[test]
fn running_with_a_bad_config_exits_78_and_prints_nothing_on_stdout() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.toml");
    std::fs::write(&path, "[sources.x]\ntype = \"fax\"\n").unwrap();
    let output = agent()
        .args(["--once", "--config"])
        .arg(&path)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(78));
    assert!(output.stdout.is_empty());
}

#[test]
fn help_teaches_with_an_example_per_command() {
    let output = agent().arg("--help").output().unwrap();
    let help = String::from_utf8_lossy(&output.stdout);
    let mut examples = vec!["pstn-agent validate --config", "--once"];
    if cfg!(feature = "simulator") {
        examples.extend(["pstn-agent demo", "pstn-agent simulate --address"]);
    }
    for example in examples {
        assert!(help.contains(example), "{example} missing from --help");
    }
    let version = agent().arg("--version").output().unwrap();
    assert!(String::from_utf8_lossy(&version.stdout).starts_with("pstn-agent "));
}

#[cfg(not(feature = "simulator"))]
#[test]
fn without_the_simulator_there_is_no_demo_or_simulate_command() {
    let output = agent().arg("--help").output().unwrap();
    let help = String::from_utf8_lossy(&output.stdout);
    assert!(
        !help.contains("demo") && !help.contains("simulate"),
        "{help}"
    );
    for command in ["demo", "simulate"] {
        assert_eq!(
            agent().arg(command).output().unwrap().status.code(),
            Some(2)
        );
    }
}

#[test]
fn help_names_every_source_type() {
    let output = agent().arg("--help").output().unwrap();
    let help = String::from_utf8_lossy(&output.stdout);
    // Every kind the agent reads, so a new one cannot be left out of the help.
    for kind in pstn_agent::model::LogKind::ALL {
        let source_type = kind.source_type();
        assert!(help.contains(source_type), "{source_type}: {help}");
    }
}

#[test]
fn a_data_dir_this_user_cannot_create_is_refused_by_validate_and_at_start_with_78() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("agent.toml");
    // Nobody, root included, can create a directory under /proc.
    std::fs::write(
        &path,
        "data_dir = \"/proc/pstn-agent-test/state\"\n[sources.x]\ntype = \"pstn_calls\"\ntenant_id = \"t\"\nclient_id = \"11111111-1111-1111-1111-111111111111\"\nclient_secret = \"s\"\n[sinks.out]\ntype = \"console\"\ninputs = [\"x\"]\n",
    )
    .unwrap();
    // `ExecStartPre=pstn-agent validate` must stop a start that would fail.
    let validated = agent()
        .args(["validate", "--config"])
        .arg(&path)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&validated.stderr);
    assert_eq!(validated.status.code(), Some(78), "{stderr}");
    assert!(
        stderr.starts_with("data_dir: /proc/pstn-agent-test/state"),
        "{stderr}"
    );
    // A file meant for another machine (a container image) can be checked alone.
    let alone = agent()
        .args(["validate", "--no-local-checks", "--config"])
        .arg(&path)
        .output()
        .unwrap();
    assert!(
        alone.status.success(),
        "{}",
        String::from_utf8_lossy(&alone.stderr)
    );
    let started = agent()
        .arg("--config")
        .arg(&path)
        .arg("--once")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&started.stderr);
    assert_eq!(started.status.code(), Some(78), "{stderr}");
    assert!(
        stderr.starts_with("data_dir: /proc/pstn-agent-test/state"),
        "{stderr}"
    );
}

/// A state file the agent would refuse at start (here not a database at all) fails
/// validate too, while an agent may be running: read-only, no lock.
#[test]
fn validate_refuses_a_state_file_the_agent_would_refuse() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("state");
    std::fs::create_dir(&data_dir).unwrap();
    std::fs::write(data_dir.join("state.sqlite3"), [b'x'; 200]).unwrap();
    let path = dir.path().join("agent.toml");
    std::fs::write(
        &path,
        "data_dir = \"state\"\n[sources.x]\ntype = \"pstn_calls\"\ntenant_id = \"t\"\nclient_id = \"11111111-1111-1111-1111-111111111111\"\nclient_secret = \"s\"\n[sinks.out]\ntype = \"console\"\ninputs = [\"x\"]\n",
    )
    .unwrap();
    let output = agent()
        .args(["validate", "--config"])
        .arg(&path)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(78), "{stderr}");
    assert!(
        stderr.starts_with(&format!(
            "data_dir: {}",
            data_dir.join("state.sqlite3").display()
        )) && stderr.contains("move it aside"),
        "{stderr}"
    );
}

mod running;
