//! A source of several tenants with a `ca_file` (whose HTTP client is built once for
//! the source, issue 27, and handed to each tenant without the file): each tenant still
//! reaches a server only that private CA vouches for, and delivers.

use super::{TENANTS, config, delivered_by_tenant};
use crate::common::{Harness, make_pki};
use pstn_agent::simulate::{Lateness, SimulatorOptions};

#[tokio::test]
async fn every_tenant_reaches_a_server_its_source_ca_file_trusts() {
    let pki = tempfile::tempdir().unwrap();
    make_pki(pki.path());
    let harness = Harness::start(SimulatorOptions {
        calls_per_day: 400.0,
        lateness: Lateness::None,
        calls_per_tenant: true,
        tls: Some((pki.path().join("server.pem"), pki.path().join("server.key"))),
        ..SimulatorOptions::default()
    })
    .await;
    assert!(harness.simulator.url().starts_with("https://"));
    let tenants = format!(
        "tenants = {TENANTS:?}\nca_file = \"{}\"",
        pki.path().join("ca.pem").display()
    );
    let report = harness.once(&config(&harness, &tenants)).await;
    assert_eq!(report.exit_code(), 0, "{:?}", report.failed);
    assert_eq!(delivered_by_tenant(&harness).len(), TENANTS.len());
}
