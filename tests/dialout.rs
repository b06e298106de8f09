//! The audio-conferencing dial-out report (`pstn_dialout_report`) against the simulated
//! tenant: each row of each day inside `late_window` sent once when it appears, again
//! only when its totals change, the metrics grown by exactly the change, nothing twice
//! across a restart of the real binary, and days outside the window never read.

mod common;

use common::{Harness, NOW, at};
use pstn_agent::model::LogKind;
use pstn_agent::simulate::{Lateness, SimulatorOptions};
use pstn_agent::time::{Clock, Timestamp};
use serde_json::Value;
use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::Ordering;
use std::time::Duration;

const HOUR: Duration = Duration::from_secs(3600);
const DAY: Duration = Duration::from_secs(86_400);
/// At `NOW` (12:00), 30 hours reach back into yesterday: two days are read.
const SOURCE: &str = "late_window = \"30h\"\npoll_interval = \"30m\"";

fn options() -> SimulatorOptions {
    SimulatorOptions {
        calls_per_day: 20_000.0,
        page_size: 5,
        lateness: Lateness::Uniform(2 * HOUR),
        ..SimulatorOptions::default()
    }
}

/// A report row's identity within its day, independently of the agent's own key.
fn identity(row: &Value) -> String {
    ["userId", "usageLocation", "destinationContext", "currency"]
        .iter()
        .map(|field| row[*field].to_string())
        .collect::<Vec<_>>()
        .join("|")
}

/// The simulator's report of each day (`YYYY-MM-DD` → identity → row) as it stands at `now`.
fn reports(
    harness: &Harness,
    days: &[&str],
    now: Timestamp,
) -> BTreeMap<String, BTreeMap<String, Value>> {
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
fn changed(
    before: &BTreeMap<String, BTreeMap<String, Value>>,
    after: &BTreeMap<String, BTreeMap<String, Value>>,
) -> BTreeMap<(String, String), Value> {
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
fn by_row(events: &[(String, Value)]) -> BTreeMap<(String, String), Value> {
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
fn metric(harness: &Harness, name: &str) -> HashMap<String, f64> {
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
type Sums = (f64, f64, HashMap<String, f64>);

/// The sums of the rows' totals.
fn totals<'a>(rows: impl Iterator<Item = &'a Value>) -> Sums {
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

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-6
}

#[tokio::test]
async fn rows_are_sent_when_they_appear_and_when_they_change_and_metrics_grow_by_the_change() {
    let harness = Harness::start(options()).await;
    let config = harness.config(LogKind::PstnDialoutReport, SOURCE);
    let days = ["2024-05-19", "2024-05-20"];

    // First poll: every row of both days, once.
    assert_eq!(harness.once(&config).await.exit_code(), 0);
    let first = reports(&harness, &days, at(NOW));
    let sent = by_row(&harness.events());
    assert!(sent.len() > 10, "only {} rows", sent.len());
    assert_eq!(sent, changed(&BTreeMap::new(), &first));
    let (calls, seconds, charge) = totals(first.values().flat_map(BTreeMap::values));
    assert!(close(
        metric(&harness, "pstn_dialout_calls_total")["all"],
        calls
    ));
    assert!(close(
        metric(&harness, "pstn_dialout_seconds_total")["all"],
        seconds
    ));
    let charged = metric(&harness, "pstn_dialout_charge_total");
    for (currency, sum) in &charge {
        assert!(
            close(charged[currency], *sum),
            "{currency}: {charged:?} vs {charge:?}"
        );
    }

    // Two hours on, today's report grew: only the changed rows go, each once, and the
    // metrics grow by exactly the change.
    harness.clock.advance(2 * HOUR);
    let before = harness.events().len();
    assert_eq!(harness.once(&config).await.exit_code(), 0);
    let second = reports(&harness, &days, harness.clock.now());
    let expected = changed(&first, &second);
    assert!(!expected.is_empty(), "the simulator's report did not grow");
    let sent = by_row(&harness.events()[before..]);
    assert_eq!(sent, expected);
    assert!(
        sent.keys().all(|(day, _)| day == "2024-05-20"),
        "yesterday's rows are settled"
    );
    let grown = |name: &str, of: fn(&Sums) -> f64| {
        let (earlier, later) = (
            totals(first.values().flat_map(BTreeMap::values)),
            totals(second.values().flat_map(BTreeMap::values)),
        );
        (of(&later) - of(&earlier), metric(&harness, name)["all"])
    };
    let (growth, counted) = grown("pstn_dialout_calls_total", |t| t.0);
    assert!(
        growth > 0.0 && close(counted, calls + growth),
        "{counted} vs {calls} + {growth}"
    );
    let (growth, counted) = grown("pstn_dialout_seconds_total", |t| t.1);
    assert!(
        close(counted, seconds + growth),
        "{counted} vs {seconds} + {growth}"
    );
    let (_, _, latest_charge) = totals(second.values().flat_map(BTreeMap::values));
    let charged = metric(&harness, "pstn_dialout_charge_total");
    for (currency, sum) in &latest_charge {
        assert!(
            close(charged[currency], *sum),
            "{currency}: {charged:?} vs {latest_charge:?}"
        );
    }

    // The last event of each row holds the report's current totals.
    let mut last = BTreeMap::new();
    for (_, event) in harness.events() {
        let day = event["day"].as_str().unwrap().to_owned();
        last.insert((day, identity(&event["call"])), event["call"].clone());
    }
    assert_eq!(last, changed(&BTreeMap::new(), &second));

    // Nothing changed: nothing is sent and the metrics stay.
    let (events, counted) = (
        harness.events().len(),
        metric(&harness, "pstn_dialout_calls_total"),
    );
    assert_eq!(harness.once(&config).await.exit_code(), 0);
    assert_eq!(harness.events().len(), events);
    assert_eq!(metric(&harness, "pstn_dialout_calls_total"), counted);
    promtool_check(&harness.metrics.encode());
}

/// `promtool check metrics` finds nothing in `text` (skipped without promtool outside CI).
fn promtool_check(text: &str) {
    use std::io::Write;
    use std::process::{Command, Stdio};
    for name in [
        "pstn_dialout_calls_total{",
        "pstn_dialout_seconds_total{",
        "pstn_dialout_charge_total{",
    ] {
        assert!(text.contains(name), "{name} in {text}");
    }
    let child = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn();
    let mut child = match child {
        Ok(child) => child,
        Err(error) if std::env::var_os("CI").is_none() => {
            common::tools::skipped(&format!("promtool not found ({error})"));
            return;
        }
        Err(error) => panic!("promtool is required in CI: {error}"),
    };
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let output = child.wait_with_output().unwrap();
    let findings = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        output.status.success() && findings.trim().is_empty(),
        "{findings}"
    );
}

#[tokio::test]
async fn a_day_outside_late_window_is_not_read() {
    let harness = Harness::start(options()).await;
    let config = harness.config(LogKind::PstnDialoutReport, SOURCE);
    let outside = reports(&harness, &["2024-05-18"], at(NOW));
    assert!(
        !outside["2024-05-18"].is_empty(),
        "the day before had dial-outs"
    );
    let requests = harness
        .simulator
        .stats
        .graph_requests
        .load(Ordering::SeqCst);
    assert_eq!(harness.once(&config).await.exit_code(), 0);
    let events = harness.events();
    assert!(!events.is_empty());
    assert!(
        events.iter().all(|(_, event)| event["day"] != "2024-05-18"),
        "a day outside late_window was sent"
    );
    // Only today's and yesterday's pages were asked for (5 rows a page here).
    let days: std::collections::BTreeSet<&str> = events
        .iter()
        .map(|(_, event)| event["day"].as_str().unwrap())
        .collect();
    assert_eq!(
        days.into_iter().collect::<Vec<_>>(),
        ["2024-05-19", "2024-05-20"]
    );
    let pages: usize = reports(&harness, &["2024-05-19", "2024-05-20"], at(NOW))
        .values()
        .map(|rows| rows.len().div_ceil(5).max(1))
        .sum();
    let made = harness
        .simulator
        .stats
        .graph_requests
        .load(Ordering::SeqCst)
        - requests;
    assert_eq!(
        made, pages as u64,
        "only the two days' pages were requested"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_process_sends_nothing_twice() {
    let harness = Harness::start(options()).await;
    let path = harness.dir.path().join("agent.toml");
    std::fs::write(
        &path,
        format!(
            "data_dir = \"{}\"\n[sources.dialout]\ntype = \"pstn_dialout_report\"\ntenant_id = \"t\"\nclient_id = \"11111111-1111-1111-1111-111111111111\"\nclient_secret = \"s\"\nauthority_url = \"{url}\"\ngraph_url = \"{url}\"\n{SOURCE}\n[sinks.archive]\ntype = \"file\"\npath = \"{}\"\ninputs = [\"dialout\"]\n",
            harness.dir.path().join("state").display(),
            harness.output().display(),
            url = harness.simulator.url(),
        ),
    )
    .unwrap();
    let first = common::agent_once(&path, |_| {}).await;
    assert!(
        first.status.success(),
        "{}",
        String::from_utf8_lossy(&first.stderr)
    );
    let sent = harness.events().len();
    assert!(sent > 10, "only {sent} rows");
    let second = common::agent_once(&path, |_| {}).await;
    assert!(
        second.status.success(),
        "{}",
        String::from_utf8_lossy(&second.stderr)
    );
    assert_eq!(
        harness.events().len(),
        sent,
        "the second process sent rows again"
    );
}

#[tokio::test]
async fn totals_a_sink_refused_are_not_recorded_and_the_next_poll_sends_them() {
    let harness = Harness::start(options()).await;
    let nobody = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    // The same source with an OTLP sink nothing listens at: every batch is refused.
    let refused = format!(
        "data_dir = \"{}\"\n[sources.tenant]\ntype = \"pstn_dialout_report\"\ntenant_id = \"contoso.onmicrosoft.com\"\nclient_id = \"11111111-1111-1111-1111-111111111111\"\nclient_secret = \"secret\"\nauthority_url = \"{url}\"\ngraph_url = \"{url}\"\n{SOURCE}\n[sinks.siem]\ntype = \"otlp\"\ninputs = [\"tenant\"]\nendpoint = \"http://{nobody}\"\nretry_max_duration = \"1s\"\n",
        harness.dir.path().join("state").display(),
        url = harness.simulator.url(),
    );
    let refused = pstn_agent::config::Config::parse(
        &refused,
        std::path::Path::new("/"),
        &pstn_agent::config::Environment::fixed([]),
    )
    .unwrap();
    assert_eq!(harness.once(&refused).await.exit_code(), 1);
    assert_eq!(metric(&harness, "pstn_dialout_calls_total")["all"], 0.0);
    // Nothing was recorded: the next poll sends every row.
    let config = harness.config(LogKind::PstnDialoutReport, SOURCE);
    assert_eq!(harness.once(&config).await.exit_code(), 0);
    let expected = reports(&harness, &["2024-05-19", "2024-05-20"], at(NOW));
    assert_eq!(
        by_row(&harness.events()),
        changed(&BTreeMap::new(), &expected)
    );
    let (calls, _, _) = totals(expected.values().flat_map(BTreeMap::values));
    assert!(close(
        metric(&harness, "pstn_dialout_calls_total")["all"],
        calls
    ));
}
