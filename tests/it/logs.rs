//! The SMS log and the PSTN blocked-users log (beta only) on the call logs' machinery:
//! every row once across pages, sweeps, late rows and restarts, rows without an id
//! deduplicated by their content, their metrics on delivery, and v1.0 refused.

use crate::common;

use common::{Harness, NOW, at};
use pstn_agent::model::LogKind;
use pstn_agent::simulate::{Lateness, SimulatorOptions};
use pstn_agent::time::Clock;
use std::collections::HashSet;
use std::time::Duration;

const HOUR: Duration = Duration::from_secs(3600);

fn options(calls_per_day: f64, lateness: Lateness) -> SimulatorOptions {
    SimulatorOptions {
        calls_per_day,
        page_size: 50,
        lateness,
        ..SimulatorOptions::default()
    }
}

/// Polls every 30 simulated minutes for `hours`, each poll a fresh run over the same
/// state (a restart), asserting each succeeded.
async fn poll_for(harness: &Harness, kind: LogKind, hours: u64) {
    let config = harness.config(
        kind,
        "lookback = \"2d\"\npoll_interval = \"30m\"\nlate_window = \"8h\"",
    );
    for _ in 0..hours * 2 {
        let report = harness.once(&config).await;
        assert_eq!(report.exit_code(), 0, "{kind}: {:?}", report.failed);
        harness.clock.advance(HOUR / 2);
    }
}

/// The duplicates the agent dropped so far (rows read again by an overlapping sweep).
fn duplicates_dropped(harness: &Harness) -> f64 {
    harness
        .metrics
        .encode()
        .lines()
        .filter(|line| line.starts_with("pstn_rows_duplicate_total{"))
        .filter_map(|line| line.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

#[tokio::test]
async fn each_new_log_delivers_every_row_once_across_sweeps_late_rows_and_restarts() {
    for (kind, calls_per_day, least) in [
        (LogKind::Sms, 6000.0, 1000),
        (LogKind::PstnBlockedUser, 40_000.0, 100),
    ] {
        let harness = Harness::start(options(calls_per_day, Lateness::Uniform(3 * HOUR))).await;
        let start = at(NOW);
        poll_for(&harness, kind, 12).await;
        let last_poll = harness.clock.now().saturating_sub(HOUR / 2);
        // Rows from the lookback on that the last poll's slowest (8 h) sweep has passed
        // have all arrived: their lateness (up to 3 h) is within the late window.
        let mut expected: Vec<String> = harness.expected_ids(
            kind,
            start.saturating_sub(2 * 24 * HOUR),
            last_poll.saturating_sub(8 * HOUR),
            last_poll,
        );
        expected.sort();
        let counts = harness.delivery_counts();
        assert!(
            expected.len() >= least,
            "{kind}: only {} rows",
            expected.len()
        );
        let missing: Vec<_> = expected
            .iter()
            .filter(|key| !counts.contains_key(*key))
            .collect();
        assert!(
            missing.is_empty(),
            "{kind}: {} of {} never arrived",
            missing.len(),
            expected.len()
        );
        let twice: Vec<_> = counts.iter().filter(|(_, n)| **n > 1).collect();
        assert!(twice.is_empty(), "{kind}: delivered twice: {twice:?}");
        assert!(
            duplicates_dropped(&harness) > 0.0,
            "{kind}: no row was read twice"
        );
        for (_, event) in harness.events() {
            assert_eq!(event["kind"], kind.event_kind());
            assert_eq!(event["timestamp"], event["call"][kind.timestamp_field()]);
        }
    }
}

#[tokio::test]
async fn sms_rows_without_an_id_dedupe_by_content_across_re_reads_and_restarts() {
    let harness = Harness::start(options(8000.0, Lateness::Uniform(2 * HOUR))).await;
    poll_for(&harness, LogKind::Sms, 6).await;
    let events = harness.events();
    let without_id = events
        .iter()
        .filter(|(_, event)| event["call"].get("id").is_none())
        .count();
    assert!(
        without_id > 100 && without_id < events.len(),
        "{without_id} of {} rows have no id",
        events.len()
    );
    let keys: HashSet<&String> = events.iter().map(|(key, _)| key).collect();
    assert_eq!(
        keys.len(),
        events.len(),
        "a row without an id arrived twice"
    );
    assert!(
        duplicates_dropped(&harness) > 0.0,
        "the sweeps re-read rows"
    );

    // Runs at one instant: the first catches up on the last half hour, the restarts
    // after it read nothing due and add nothing.
    let again = harness.config(
        LogKind::Sms,
        "lookback = \"2d\"\npoll_interval = \"30m\"\nlate_window = \"8h\"",
    );
    assert_eq!(harness.once(&again).await.exit_code(), 0);
    let before = harness.events().len();
    for _ in 0..2 {
        assert_eq!(harness.once(&again).await.exit_code(), 0);
    }
    assert_eq!(
        harness.events().len(),
        before,
        "a restart delivered rows again"
    );

    // Two rows differing in any field are two rows: the expected set counts distinct
    // contents, and every one of them arrived.
    let end = harness.clock.now();
    let expected: HashSet<String> = harness
        .expected_ids(
            LogKind::Sms,
            at(NOW).saturating_sub(48 * HOUR),
            end.saturating_sub(8 * HOUR),
            end,
        )
        .into_iter()
        .collect();
    let delivered: HashSet<String> = harness.events().into_iter().map(|(key, _)| key).collect();
    assert!(
        expected.is_subset(&delivered),
        "{} distinct rows collapsed",
        expected.difference(&delivered).count()
    );
}

#[tokio::test]
async fn blocked_users_are_blocked_then_unblocked_under_new_remediation_ids() {
    let harness = Harness::start(options(60_000.0, Lateness::None)).await;
    poll_for(&harness, LogKind::PstnBlockedUser, 1).await;
    let events = harness.events();
    let modes = |mode: &str| {
        events
            .iter()
            .filter(|(_, event)| event["call"]["userBlockMode"] == mode)
            .map(|(_, event)| event["call"].clone())
            .collect::<Vec<_>>()
    };
    let (blocked, unblocked) = (modes("blocked"), modes("unblocked"));
    assert!(
        blocked.len() > 20 && !unblocked.is_empty(),
        "{} / {}",
        blocked.len(),
        unblocked.len()
    );
    let lifted = unblocked.iter().filter(|row| {
        blocked.iter().any(|block| {
            block["userId"] == row["userId"]
                && block["remediationId"] != row["remediationId"]
                && block["blockDateTime"].as_str() < row["blockDateTime"].as_str()
        })
    });
    assert!(lifted.count() > 0, "no user was unblocked after a block");
    assert!(
        events
            .iter()
            .all(|(_, event)| event["call"]["blockReason"].is_string())
    );
}

#[tokio::test]
async fn new_logs_are_counted_on_delivery_with_bounded_labels_and_never_as_calls() {
    let harness = Harness::start(options(8000.0, Lateness::None)).await;
    let blocked = Harness::start(options(8000.0, Lateness::None)).await;
    for (harness, kind) in [
        (&harness, LogKind::Sms),
        (&blocked, LogKind::PstnBlockedUser),
    ] {
        let config = harness.config(kind, "lookback = \"1d\"");
        assert_eq!(harness.once(&config).await.exit_code(), 0);
    }
    let text = harness.metrics.encode() + &blocked.metrics.encode();
    let series = |name: &str| -> Vec<(String, f64)> {
        text.lines()
            .filter(|line| line.starts_with(&format!("{name}{{")))
            .filter_map(|line| {
                let (labels, value) = line.rsplit_once(' ')?;
                Some((labels.to_owned(), value.parse().ok()?))
            })
            .collect()
    };
    let mut events = harness.events();
    events.extend(blocked.events());
    let count = |kind: &str| events.iter().filter(|(_, e)| e["kind"] == kind).count() as f64;
    let sum = |name: &str| series(name).iter().map(|(_, v)| v).sum::<f64>();
    assert!(count("sms") > 100.0 && count("pstn_blocked_user") > 0.0);
    assert_eq!(sum("pstn_sms_total"), count("sms"));
    assert_eq!(
        sum("pstn_blocked_user_events_total"),
        count("pstn_blocked_user")
    );
    let units: f64 = events
        .iter()
        .filter_map(|(_, e)| e["call"]["smsUnits"].as_f64())
        .sum();
    assert!((sum("pstn_sms_units_total") - units).abs() < 1e-6);
    assert!(sum("pstn_sms_charge_total") > 0.0);
    assert_eq!(
        sum("pstn_calls_total"),
        0.0,
        "an SMS or a block counted as a call"
    );
    for (labels, _) in series("pstn_sms_total") {
        assert!(
            ["sms_out", "sms_in", "other"]
                .iter()
                .any(|t| labels.contains(&format!("sms_type=\"{t}\"")))
                && ["domestic", "international", "other", "none"]
                    .iter()
                    .any(|d| labels.contains(&format!("destination=\"{d}\""))),
            "{labels}"
        );
    }
    for (labels, _) in series("pstn_blocked_user_events_total") {
        assert!(
            ["blocked", "unblocked", "other"]
                .iter()
                .any(|m| labels.contains(&format!("mode=\"{m}\""))),
            "{labels}"
        );
    }
    assert!(
        !text.contains("+49") && !text.contains("contoso.com"),
        "a number or a user in a label"
    );
}
