//! Helpers of tests/it/dialout.rs: the simulator's dial-out report as the agent should
//! have sent it, the events as sent, and the `pstn_dialout_*` series as counted.

use crate::common::{Harness, at};
use pstn_agent::time::Timestamp;
use serde_json::Value;
use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

const DAY: Duration = Duration::from_secs(86_400);

/// Reports by day (`YYYY-MM-DD`), each by row identity.
pub type Reports = BTreeMap<String, BTreeMap<String, Value>>;

/// A report row's identity within its day, independently of the agent's own key.
pub fn identity(row: &Value) -> String {
    ["userId", "usageLocation", "destinationContext", "currency"]
        .iter()
        .map(|field| row[*field].to_string())
        .collect::<Vec<_>>()
        .join("|")
}

/// The simulator's report of each day (`YYYY-MM-DD` → identity → row) as it stands at `now`.
pub fn reports(harness: &Harness, days: &[&str], now: Timestamp) -> Reports {
    days.iter()
        .map(|day| {
            let from = at(&format!("{day}T00:00:00Z"));
            let rows = harness
                .simulator
                .generator
                .dialout_report(from, from.saturating_add(DAY), false, now)
                .iter()
                .map(|row| {
                    let row: Value = serde_json::from_str(row).unwrap();
                    (identity(&row), row)
                })
                .collect();
            ((*day).to_owned(), rows)
        })
        .collect()
}

/// Rows of `after` that are new or whose totals differ from `before`, as (day, identity).
pub fn changed(before: &Reports, after: &Reports) -> BTreeMap<(String, String), Value> {
    let mut changed = BTreeMap::new();
    for (day, rows) in after {
        for (identity, row) in rows {
            if before.get(day).and_then(|rows| rows.get(identity)) != Some(row) {
                changed.insert((day.clone(), identity.clone()), row.clone());
            }
        }
    }
    changed
}

/// Events as (day, identity) → the row, asserting the envelope and that none repeats.
pub fn by_row(events: &[(String, Value)]) -> BTreeMap<(String, String), Value> {
    let mut rows = BTreeMap::new();
    for (_, event) in events {
        assert_eq!(event["kind"], "pstn_dialout_report");
        let day = event["day"].as_str().unwrap().to_owned();
        assert_eq!(event["timestamp"], format!("{day}T00:00:00.0000000Z"));
        let previous = rows.insert((day, identity(&event["call"])), event["call"].clone());
        assert!(
            previous.is_none(),
            "a row was sent twice in one poll: {event}"
        );
    }
    rows
}

/// The sum of a metric's series, by one label's value (all series when `label` is empty).
pub fn metric(harness: &Harness, name: &str) -> HashMap<String, f64> {
    let mut sums = HashMap::new();
    for line in harness.metrics.encode().lines() {
        let Some(rest) = line
            .strip_prefix(name)
            .and_then(|rest| rest.strip_prefix('{'))
        else {
            continue;
        };
        let (labels, value) = rest.rsplit_once(' ').unwrap();
        let currency = labels
            .split(',')
            .find_map(|pair| pair.strip_prefix("currency="))
            .unwrap_or("\"all\"")
            .trim_matches(|c| c == '"' || c == '}')
            .to_owned();
        *sums.entry(currency).or_insert(0.0) += value.parse::<f64>().unwrap();
    }
    sums
}

/// Calls, seconds, and charge by currency.
pub type Sums = (f64, f64, HashMap<String, f64>);

/// The sums of the rows' totals.
pub fn totals<'a>(rows: impl Iterator<Item = &'a Value>) -> Sums {
    let (mut calls, mut seconds, mut charge) = (0.0, 0.0, HashMap::new());
    for row in rows {
        calls += row["totalCalls"].as_f64().unwrap();
        seconds += row["totalCallSeconds"].as_f64().unwrap();
        *charge
            .entry(row["currency"].as_str().unwrap().to_owned())
            .or_insert(0.0) += row["totalCallCharge"].as_f64().unwrap();
    }
    (calls, seconds, charge)
}

pub fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-6
}

/// The dial-out series are in `text`, and `promtool check metrics` finds nothing there.
pub fn promtool_check(text: &str) {
    for name in [
        "pstn_dialout_calls_total{",
        "pstn_dialout_seconds_total{",
        "pstn_dialout_charge_total{",
    ] {
        assert!(text.contains(name), "{name} in {text}");
    }
    crate::common::tools::promtool_check_metrics(text);
}

/// The `pstn_dialout_*` counters equal these sums (calls, seconds, charge by currency).
pub fn assert_counted(harness: &Harness, (calls, seconds, charge): &Sums) {
    let counted = metric(harness, "pstn_dialout_calls_total")["all"];
    assert!(
        close(counted, *calls),
        "calls: {counted} counted, {calls} in the report"
    );
    let counted = metric(harness, "pstn_dialout_seconds_total")["all"];
    assert!(
        close(counted, *seconds),
        "seconds: {counted} counted, {seconds} in the report"
    );
    let charged = metric(harness, "pstn_dialout_charge_total");
    for (currency, sum) in charge {
        assert!(
            close(charged[currency], *sum),
            "{currency}: {charged:?} vs {charge:?}"
        );
    }
}

/// The sums of every row of `reports`.
pub fn sums(reports: &Reports) -> Sums {
    totals(reports.values().flat_map(BTreeMap::values))
}
