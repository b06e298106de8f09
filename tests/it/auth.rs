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

/// One `--once` run against a simulated Entra that refuses every sign-in with AADSTS
/// `code`: what the failed source says, after how many token and Graph requests.
async fn refused_with(code: u32) -> (String, String, u64, u64) {
    let harness = Harness::start(SimulatorOptions {
        calls_per_day: 100.0,
        lateness: Lateness::None,
        sign_in_refusal: Some(code),
        ..SimulatorOptions::default()
    })
    .await;
    let config = harness.config_with_secret(LogKind::Pstn, "lookback = \"1d\"", "s3cr3t-value");
    let report = harness.once(&config).await;
    assert_eq!(report.exit_code(), 1, "{:?}", report.failed);
    let said = report.failed[0].1.clone();
    assert!(!said.contains("s3cr3t-value"), "{said}");
    let stats = &harness.simulator.stats;
    (
        said,
        harness.simulator.url(),
        stats.token_requests(),
        stats.graph_requests(),
    )
}

#[tokio::test]
async fn a_sign_in_refused_for_want_of_consent_gives_the_tenants_admin_consent_url_and_stops() {
    for code in [700_016, 65_001] {
        let (said, url, token_requests, graph_requests) = refused_with(code).await;
        assert!(said.contains(&format!("AADSTS{code}")), "{said}");
        assert!(
            said.contains(
                "in tenant contoso.onmicrosoft.com: the application is not consented in that tenant"
            ),
            "{said}"
        );
        let consent = format!(
            "{url}/contoso.onmicrosoft.com/adminconsent?client_id=11111111-1111-1111-1111-111111111111"
        );
        assert!(said.contains(&consent), "{said}");
        // Refused for good: one token request, no retries, nothing sent to Graph.
        assert_eq!((token_requests, graph_requests), (1, 0), "{said}");
    }
}

#[tokio::test]
async fn other_sign_in_refusals_say_what_their_aadsts_code_means() {
    let cases = [
        (7_000_215, "the client secret is wrong (AADSTS7000215)"),
        (7_000_222, "the client secret has expired (AADSTS7000222)"),
        (
            90_002,
            "in tenant contoso.onmicrosoft.com: no such tenant (AADSTS90002)",
        ),
        (
            700_027,
            "the certificate assertion was refused (AADSTS700027)",
        ),
        (
            50_034,
            "in tenant contoso.onmicrosoft.com: invalid_request: AADSTS50034: The simulator refuses this sign-in.",
        ),
    ];
    for (code, meaning) in cases {
        let (said, _, token_requests, _) = refused_with(code).await;
        assert!(said.contains(meaning), "{said}");
        // Only Entra's first description line: its trace id stays out.
        assert!(!said.contains("Trace ID"), "{said}");
        assert_eq!(token_requests, 1, "{said}");
    }
}
