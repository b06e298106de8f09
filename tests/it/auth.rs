//! Certificate credentials end to end: the simulated Entra checks the assertion's
//! thumbprint, claims and signature against the registered certificate.

use crate::common;

use common::{Harness, make_certificate};
use pstn_agent::model::LogKind;
use pstn_agent::simulate::{Lateness, SimulatorOptions};
use std::path::{Path, PathBuf};

/// A harness whose Entra knows the certificate `name`; also returns the directory
/// holding the files, which must outlive the test.
async fn harness_registering(name: &str) -> (Harness, PathBuf, PathBuf, tempfile::TempDir) {
    let keys = tempfile::tempdir().unwrap();
    let (cert, key) = make_certificate(keys.path(), name);
    let options = SimulatorOptions {
        calls_per_day: 500.0,
        lateness: Lateness::None,
        client_certificate: Some(cert.clone()),
        ..SimulatorOptions::default()
    };
    (Harness::start(options).await, cert, key, keys)
}

fn credential(cert: &Path, key: &Path) -> String {
    format!(
        "client_certificate = \"{}\"\nclient_private_key = \"{}\"",
        cert.display(),
        key.display()
    )
}

#[tokio::test]
async fn a_certificate_signed_assertion_is_accepted_and_rows_flow() {
    let (harness, cert, key, _keys) = harness_registering("app").await;
    let config = harness.config_full(
        LogKind::Pstn,
        "lookback = \"1d\"",
        &credential(&cert, &key),
        &harness.output(),
    );
    let report = harness.once(&config).await;
    assert_eq!(report.exit_code(), 0, "{:?}", report.failed);
    assert!(!harness.events().is_empty());
}

#[tokio::test]
async fn a_pkcs1_key_works_too() {
    let (harness, cert, key, _keys) = harness_registering("app").await;
    let pkcs1 = key.with_extension("pkcs1.key");
    let status = std::process::Command::new("openssl")
        .args(["rsa", "-traditional", "-in"])
        .arg(&key)
        .arg("-out")
        .arg(&pkcs1)
        .stderr(std::process::Stdio::null())
        .status()
        .unwrap();
    assert!(status.success());
    assert!(
        std::fs::read_to_string(&pkcs1)
            .unwrap()
            .contains("BEGIN RSA PRIVATE KEY")
    );
    let config = harness.config_full(
        LogKind::DirectRouting,
        "lookback = \"1d\"",
        &credential(&cert, &pkcs1),
        &harness.output(),
    );
    let report = harness.once(&config).await;
    assert_eq!(report.exit_code(), 0, "{:?}", report.failed);
}

#[tokio::test]
async fn an_assertion_signed_with_another_key_is_refused_and_stops_the_source() {
    let (harness, cert, _, keys) = harness_registering("app").await;
    let (_, other_key) = make_certificate(keys.path(), "impostor");
    let config = harness.config_full(
        LogKind::Pstn,
        "lookback = \"1d\"",
        &credential(&cert, &other_key),
        &harness.output(),
    );
    let report = harness.once(&config).await;
    assert_eq!(report.exit_code(), 1);
    assert!(
        report.failed[0].1.contains("AADSTS7000274"),
        "{:?}",
        report.failed
    );
    assert_eq!(harness.simulator.stats.token_requests(), 1);
    assert_eq!(harness.simulator.stats.graph_requests(), 0);
}

/// A certificate and a key that do not belong together: validate says so (the agent
/// would otherwise learn it from Entra's AADSTS7000274 at the first token request).
#[test]
fn validate_refuses_a_certificate_with_a_key_that_is_not_its_own() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = make_certificate(dir.path(), "app");
    let (_, other_key) = make_certificate(dir.path(), "impostor");
    let validate = |key: &Path| {
        let config = dir.path().join("agent.toml");
        std::fs::write(
            &config,
            format!(
                "data_dir = \"{}\"\n[sources.x]\ntype = \"pstn_calls\"\ntenant_id = \"contoso.onmicrosoft.com\"\nclient_id = \"11111111-1111-1111-1111-111111111111\"\n{}\n[sinks.out]\ntype = \"console\"\ninputs = [\"x\"]\n",
                dir.path().join("state").display(),
                credential(&cert, key)
            ),
        )
        .unwrap();
        std::process::Command::new(env!("CARGO_BIN_EXE_pstn-agent"))
            .args(["validate", "--config"])
            .arg(&config)
            .output()
            .unwrap()
    };
    let mismatched = validate(&other_key);
    let said = String::from_utf8_lossy(&mismatched.stderr);
    assert_eq!(mismatched.status.code(), Some(78), "{said}");
    assert!(
        said.starts_with(&format!(
            "sources.x.client_private_key: {} is not the private key of {}",
            other_key.display(),
            cert.display()
        )),
        "{said}"
    );
    let matched = validate(&key);
    assert!(
        matched.status.success(),
        "{}",
        String::from_utf8_lossy(&matched.stderr)
    );
}
