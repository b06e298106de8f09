//! TLS to Entra and Graph is verified: a server whose certificate no trusted CA signed
//! is refused (and never sees a secret); `ca_file` trusts a private CA.

use crate::common;

use common::{Harness, NOW, at, make_pki};
use pstn_agent::model::LogKind;
use pstn_agent::simulate::{Lateness, SimulatorOptions};
use std::time::Duration;

#[tokio::test]
async fn an_unknown_certificate_is_refused_and_ca_file_trusts_a_private_ca() {
    let pki = tempfile::tempdir().unwrap();
    make_pki(pki.path());
    let options = SimulatorOptions {
        calls_per_day: 800.0,
        lateness: Lateness::None,
        tls: Some((pki.path().join("server.pem"), pki.path().join("server.key"))),
        ..SimulatorOptions::default()
    };
    let harness = Harness::start(options).await;
    assert!(harness.simulator.url().starts_with("https://localhost:"));

    let untrusted = harness.config(LogKind::Pstn, "lookback = \"1d\"");
    let report = harness.once(&untrusted).await;
    assert_eq!(report.exit_code(), 1);
    assert!(
        report.failed[0].1.to_lowercase().contains("certificate"),
        "{:?}",
        report.failed
    );
    assert_eq!(
        harness.simulator.stats.token_requests(),
        0,
        "the secret was sent to an unverified server"
    );

    let trusted = harness.config(
        LogKind::Pstn,
        &format!(
            "lookback = \"1d\"\nca_file = \"{}\"",
            pki.path().join("ca.pem").display()
        ),
    );
    let report = harness.once(&trusted).await;
    assert_eq!(report.exit_code(), 0, "{:?}", report.failed);
    let now = at(NOW);
    let expected = harness.expected_ids(
        LogKind::Pstn,
        now.saturating_sub(Duration::from_secs(86_400)),
        now,
        now,
    );
    assert_eq!(harness.delivery_counts().len(), expected.len());
}
