//! The audio-conferencing dial-out report (`pstn_dialout_report`) against the simulated
//! tenant: each row of each day inside `late_window` sent once when it appears, again
//! only when its totals change, the metrics grown by exactly the change, nothing twice
//! across a restart of the real binary, and days outside the window never read.

use crate::common;
use crate::common::dialout as report;

use common::{Harness, NOW, at};
use pstn_agent::model::LogKind;
use pstn_agent::simulate::{Lateness, SimulatorOptions};
use pstn_agent::time::Clock;
use report::*;
use std::collections::BTreeMap;
use std::time::Duration;

const HOUR: Duration = Duration::from_secs(3600);
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

#[tokio::test]
async fn rows_are_sent_when_they_appear_and_when_they_change_and_metrics_grow_by_the_change() {
    let harness = Harness::start(options()).await;
    let config = harness.config(LogKind::PstnDialoutReport, SOURCE);
    let days = ["2024-05-19", "2024-05-20"];

    // First poll: every row of both days, once; the counters hold the report's totals.
    assert_eq!(harness.once(&config).await.exit_code(), 0);
    let first = reports(&harness, &days, at(NOW));
    let sent = by_row(&harness.events());
    assert!(sent.len() > 10, "only {} rows", sent.len());
    assert_eq!(sent, changed(&Reports::new(), &first));
    assert_counted(&harness, &sums(&first));

    // Two hours on, today's report grew: only the changed rows go, each once, and the
    // counters grew by exactly the change (they now hold the grown totals).
    harness.clock.advance(2 * HOUR);
    let before = harness.events().len();
    assert_eq!(harness.once(&config).await.exit_code(), 0);
    let second = reports(&harness, &days, harness.clock.now());
    let expected = changed(&first, &second);
    assert!(!expected.is_empty(), "the simulator's report did not grow");
    assert!(sums(&second).0 > sums(&first).0);
    let sent = by_row(&harness.events()[before..]);
    assert_eq!(sent, expected);
    assert!(
        sent.keys().all(|(day, _)| day == "2024-05-20"),
        "yesterday's rows are settled"
    );
    assert_counted(&harness, &sums(&second));

    // The last event of each row holds the report's current totals.
    let mut last = BTreeMap::new();
    for (_, event) in harness.events() {
        let day = event["day"].as_str().unwrap().to_owned();
        last.insert((day, identity(&event["call"])), event["call"].clone());
    }
    assert_eq!(last, changed(&Reports::new(), &second));

    // Nothing changed: nothing is sent and the metrics stay.
    let events = harness.events().len();
    assert_eq!(harness.once(&config).await.exit_code(), 0);
    assert_eq!(harness.events().len(), events);
    assert_counted(&harness, &sums(&second));
    promtool_check(&harness.metrics.encode());
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
    let requests = harness.simulator.stats.graph_requests();
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
    let made = harness.simulator.stats.graph_requests() - requests;
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
            "data_dir = \"{}\"\n[sources.dialout]\ntype = \"pstn_dialout_report\"\ntenant_id = \"t\"\nclient_id = \"11111111-1111-1111-1111-111111111111\"\nclient_secret = \"s\"\nauthority_url = \"{url}\"\ngraph_url = \"{url}\"\n{SOURCE}\nrequests_per_minute = 60000\n[sinks.archive]\ntype = \"file\"\npath = \"{}\"\ninputs = [\"dialout\"]\n",
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
        "data_dir = \"{}\"\n[sources.tenant]\ntype = \"pstn_dialout_report\"\ntenant_id = \"contoso.onmicrosoft.com\"\nclient_id = \"11111111-1111-1111-1111-111111111111\"\nclient_secret = \"secret\"\nauthority_url = \"{url}\"\ngraph_url = \"{url}\"\n{SOURCE}\nrequests_per_minute = 60000\n[sinks.siem]\ntype = \"otlp\"\ninputs = [\"tenant\"]\nendpoint = \"http://{nobody}\"\nretry_max_duration = \"1s\"\n",
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
