//! A state file written by an earlier release is carried over: nothing delivered
//! twice, nothing skipped.
//!
//! `fixtures/state-schema-2.sqlite3` was written by the release before schema 3
//! (`pstn-agent --once` with the config below against `pstn-agent simulate --seed 7
//! --calls-per-day 500 --lateness none`, both on a clock frozen at 2024-05-20T12:00Z).
//! It holds the ids of the 1,120 calls of those two days, in schema 2's layout.

use crate::common;

use common::{Harness, NOW, at};
use pstn_agent::config::{Config, Environment};
use pstn_agent::simulate::{Lateness, SimulatorOptions};
use std::collections::BTreeSet;
use std::path::Path;
use std::time::Duration;

const FIXTURE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/state-schema-2.sqlite3"
);
const FIXTURE_ROWS: usize = 1120;

fn config(harness: &Harness, data_dir: &Path, lookback: &str) -> Config {
    let url = harness.simulator.url();
    let source = |name: &str, kind: &str| {
        format!(
            "[sources.{name}]\ntype = \"{kind}\"\ntenant_id = \"contoso.onmicrosoft.com\"\nclient_id = \"11111111-1111-1111-1111-111111111111\"\nclient_secret = \"secret\"\nauthority_url = \"{url}\"\ngraph_url = \"{url}\"\nlookback = \"{lookback}\"\nrequests_per_second = 1000\n"
        )
    };
    let text = format!(
        "data_dir = \"{}\"\n{}{}[sinks.archive]\ntype = \"file\"\npath = \"{}\"\ninputs = [\"pstn\", \"dr\"]\n",
        data_dir.display(),
        source("pstn", "pstn_calls"),
        source("dr", "direct_routing_calls"),
        harness.output().display(),
    );
    Config::parse(&text, Path::new("/"), &Environment::fixed([])).unwrap()
}

/// The delivered keys of a state database, as (call start ticks, key bytes).
fn delivered_keys(data_dir: &Path) -> BTreeSet<(i64, Vec<u8>)> {
    let connection = rusqlite::Connection::open(data_dir.join("state.sqlite3")).unwrap();
    let mut statement = connection
        .prepare("SELECT call_start, row_key FROM delivered")
        .unwrap();
    statement
        .query_map([], |row| Ok((row.get(0)?, row.get(1)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

fn options() -> SimulatorOptions {
    SimulatorOptions {
        seed: 7,
        calls_per_day: 500.0,
        lateness: Lateness::None,
        ..SimulatorOptions::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_schema_2_file_is_migrated_without_repeating_or_skipping_a_row() {
    assert_eq!(
        NOW, "2024-05-20T12:00:00Z",
        "the fixture was written at this instant"
    );
    // The migrated agent: the fixture's state, then polls at the fixture's instant and
    // an hour later.
    let migrated = Harness::start(options()).await;
    let migrated_dir = migrated.dir.path().join("migrated");
    std::fs::create_dir_all(&migrated_dir).unwrap();
    std::fs::copy(FIXTURE, migrated_dir.join("state.sqlite3")).unwrap();
    let migrated_config = config(&migrated, &migrated_dir, "2d");
    // A control agent that never stopped: the same two days read at the same instant
    // by this release, then the same poll an hour later.
    let control = Harness::start(options()).await;
    let control_dir = control.dir.path().join("control");
    let control_config = config(&control, &control_dir, "2d");

    let report = migrated.once(&migrated_config).await;
    assert_eq!(report.exit_code(), 0, "{report:?}");
    assert_eq!(migrated.events().len(), 0, "a row was delivered twice");
    assert_eq!(delivered_keys(&migrated_dir).len(), FIXTURE_ROWS);
    control.once(&control_config).await;
    assert_eq!(control.events().len(), FIXTURE_ROWS);

    migrated.clock.advance(Duration::from_secs(3600));
    control.clock.advance(Duration::from_secs(3600));
    let report = migrated.once(&migrated_config).await;
    assert_eq!(report.exit_code(), 0, "{report:?}");
    control.once(&control_config).await;
    let new_rows = migrated.events().len();
    assert!(new_rows > 0, "the hour after the fixture brought no calls");
    assert_eq!(new_rows, control.events().len() - FIXTURE_ROWS);
    assert!(
        migrated.events().iter().all(
            |(_, event)| at(event["timestamp"].as_str().unwrap()) >= at("2024-05-20T09:00:00Z")
        ),
        "an old row came again"
    );
    // Nothing skipped, nothing extra: the migrated state is the never-stopped one.
    assert_eq!(delivered_keys(&migrated_dir), delivered_keys(&control_dir));
}
