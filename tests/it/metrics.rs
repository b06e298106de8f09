//! Metrics count each delivered call once, read right after a restart, pass promtool,
//! and say what is not ready.

use crate::common;

use common::{Harness, NOW, at};
use pstn_agent::metrics::Metrics;
use pstn_agent::model::LogKind;
use pstn_agent::simulate::{Lateness, SimulatorOptions};
use std::collections::HashMap;
use std::time::Duration;

/// Sum of every sample of `name` whose labels include all of `labels`.
fn sample(text: &str, name: &str, labels: &[(&str, &str)]) -> f64 {
    text.lines()
        .filter(|line| !line.starts_with('#'))
        .filter_map(|line| {
            let (series, value) = line.rsplit_once(' ')?;
            let (metric, label_text) = series.split_once('{').unwrap_or((series, "}"));
            (metric == name
                && labels
                    .iter()
                    .all(|(key, value)| label_text.contains(&format!("{key}=\"{value}\""))))
            .then(|| value.parse::<f64>().ok())?
        })
        .sum()
}

fn charge(value: &serde_json::Value) -> f64 {
    match value {
        serde_json::Value::Number(number) => number.as_f64().unwrap_or(0.0),
        serde_json::Value::String(text) => text.parse().unwrap_or(0.0),
        _ => 0.0,
    }
}

/// Delivered calls by call type, and charge sums by currency, from the events file.
fn delivered_totals(harness: &Harness) -> (HashMap<String, f64>, HashMap<String, f64>) {
    let mut by_type = HashMap::new();
    let mut by_currency = HashMap::new();
    for (_, event) in harness.events() {
        let call = &event["call"];
        *by_type
            .entry(call["callType"].as_str().unwrap_or("other").to_owned())
            .or_insert(0.0) += 1.0;
        *by_currency
            .entry(call["currency"].as_str().unwrap_or("none").to_owned())
            .or_insert(0.0) += charge(&call["charge"]);
    }
    (by_type, by_currency)
}

fn options(lateness: Lateness) -> SimulatorOptions {
    SimulatorOptions {
        calls_per_day: 3000.0,
        page_size: 300,
        lateness,
        ..SimulatorOptions::default()
    }
}

#[tokio::test]
async fn call_counters_equal_delivered_rows_through_sweeps_late_rows_and_a_restart() {
    let mut harness =
        Harness::start(options(Lateness::Uniform(Duration::from_secs(2 * 3600)))).await;
    let config = harness.config(
        LogKind::Pstn,
        "lookback = \"1d\"\npoll_interval = \"10m\"\nlate_window = \"6h\"",
    );
    for _ in 0..36 {
        assert_eq!(harness.once(&config).await.exit_code(), 0);
        harness.clock.advance(Duration::from_secs(600));
    }
    let text = harness.metrics.encode();
    let (by_type, by_currency) = delivered_totals(&harness);
    let delivered: f64 = by_type.values().sum();
    assert!(
        sample(&text, "pstn_rows_duplicate_total", &[]) > 0.0,
        "the sweeps re-read rows, so duplicates were dropped"
    );
    assert_eq!(sample(&text, "pstn_calls_total", &[]), delivered);
    for (call_type, count) in &by_type {
        assert_eq!(
            sample(&text, "pstn_calls_total", &[("call_type", call_type)]),
            *count,
            "{call_type}"
        );
    }
    for (currency, sum) in &by_currency {
        let counted = sample(&text, "pstn_call_charge_total", &[("currency", currency)]);
        assert!(
            (counted - sum).abs() < 1e-6,
            "{currency}: {counted} counted, {sum} delivered"
        );
    }
    // A restart: a new process starts its counters at zero and counts only new rows.
    let before = harness.events().len();
    harness.metrics = Metrics::new().unwrap();
    harness.clock.advance(Duration::from_secs(3600));
    assert_eq!(harness.once(&config).await.exit_code(), 0);
    let new_rows = (harness.events().len() - before) as f64;
    assert!(new_rows > 0.0);
    assert_eq!(
        sample(&harness.metrics.encode(), "pstn_calls_total", &[]),
        new_rows
    );
}

#[tokio::test]
async fn the_calling_plan_gauge_is_read_from_state_after_a_restart() {
    let mut harness = Harness::start(options(Lateness::None)).await;
    let config = harness.config(LogKind::Pstn, "lookback = \"10d\"");
    assert_eq!(harness.once(&config).await.exit_code(), 0);
    let month = &NOW[..7];
    let expected: f64 = harness
        .events()
        .iter()
        .filter(|(_, event)| {
            event["call"]["callType"]
                .as_str()
                .unwrap()
                .starts_with("user_out")
        })
        .filter(|(_, event)| event["timestamp"].as_str().unwrap().starts_with(month))
        .map(|(_, event)| event["call"]["duration"].as_f64().unwrap())
        .sum();
    let gauge = |text: &str| sample(text, "pstn_calling_plan_outbound_month_seconds", &[]);
    assert!(expected > 0.0);
    assert_eq!(gauge(&harness.metrics.encode()), expected);
    harness.metrics = Metrics::new().unwrap();
    assert_eq!(harness.once(&config).await.exit_code(), 0);
    assert_eq!(
        gauge(&harness.metrics.encode()),
        expected,
        "the gauge after a restart with nothing new"
    );
    // Calls of the previous month (the lookback reached into April) are not counted.
    assert!(harness.events().iter().any(|(_, event)| {
        event["timestamp"]
            .as_str()
            .unwrap()
            .starts_with("2024-05-1")
    }));
    let _ = at(NOW);
}

#[tokio::test]
async fn promtool_finds_nothing_to_complain_about() {
    let harness = Harness::start(options(Lateness::None)).await;
    // With a directory, so the chargeback series are checked too.
    let config = harness.config(
        LogKind::Pstn,
        "lookback = \"1d\"\n[sources.tenant.directory]",
    );
    assert_eq!(harness.once(&config).await.exit_code(), 0);
    assert_eq!(harness.once(&config).await.exit_code(), 0);
    let text = harness.metrics.encode();
    for name in [
        "pstn_call_charge_by_department_total{",
        "pstn_call_charge_by_department_month{",
        "pstn_call_by_department_month_seconds{",
    ] {
        assert!(text.contains(name), "{name} in {text}");
    }
    common::tools::promtool_check_metrics(&text);
    for name in [
        "pstn_calls_total",
        "pstn_call_duration_seconds_bucket",
        "pstn_call_charge_total",
        "pstn_call_charge_bucket",
        "pstn_source_last_success_timestamp_seconds",
        "pstn_agent_build_info",
    ] {
        assert!(text.contains(name), "{name} missing");
    }
}

#[tokio::test]
async fn readiness_names_a_failing_sink_and_recovers() {
    let harness = Harness::start(options(Lateness::None)).await;
    let full = harness.config_full(
        LogKind::Pstn,
        "lookback = \"1d\"",
        "client_secret = \"s\"",
        std::path::Path::new("/dev/full"),
    );
    assert_eq!(harness.once(&full).await.exit_code(), 1);
    let report = harness.metrics.readiness();
    assert!(
        report
            .problems
            .iter()
            .any(|(component, why)| component == "sinks.archive"
                && why == "last batch refused; offering it again"),
        "{report:?}"
    );
    // /readyz is unauthenticated: it names the sink and a fixed reason, never a path
    // or a peer's words (those are in the log).
    assert!(!report.to_json().contains("/dev/full"), "{report:?}");
    assert!(report.to_json().contains("\"ready\":false"));
    assert_eq!(
        sample(&harness.metrics.encode(), "pstn_agent_ready", &[]),
        0.0
    );
    let good = harness.config(LogKind::Pstn, "lookback = \"1d\"");
    assert_eq!(harness.once(&good).await.exit_code(), 0);
    let report = harness.metrics.readiness();
    assert!(
        !report
            .problems
            .iter()
            .any(|(component, _)| component == "sinks.archive"),
        "{report:?}"
    );
    assert!(report.is_ready(), "{report:?}");
    assert_eq!(
        sample(&harness.metrics.encode(), "pstn_agent_ready", &[]),
        1.0
    );
}

#[tokio::test]
async fn destination_context_counts_and_charges_match_delivered_calls() {
    let harness = Harness::start(options(Lateness::None)).await;
    let config = harness.config(LogKind::Pstn, "lookback = \"2d\"\npoll_interval = \"7m\"");
    assert_eq!(harness.once(&config).await.exit_code(), 0);
    let text = harness.metrics.encode();
    let mut calls: HashMap<&str, f64> = HashMap::new();
    let mut international_charges: HashMap<String, f64> = HashMap::new();
    for (_, event) in harness.events() {
        let call = &event["call"];
        let destination = match call["destinationContext"].as_str() {
            Some("International") => "international",
            Some("Domestic") => "domestic",
            _ => "none",
        };
        *calls.entry(destination).or_default() += 1.0;
        if destination == "international" {
            *international_charges
                .entry(call["currency"].as_str().unwrap().to_owned())
                .or_default() += charge(&call["charge"]);
        }
    }
    assert!(calls.len() == 3, "all three contexts delivered: {calls:?}");
    for (destination, count) in &calls {
        assert_eq!(
            sample(
                &text,
                "pstn_calls_by_destination_context_total",
                &[("destination", destination)]
            ),
            *count,
            "{destination}"
        );
    }
    assert!(international_charges.values().any(|sum| *sum > 0.0));
    for (currency, sum) in &international_charges {
        let counted = sample(
            &text,
            "pstn_call_charge_by_destination_context_total",
            &[("destination", "international"), ("currency", currency)],
        );
        assert!(
            (counted - sum).abs() < 1e-6,
            "{currency}: {counted} counted, {sum} delivered"
        );
    }
    assert_eq!(
        sample(&text, "pstn_source_poll_interval_seconds", &[]),
        420.0
    );
}

#[tokio::test]
async fn on_v1_the_other_party_country_comes_from_the_number_and_feeds_the_country_counts() {
    let harness = Harness::start(options(Lateness::None)).await;
    let config = harness.config(LogKind::Pstn, "lookback = \"2d\"\napi_version = \"v1.0\"");
    assert_eq!(harness.once(&config).await.exit_code(), 0);
    let text = harness.metrics.encode();
    let mut by_country: HashMap<String, f64> = HashMap::new();
    for (_, event) in harness.events() {
        let call = &event["call"];
        assert!(
            call.get("otherPartyCountryCode").is_none(),
            "v1.0 rows have none"
        );
        let outbound = call["callType"].as_str().unwrap().contains("out");
        let number = call[if outbound {
            "calleeNumber"
        } else {
            "callerNumber"
        }]
        .as_str()
        .unwrap();
        let country = event["other_party_country"].as_str().unwrap_or("none");
        if number.starts_with("+1809") || number.starts_with("+1829") {
            assert_eq!(country, "DO", "{number}: +1 is not always the US");
        }
        if number.starts_with("+1416") || number.starts_with("+1604") {
            assert_eq!(country, "CA", "{number}");
        }
        if number.starts_with("+1650") {
            assert_eq!(country, "US", "{number}");
        }
        *by_country.entry(country.to_owned()).or_default() += 1.0;
    }
    for needed in ["US", "CA", "DO", "GB", "DE"] {
        assert!(by_country.contains_key(needed), "{needed}: {by_country:?}");
    }
    for (country, count) in &by_country {
        assert_eq!(
            sample(
                &text,
                "pstn_calls_by_destination_country_total",
                &[("country", country)]
            ),
            *count,
            "{country}"
        );
    }
}
