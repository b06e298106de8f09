//! The chargeback metrics of a source with `[sources.NAME.directory]`, against the
//! simulated tenant: sums by department equal the rows' charges exactly, and
//! department labels past `max_label_values` are `other`.

use crate::common;

use common::{Harness, directory_config as config};
use pstn_agent::simulate::{Lateness, SimulatorOptions};
use serde_json::Value;
use std::collections::{BTreeMap, HashMap};

fn options() -> SimulatorOptions {
    SimulatorOptions {
        calls_per_day: 3000.0,
        lateness: Lateness::None,
        ..SimulatorOptions::default()
    }
}

/// Millionths of a decimal text (`0.12`, `"1.5"`), exactly.
fn micros(value: &Value) -> i128 {
    let text = match value {
        Value::String(text) => text.clone(),
        other => other.to_string(),
    };
    let (whole, fraction) = text.split_once('.').unwrap_or((&text, ""));
    let fraction = format!("{fraction:0<6}");
    whole.parse::<i128>().unwrap() * 1_000_000 + fraction[..6].parse::<i128>().unwrap()
}

/// `name{labels} value` lines of the exposition, as (labels text, value in micros).
fn series(text: &str, name: &str) -> HashMap<String, i128> {
    text.lines()
        .filter_map(|line| line.strip_prefix(name)?.strip_prefix('{'))
        .map(|rest| {
            let (labels, value) = rest.rsplit_once("} ").unwrap();
            let value: Value = serde_json::from_str(value).unwrap();
            (labels.to_owned(), micros(&value))
        })
        .collect()
}

#[tokio::test]
async fn chargeback_metrics_sum_exactly_to_the_rows_charges_per_department() {
    let harness = Harness::start(options()).await;
    assert!(
        harness
            .once(&config(&harness, "", "", ""))
            .await
            .failed
            .is_empty()
    );
    let mut expected: BTreeMap<String, i128> = BTreeMap::new();
    for (_, event) in harness.events() {
        let Some(charge) = event["call"].get("charge").filter(|c| !c.is_null()) else {
            continue;
        };
        let department = match event.get("user") {
            None => "unknown",
            Some(user) => user["department"].as_str().unwrap_or("none"),
        };
        let currency = event["call"]["currency"].as_str().unwrap();
        let labels = format!(
            r#"currency="{currency}",department="{department}",source="tenant",tenant="contoso.onmicrosoft.com""#
        );
        *expected.entry(labels).or_default() += micros(charge);
    }
    let text = harness.metrics.encode();
    let found = series(&text, "pstn_call_charge_by_department_total");
    let found: BTreeMap<String, i128> = found.into_iter().filter(|(_, v)| *v > 0).collect();
    expected.retain(|_, v| *v > 0);
    assert_eq!(found, expected);
    assert!(found.keys().any(|k| k.contains("department=\"unknown\"")));
    assert!(text.contains(r#"pstn_call_seconds_by_department_total{department="Sales",kind="pstn_call",source="tenant",tenant="contoso.onmicrosoft.com"}"#));
    assert!(text.contains("pstn_call_charge_by_cost_center_total{cost_center=\"CC-"));
}

#[tokio::test]
async fn department_labels_past_max_label_values_are_other() {
    let harness = Harness::start(options()).await;
    let config = config(&harness, "", "max_label_values = 3", "");
    assert!(harness.once(&config).await.failed.is_empty());
    let text = harness.metrics.encode();
    let departments: std::collections::BTreeSet<String> = text
        .lines()
        .filter(|l| l.starts_with("pstn_call_seconds_by_department_total{"))
        .filter_map(|l| {
            Some(
                l.split("department=\"")
                    .nth(1)?
                    .split('"')
                    .next()?
                    .to_owned(),
            )
        })
        .collect();
    let named: Vec<&String> = departments
        .iter()
        .filter(|d| !["other", "unknown", "none"].contains(&d.as_str()))
        .collect();
    assert_eq!(named.len(), 3, "{departments:?}");
    assert!(departments.contains("other"), "{departments:?}");
}

/// Runs the agent once with metrics of its own, as a restarted process would have.
async fn once_in_a_new_process(harness: &Harness, config: &pstn_agent::config::Config) -> String {
    let metrics = pstn_agent::metrics::Metrics::new().unwrap();
    let (_trigger, shutdown) = pstn_agent::shutdown::shutdown_pair();
    let options = pstn_agent::topology::RunOptions {
        mode: pstn_agent::topology::RunMode::Once,
        clock: harness.clock.clone(),
        retry: common::quick_retries(),
        reopen: pstn_agent::sinks::ReopenSignal::default(),
        metrics: metrics.clone(),
    };
    let report = pstn_agent::topology::run(config, options, shutdown)
        .await
        .unwrap();
    assert!(report.failed.is_empty(), "{:?}", report.failed);
    metrics.encode()
}

#[tokio::test]
async fn this_months_charges_by_department_equal_the_months_rows_and_survive_a_restart() {
    let harness = Harness::start(options()).await;
    let config = config(&harness, "", "", "");
    let first = once_in_a_new_process(&harness, &config).await;
    // This month: the month (UTC) of the clock's now, as the calls' start dates write it.
    let month = pstn_agent::time::Clock::now(&*harness.clock).to_string()[..7].to_owned();
    let mut expected: BTreeMap<String, i128> = BTreeMap::new();
    let mut earlier_months = 0;
    for (_, event) in harness.events() {
        let Some(charge) = event["call"].get("charge").filter(|c| !c.is_null()) else {
            continue;
        };
        if !event["call"]["startDateTime"]
            .as_str()
            .unwrap()
            .starts_with(&month)
        {
            earlier_months += 1;
            continue;
        }
        let department = match event.get("user") {
            None => "unknown",
            Some(user) => user["department"].as_str().unwrap_or("none"),
        };
        let currency = event["call"]["currency"].as_str().unwrap();
        let labels = format!(
            r#"currency="{currency}",department="{department}",source="tenant",tenant="contoso.onmicrosoft.com""#
        );
        *expected.entry(labels).or_default() += micros(charge);
    }
    assert!(!expected.is_empty());
    let found = |text: &str| -> BTreeMap<String, i128> {
        series(text, "pstn_call_charge_by_department_month")
            .into_iter()
            .collect()
    };
    assert_eq!(
        found(&first),
        expected,
        "rows of earlier months: {earlier_months}"
    );
    // A new process with nothing new to deliver: the month is read back from state.
    let again = once_in_a_new_process(&harness, &config).await;
    assert_eq!(found(&again), expected);
    assert!(
        again.contains(
            "pstn_call_by_department_month_seconds{department=\"Sales\",source=\"tenant\",tenant=\"contoso.onmicrosoft.com\"}"
        )
    );
    assert!(again.contains("pstn_call_charge_by_cost_center_month{cost_center=\"CC-"));
}
