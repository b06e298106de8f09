//! How late rows are, measured once per new row; and a delay bound users choose
//! (`max_delay`) that holds, and carries progress over when it changes.

use crate::common;

use common::{Harness, NOW, at};
use pstn_agent::model::{ApiVersion, LogKind};
use pstn_agent::simulate::{Lateness, SimulatorOptions};
use pstn_agent::time::{Clock, Timestamp};
use std::collections::{HashMap, HashSet};
use std::time::Duration;

const MINUTE: Duration = Duration::from_secs(60);
const HOUR: Duration = Duration::from_secs(3600);

fn options(lateness: Lateness) -> SimulatorOptions {
    SimulatorOptions {
        calls_per_day: 3000.0,
        page_size: 200,
        lateness,
        ..SimulatorOptions::default()
    }
}

/// Sum of every sample of `name` whose label text contains each of `labels`.
fn sample(text: &str, name: &str, labels: &[&str]) -> f64 {
    text.lines()
        .filter(|line| !line.starts_with('#'))
        .filter_map(|line| {
            let (series, value) = line.rsplit_once(' ')?;
            let (metric, label_text) = series.split_once('{').unwrap_or((series, "}"));
            (metric == name && labels.iter().all(|label| label_text.contains(label)))
                .then(|| value.parse::<f64>().ok())?
        })
        .sum()
}

/// Each delivered event's (call id, start, observed).
fn observations(harness: &Harness) -> Vec<(String, Timestamp, Timestamp)> {
    harness
        .events()
        .into_iter()
        .map(|(id, event)| {
            let time = |key: &str| Timestamp::parse(event[key].as_str().unwrap()).unwrap();
            (id, time("timestamp"), time("observed_timestamp"))
        })
        .collect()
}

/// When each call the simulator holds with a start in [from, to) became visible, by id.
fn visible_at(
    harness: &Harness,
    kind: LogKind,
    from: Timestamp,
    to: Timestamp,
) -> HashMap<String, Timestamp> {
    let generator = &harness.simulator.generator;
    generator
        .visible_calls(kind, from, to, false, Timestamp::from_ticks(i64::MAX))
        .map(|call| {
            let mut row = String::new();
            generator.write_row(kind, ApiVersion::V1, &call, &mut row);
            let value: serde_json::Value = serde_json::from_str(&row).unwrap();
            (value["id"].as_str().unwrap().to_owned(), call.visible)
        })
        .collect()
}

async fn poll_for(harness: &Harness, config: &pstn_agent::config::Config, span: Duration) {
    let poll = 5 * MINUTE;
    for _ in 0..(span.as_secs() / poll.as_secs()) {
        let report = harness.once(config).await;
        assert_eq!(report.exit_code(), 0, "{:?}", report.failed);
        harness.clock.advance(poll);
    }
}

#[tokio::test]
async fn the_lateness_histogram_counts_each_new_row_once_with_its_first_read_minus_its_start() {
    let harness = Harness::start(options(Lateness::Uniform(3 * HOUR))).await;
    let config = harness.config(
        LogKind::Pstn,
        "lookback = \"1h\"\npoll_interval = \"5m\"\nlate_window = \"6h\"",
    );
    poll_for(&harness, &config, 12 * HOUR).await;
    let text = harness.metrics.encode();
    let labels = ["source=\"tenant\"", "kind=\"pstn_call\""];
    assert!(
        sample(&text, "pstn_rows_duplicate_total", &[]) > 0.0,
        "the sweeps re-read rows, so there were duplicates not to count"
    );
    let seen = observations(&harness);
    let unique: HashSet<&String> = seen.iter().map(|(id, _, _)| id).collect();
    assert_eq!(unique.len(), seen.len(), "each row delivered once");
    assert!(seen.len() > 500, "{} rows", seen.len());
    assert_eq!(
        sample(&text, "pstn_row_lateness_seconds_count", &labels),
        seen.len() as f64
    );
    let lateness: Vec<f64> = seen
        .iter()
        .map(|(_, start, observed)| observed.duration_since(*start).as_secs_f64())
        .collect();
    let sum = sample(&text, "pstn_row_lateness_seconds_sum", &labels);
    let expected: f64 = lateness.iter().sum();
    assert!(
        (sum - expected).abs() < 1e-6 * expected,
        "{sum} against {expected}"
    );
    for le in ["3600", "14400", "28800"] {
        let bound: f64 = le.parse().unwrap();
        let bucket = sample(
            &text,
            "pstn_row_lateness_seconds_bucket",
            &[labels[0], labels[1], &format!("le=\"{le}\"")],
        );
        assert_eq!(
            bucket,
            lateness.iter().filter(|seconds| **seconds <= bound).count() as f64,
            "le={le}"
        );
    }
}

#[tokio::test]
async fn changing_max_delay_between_runs_carries_progress_over_without_skipping_or_repeating_a_row()
{
    let harness = Harness::start(options(Lateness::Uniform(3 * HOUR))).await;
    let kind = LogKind::DirectRouting;
    let common = "lookback = \"1h\"\npoll_interval = \"5m\"\nlate_window = \"8h\"";
    let default = harness.config(kind, common);
    let bounded = harness.config(kind, &format!("{common}\nmax_delay = \"1h\""));
    let start = at(NOW);
    poll_for(&harness, &default, 8 * HOUR).await;
    let switched = harness.clock.now();
    poll_for(&harness, &bounded, 8 * HOUR).await;
    let switched_back = harness.clock.now();
    poll_for(&harness, &default, 8 * HOUR).await;
    let end = harness.clock.now();

    // Calls last up to 4 h and show up at most 3 h after they end: every call that
    // started by end - 8 h is visible, within the late window, by the end.
    let expected: HashSet<String> = harness
        .expected_ids(
            kind,
            start.saturating_sub(HOUR),
            end.saturating_sub(8 * HOUR),
            end,
        )
        .into_iter()
        .collect();
    let counts = harness.delivery_counts();
    let missing = expected
        .iter()
        .filter(|id| !counts.contains_key(*id))
        .count();
    assert_eq!(
        missing,
        0,
        "{missing} of {} rows never arrived",
        expected.len()
    );
    assert!(
        counts.values().all(|n| *n == 1),
        "a row was delivered twice"
    );

    // While max_delay was 1 h, rows that became visible then waited at most 1 h and a poll.
    let visible = visible_at(&harness, kind, start.saturating_sub(HOUR), end);
    let bound = HOUR + 5 * MINUTE;
    let mut judged = 0;
    for (id, _, observed) in observations(&harness) {
        let shown = visible[&id];
        if shown >= switched && shown.saturating_add(bound) < switched_back {
            judged += 1;
            let waited = observed.duration_since(shown);
            assert!(
                waited <= bound,
                "{id} waited {waited:?} after it became visible"
            );
        }
    }
    assert!(judged > 300, "{judged} rows judged");
}
