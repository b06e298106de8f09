//! Every row reaches the sink once: across pages, sweeps, late arrivals and restarts.

use crate::common;

use common::{Harness, NOW, at};
use pstn_agent::model::LogKind;
use pstn_agent::simulate::{Lateness, SimulatorOptions};
use pstn_agent::time::Clock;
use std::collections::HashSet;
use std::time::Duration;

const DAY: Duration = Duration::from_secs(86_400);

fn options(calls_per_day: f64, lateness: Lateness) -> SimulatorOptions {
    SimulatorOptions {
        calls_per_day,
        page_size: 100,
        lateness,
        ..SimulatorOptions::default()
    }
}

#[tokio::test]
async fn once_delivers_every_visible_row_once_through_renamed_next_links() {
    // The SMS and blocked-user logs have their own volumes and tests (tests/it/logs.rs).
    for kind in LogKind::ALL.into_iter().filter(|kind| kind.is_call()) {
        let harness = Harness::start(options(3000.0, Lateness::None)).await;
        let config = harness.config(kind, "lookback = \"3d\"\nlate_window = \"0s\"");
        let report = harness.once(&config).await;
        assert_eq!(report.exit_code(), 0, "{:?}", report.failed);
        let now = at(NOW);
        let mut expected = harness.expected_ids(kind, now.saturating_sub(3 * DAY), now, now);
        expected.sort();
        let counts = harness.delivery_counts();
        let mut delivered: Vec<String> = counts.keys().cloned().collect();
        delivered.sort();
        assert!(expected.len() > 5000, "{} rows", expected.len());
        assert_eq!(delivered, expected, "{kind}");
        assert!(
            counts.values().all(|n| *n == 1),
            "{kind}: a row was delivered twice"
        );
        assert!(
            harness.simulator.stats.pages() > 50,
            "paging through nextLinks was exercised"
        );
    }
}

#[tokio::test]
async fn events_carry_the_contract_envelope_and_the_row_unchanged() {
    let harness = Harness::start(options(500.0, Lateness::None)).await;
    let config = harness.config(LogKind::DirectRouting, "lookback = \"1d\"");
    harness.once(&config).await;
    let events = harness.events();
    assert!(!events.is_empty());
    for (_, event) in &events {
        assert_eq!(event["timestamp"], event["call"]["startDateTime"]);
        assert_eq!(event["observed_timestamp"], "2024-05-20T12:00:00.0000000Z");
        assert_eq!(event["source"], "tenant");
        assert_eq!(event["tenant_id"], "contoso.onmicrosoft.com");
        assert_eq!(event["kind"], "direct_routing_call");
        assert!(event["call"].get("trunkFullyQualifiedDomainName").is_some());
    }
}

#[tokio::test]
async fn a_second_run_over_the_same_data_emits_nothing() {
    let harness = Harness::start(options(2000.0, Lateness::None)).await;
    let config = harness.config(LogKind::Pstn, "lookback = \"2d\"");
    harness.once(&config).await;
    let first = harness.events().len();
    assert!(first > 0);
    harness.once(&config).await;
    assert_eq!(
        harness.events().len(),
        first,
        "the restart delivered rows again"
    );
}

#[tokio::test]
async fn a_two_hundred_day_lookback_never_gets_a_406() {
    let harness = Harness::start(options(20.0, Lateness::None)).await;
    let config = harness.config(LogKind::Pstn, "lookback = \"200d\"");
    let report = harness.once(&config).await;
    assert_eq!(report.exit_code(), 0, "{:?}", report.failed);
    let now = at(NOW);
    let expected = harness.expected_ids(LogKind::Pstn, now.saturating_sub(200 * DAY), now, now);
    assert_eq!(harness.delivery_counts().len(), expected.len());
}

#[tokio::test]
async fn late_rows_are_caught_exactly_once_within_the_late_window() {
    let harness = Harness::start(options(
        3000.0,
        Lateness::Uniform(Duration::from_secs(3 * 3600)),
    ))
    .await;
    let config = harness.config(
        LogKind::DirectRouting,
        "lookback = \"1h\"\npoll_interval = \"5m\"\nlate_window = \"8h\"",
    );
    let start = at(NOW);
    // A day of polls every five simulated minutes.
    for _ in 0..(24 * 12) {
        let report = harness.once(&config).await;
        assert_eq!(report.exit_code(), 0, "{:?}", report.failed);
        harness.clock.advance(Duration::from_secs(300));
    }
    let end = harness.clock.now();
    // Every call that started after the lookback began and is visible by the end, and
    // appeared within the late window (calls last up to 4 h, lateness up to 3 h), arrived.
    let cutoff = end.saturating_sub(Duration::from_secs(8 * 3600));
    let expected: HashSet<String> = harness
        .expected_ids(
            LogKind::DirectRouting,
            start.saturating_sub(Duration::from_secs(3600)),
            cutoff,
            end,
        )
        .into_iter()
        .collect();
    let counts = harness.delivery_counts();
    let missing: Vec<_> = expected
        .iter()
        .filter(|id| !counts.contains_key(*id))
        .collect();
    assert!(
        missing.is_empty(),
        "{} of {} late rows never arrived",
        missing.len(),
        expected.len()
    );
    assert!(
        counts.values().all(|n| *n == 1),
        "a late row was delivered twice"
    );
}
