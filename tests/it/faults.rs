//! Graph misbehaving: throttling, server errors, cut bodies, expiring and revoked
//! tokens, foreign next links, wrong secrets. Every row still arrives once.

use crate::common;

use common::{Harness, NOW, at};
use pstn_agent::model::LogKind;
use pstn_agent::simulate::{Countdown, Lateness, SimulatorOptions};
use std::time::{Duration, Instant};

const DAY: Duration = Duration::from_secs(86_400);

fn options() -> SimulatorOptions {
    SimulatorOptions {
        calls_per_day: 2000.0,
        page_size: 200,
        lateness: Lateness::None,
        ..SimulatorOptions::default()
    }
}

/// Runs one poll and insists it succeeded.
async fn once_ok(harness: &Harness, config: &pstn_agent::config::Config) {
    let report = harness.once(config).await;
    assert_eq!(report.exit_code(), 0, "{:?}", report.failed);
}

fn assert_all_delivered_once(harness: &Harness, kind: LogKind, lookback: Duration) {
    let now = at(NOW);
    let expected = harness.expected_ids(kind, now.saturating_sub(lookback), now, now);
    let counts = harness.delivery_counts();
    assert_eq!(counts.len(), expected.len(), "rows missing");
    assert!(
        expected.iter().all(|id| counts.get(id) == Some(&1)),
        "a row missing or repeated"
    );
}

#[tokio::test]
async fn retry_after_holds_back_every_request_of_the_source() {
    let harness = Harness::start(options()).await;
    // A budget of 4 requests per 20 s; each 429 says "come back in 2 s".
    let faults = &harness.simulator.faults;
    faults.throttle(4, Duration::from_secs(2));
    let config = harness.config(LogKind::Pstn, "lookback = \"6h\"\nlate_window = \"0s\"");
    once_ok(&harness, &config).await;
    assert_all_delivered_once(&harness, LogKind::Pstn, Duration::from_secs(6 * 3600));
    let stats = &harness.simulator.stats;
    let throttles = stats.throttles();
    assert!(!throttles.is_empty(), "the budget was never exceeded");
    // Windows are fetched side by side, yet after a 429 no request of the source
    // arrived until the announced time had passed (300 ms of slack for requests
    // already under way when the 429 was sent, on a loaded 2-core machine).
    let arrivals = stats.arrivals();
    for (sent, wait) in &throttles {
        let early: Vec<_> = arrivals
            .iter()
            .filter(|arrival| {
                **arrival > *sent + Duration::from_millis(300) && **arrival < *sent + *wait
            })
            .collect();
        assert!(
            early.is_empty(),
            "{} requests inside a {wait:?} Retry-After",
            early.len()
        );
    }
}

#[tokio::test]
async fn server_errors_and_cut_bodies_are_retried_without_loss() {
    let harness = Harness::start(options()).await;
    harness.simulator.faults.fail_next(3, 503);
    harness.simulator.faults.truncate_next(2);
    let config = harness.config(LogKind::DirectRouting, "lookback = \"2d\"");
    once_ok(&harness, &config).await;
    assert_eq!(
        harness.simulator.faults.left(Countdown::Truncation),
        0,
        "the cut bodies were served"
    );
    assert_all_delivered_once(&harness, LogKind::DirectRouting, 2 * DAY);
}

#[tokio::test]
async fn a_token_expiring_mid_backfill_is_refreshed() {
    let simulator_options = SimulatorOptions {
        token_ttl: Duration::from_secs(1),
        ..options()
    };
    let harness = Harness::start(simulator_options).await;
    harness
        .simulator
        // Slow pages, so the backfill outlasts several token lifetimes even when windows
        // are fetched in parallel.
        .faults
        .slow_down(Duration::from_millis(400));
    let config = harness.config(LogKind::Pstn, "lookback = \"3d\"");
    once_ok(&harness, &config).await;
    assert!(
        harness.simulator.stats.token_requests() >= 2,
        "the token was never refreshed"
    );
    assert_all_delivered_once(&harness, LogKind::Pstn, 3 * DAY);
}

#[tokio::test]
async fn a_revoked_token_gets_one_fresh_token_and_the_request_succeeds() {
    let harness = Harness::start(options()).await;
    harness.simulator.faults.revoke_next(1);
    let config = harness.config(LogKind::Pstn, "lookback = \"1d\"");
    once_ok(&harness, &config).await;
    assert_eq!(harness.simulator.stats.token_requests(), 2);
    assert_all_delivered_once(&harness, LogKind::Pstn, DAY);
}

#[tokio::test]
async fn a_foreign_next_link_host_never_receives_the_token() {
    let trap = Harness::start(options()).await;
    let simulator_options = SimulatorOptions {
        public_url: Some(trap.simulator.url()),
        ..options()
    };
    let harness = Harness::start(simulator_options).await;
    let config = harness.config(LogKind::Pstn, "lookback = \"2d\"");
    let report = harness.once(&config).await;
    assert_eq!(report.exit_code(), 1);
    assert!(
        report.failed[0]
            .1
            .contains("refused to follow @odata.nextLink"),
        "{:?}",
        report.failed
    );
    let trap_stats = &trap.simulator.stats;
    assert_eq!(
        trap_stats.graph_requests() + trap_stats.foreign_requests_with_token(),
        0
    );
    // The pages read before the refusal were still delivered, each row once.
    let counts = harness.delivery_counts();
    assert!(counts.len() >= 200, "{} rows", counts.len());
    assert!(counts.values().all(|n| *n == 1));
}

#[tokio::test]
async fn a_wrong_secret_fails_fast_with_the_aadsts_code_and_without_the_secret() {
    let simulator_options = SimulatorOptions {
        client_secret: Some("the-right-one".into()),
        ..options()
    };
    let harness = Harness::start(simulator_options).await;
    let config =
        harness.config_with_secret(LogKind::Pstn, "lookback = \"1d\"", "wrong-secret-value");
    let started = Instant::now();
    let report = harness.once(&config).await;
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "a permanent error was retried"
    );
    assert_eq!(report.exit_code(), 1);
    let message = &report.failed[0].1;
    assert!(
        message.contains("invalid_client") && message.contains("AADSTS7000215"),
        "{message}"
    );
    assert!(!message.contains("wrong-secret-value"));
    assert_eq!(harness.simulator.stats.token_requests(), 1);
}

#[tokio::test]
async fn once_gives_up_on_a_full_disk_and_nothing_is_marked_delivered() {
    let harness = Harness::start(options()).await;
    let config = harness.config_full(
        LogKind::Pstn,
        "lookback = \"1d\"",
        "client_secret = \"s\"",
        std::path::Path::new("/dev/full"),
    );
    let report = harness.once(&config).await;
    assert_eq!(report.exit_code(), 1);
    assert!(
        report.failed[0].1.contains("sink archive"),
        "{:?}",
        report.failed
    );
    // With room again (the same state, a writable file), every row arrives, once.
    once_ok(
        &harness,
        &harness.config(LogKind::Pstn, "lookback = \"1d\""),
    )
    .await;
    assert_all_delivered_once(&harness, LogKind::Pstn, DAY);
}

#[tokio::test]
async fn a_403_names_the_missing_role_and_consent_without_retrying() {
    let harness = Harness::start(options()).await;
    harness.simulator.faults.forbid_next(1);
    // Half an hour back: one window, so exactly one request.
    let config = harness.config(LogKind::DirectRouting, "lookback = \"30m\"");
    let report = harness.once(&config).await;
    assert_eq!(report.exit_code(), 1);
    let message = &report.failed[0].1;
    assert!(
        message.contains("CallRecords.Read.All")
            && message.contains("CallRecord-PstnCalls.Read.All")
            && message.contains("admin consent"),
        "{message}"
    );
    assert_eq!(
        harness.simulator.stats.graph_requests(),
        1,
        "a 403 was retried"
    );
}

#[tokio::test]
async fn a_body_that_stalls_until_the_timeout_is_retried_without_loss() {
    let harness = Harness::start(options()).await;
    harness.simulator.faults.stall_next(2);
    let config = harness.config(LogKind::Pstn, "lookback = \"1d\"\nrequest_timeout = \"1s\"");
    once_ok(&harness, &config).await;
    assert_eq!(
        harness.simulator.faults.left(Countdown::Stall),
        0,
        "the stalls happened"
    );
    assert_all_delivered_once(&harness, LogKind::Pstn, DAY);
}

#[tokio::test]
async fn the_token_endpoint_down_for_a_while_is_waited_out() {
    let harness = Harness::start(options()).await;
    harness.simulator.faults.fail_next_tokens(3);
    let config = harness.config(LogKind::DirectRouting, "lookback = \"1d\"");
    once_ok(&harness, &config).await;
    assert_eq!(harness.simulator.stats.token_requests(), 4);
    assert_all_delivered_once(&harness, LogKind::DirectRouting, DAY);
}

#[tokio::test]
async fn the_clock_jumping_back_then_forward_repeats_nothing_and_loses_nothing() {
    use pstn_agent::time::Clock;
    let harness = Harness::start(options()).await;
    let config = harness.config(LogKind::Pstn, "lookback = \"1d\"\nlate_window = \"1h\"");
    once_ok(&harness, &config).await;
    let first = harness.events().len();
    // Backwards two hours: nothing is due, nothing is re-sent.
    harness
        .clock
        .set(at(NOW).saturating_sub(Duration::from_secs(2 * 3600)));
    once_ok(&harness, &config).await;
    assert_eq!(harness.events().len(), first);
    // Forwards two days: every call of the gap arrives, once.
    harness.clock.set(at(NOW).saturating_add(2 * DAY));
    once_ok(&harness, &config).await;
    let now = harness.clock.now();
    let expected = harness.expected_ids(LogKind::Pstn, at(NOW).saturating_sub(DAY), now, now);
    let counts = harness.delivery_counts();
    assert_eq!(counts.len(), expected.len());
    assert!(expected.iter().all(|id| counts.get(id) == Some(&1)));
}

#[tokio::test]
async fn a_steady_rate_of_server_errors_loses_nothing() {
    let harness = Harness::start(options()).await;
    harness.simulator.faults.fail_at_random(150);
    let config = harness.config(LogKind::DirectRouting, "lookback = \"2d\"");
    once_ok(&harness, &config).await;
    let metrics = harness.metrics.encode();
    assert!(
        metrics
            .lines()
            .any(|line| line.starts_with("pstn_graph_retries_total") && !line.ends_with(" 0")),
        "no retry happened"
    );
    assert_all_delivered_once(&harness, LogKind::DirectRouting, 2 * DAY);
}
