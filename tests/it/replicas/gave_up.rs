//! Units a replica holds but cannot read: sources that stop for good (the client
//! secret is wrong there) give their units back, said on `/readyz`, and the other
//! replica reads them, beyond its share, every row once; a source whose state cannot
//! be read keeps its lease, says so on `/readyz`, and starts once it can.

use super::{events, out, units_held};
use crate::common::postgres::Postgres;
use crate::common::{self, Harness, eventually, quick_retries};
use pstn_agent::config::{Config, Environment};
use pstn_agent::metrics::Metrics;
use pstn_agent::model::LogKind;
use pstn_agent::shutdown::{ShutdownTrigger, shutdown_pair};
use pstn_agent::simulate::{Lateness, SimulatorOptions};
use pstn_agent::sinks::ReopenSignal;
use pstn_agent::topology::{RunMode, RunOptions, RunReport, StartError, run};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

const SOURCES: [&str; 2] = ["s0", "s1"];

/// Two sources of one simulated tenant signing in with `secret`, one file sink.
fn config(harness: &Harness, url: &str, replica: &str, dir: &Path, secret: &str) -> Config {
    config_with(harness, url, replica, dir, secret, "")
}

/// [`config`] with `extra` in each source's table.
fn config_with(
    harness: &Harness,
    url: &str,
    replica: &str,
    dir: &Path,
    secret: &str,
    extra: &str,
) -> Config {
    let sim = harness.simulator.url();
    let mut text = format!(
        "data_dir = \"{}\"\n[api]\naddress = \"127.0.0.1:0\"\n[state]\npostgres_url = \"{url}\"\nlease_ttl = \"3s\"\nreplica_name = \"{replica}\"\n",
        dir.join("state").display()
    );
    for name in SOURCES {
        text.push_str(&format!(
            "[sources.{name}]\ntype = \"pstn_calls\"\ntenant_id = \"contoso.onmicrosoft.com\"\n\
             client_id = \"11111111-1111-1111-1111-111111111111\"\nclient_secret = \"{secret}\"\n\
             authority_url = \"{sim}\"\ngraph_url = \"{sim}\"\nrequests_per_minute = 60000\n\
             lookback = \"2d\"\n{extra}\n"
        ));
    }
    text.push_str(&format!(
        "[sinks.archive]\ntype = \"file\"\npath = \"{}\"\ninputs = {SOURCES:?}\n",
        out(dir).display()
    ));
    Config::parse(&text, Path::new("/"), &Environment::fixed([]))
        .unwrap_or_else(|problems| panic!("{problems:?}"))
}

type Agent = (
    PathBuf,
    Arc<Metrics>,
    ShutdownTrigger,
    tokio::task::JoinHandle<Result<RunReport, StartError>>,
);

fn start(harness: &Harness, cluster: &Postgres, name: &str, secret: &str) -> Agent {
    let dir = harness.dir.path().join(name);
    std::fs::create_dir_all(&dir).unwrap();
    let config = config(harness, &cluster.url(), name, &dir, secret);
    spawn(harness, config, dir)
}

fn spawn(harness: &Harness, config: Config, dir: PathBuf) -> Agent {
    let metrics = Metrics::new().unwrap();
    let (trigger, shutdown) = shutdown_pair();
    let options = RunOptions {
        mode: RunMode::Forever,
        clock: harness.clock.clone(),
        retry: quick_retries(),
        reopen: ReopenSignal::default(),
        metrics: metrics.clone(),
    };
    let task = tokio::spawn(async move { run(&config, options, shutdown).await });
    (dir, metrics, trigger, task)
}

/// How many whole lines `file` holds (the sink may be writing the next one).
fn lines_written(file: &Path) -> usize {
    common::complete_lines(&std::fs::read_to_string(file).unwrap_or_default()).count()
}

/// What `/readyz` says of each source, by key.
fn readiness(metrics: &Metrics) -> BTreeMap<String, String> {
    metrics.readiness().problems.into_iter().collect()
}

/// A simulated tenant that checks the client secret, two days of calls.
async fn harness() -> Harness {
    Harness::start(SimulatorOptions {
        calls_per_day: 2000.0,
        page_size: 100,
        lateness: Lateness::None,
        client_secret: Some("secret".into()),
        ..SimulatorOptions::default()
    })
    .await
}

/// Every row of the last two days, per source.
fn expected_rows(harness: &Harness) -> usize {
    let now = common::at(common::NOW);
    let keys = harness.expected_ids(
        LogKind::Pstn,
        now.saturating_sub(Duration::from_secs(2 * 86_400)),
        now,
        now,
    );
    assert!(keys.len() > 100, "{} rows served", keys.len());
    keys.len()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replica_whose_sources_stop_for_good_gives_their_units_to_another() {
    let Some(cluster) = Postgres::start() else {
        return;
    };
    let harness = harness().await;
    // Alone first: it takes both units, each source is refused its sign-in
    // (AADSTS7000215) and gives its unit back.
    let failing = start(&harness, &cluster, "replica-a", "wrong");
    eventually(
        "both sources given up",
        Duration::from_secs(60),
        async || {
            let said = readiness(&failing.1);
            SOURCES.iter().all(|name| {
                said.get(&format!("sources.{name}"))
                    .is_some_and(|problem| problem.contains("stopped on a permanent error"))
            }) && units_held(&failing.1) == 0.0
        },
    )
    .await;
    let working = start(&harness, &cluster, "replica-b", "secret");
    let rows = expected_rows(&harness);
    eventually(
        "every row of both units delivered by the other replica",
        Duration::from_secs(120),
        async || lines_written(&out(&working.0)) >= rows * SOURCES.len(),
    )
    .await;
    assert_eq!(units_held(&working.1), 2.0, "one beyond its share");
    assert_eq!(
        units_held(&failing.1),
        0.0,
        "not taken again in its hold-off"
    );
    assert!(events(&out(&failing.0)).is_empty());
    let mut counts: BTreeMap<(String, String), usize> = BTreeMap::new();
    for event in events(&out(&working.0)) {
        *counts.entry(event).or_default() += 1;
    }
    assert!(counts.values().all(|count| *count == 1), "a row twice");
    for name in SOURCES {
        let delivered = counts.keys().filter(|(source, _)| source == name).count();
        assert_eq!(delivered, rows, "{name}");
    }
    let client = super::processes::client(&cluster).await;
    let holders: Vec<Option<String>> = client
        .query("SELECT holder FROM leases ORDER BY source", &[])
        .await
        .unwrap()
        .iter()
        .map(|row| row.get(0))
        .collect();
    assert_eq!(
        holders,
        [Some("replica-b".into()), Some("replica-b".into())]
    );
    for (_, _, trigger, task) in [failing, working] {
        trigger.trigger();
        task.await.unwrap().unwrap();
    }
}

/// A replica whose sources cannot read their state (a table gone for a while: what a
/// PostgreSQL error at build looks like) keeps their leases, names them on `/readyz`,
/// tries again every `poll_interval`, and reads every row once the state is back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_source_whose_state_cannot_be_read_keeps_its_lease_says_so_and_starts_once_it_can() {
    let Some(cluster) = Postgres::start() else {
        return;
    };
    let harness = harness().await;
    let db = super::processes::client(&cluster).await;
    // The state's tables exist (as a first agent leaves them); then one goes away.
    let config = pstn_agent::state::StateConfig {
        postgres_url: Some(pstn_agent::model::Secret::new(cluster.url())),
        ..Default::default()
    };
    let scratch = tempfile::tempdir().unwrap();
    drop(
        pstn_agent::state::StateStore::open_configured(&config, scratch.path())
            .await
            .unwrap(),
    );
    db.batch_execute("ALTER TABLE sweeps RENAME TO sweeps_away")
        .await
        .unwrap();
    let dir = harness.dir.path().join("replica-a");
    std::fs::create_dir_all(&dir).unwrap();
    let agent_config = config_with(
        &harness,
        &cluster.url(),
        "replica-a",
        &dir,
        "secret",
        "poll_interval = \"2s\"",
    );
    let agent = spawn(&harness, agent_config, dir);
    eventually(
        "both named on /readyz",
        Duration::from_secs(60),
        async || {
            let said = readiness(&agent.1);
            SOURCES.iter().all(|name| {
                said.get(&format!("sources.{name}"))
                    .is_some_and(|problem| problem.contains("its state cannot be read"))
            })
        },
    )
    .await;
    assert_eq!(units_held(&agent.1), 2.0, "the leases are kept");
    db.batch_execute("ALTER TABLE sweeps_away RENAME TO sweeps")
        .await
        .unwrap();
    let rows = expected_rows(&harness);
    eventually(
        "every row delivered once the state is back",
        Duration::from_secs(120),
        async || lines_written(&out(&agent.0)) >= rows * SOURCES.len(),
    )
    .await;
    assert!(
        !readiness(&agent.1)
            .values()
            .any(|problem| problem.contains("its state cannot be read")),
        "{:?}",
        readiness(&agent.1)
    );
    let (_, _, trigger, task) = agent;
    trigger.trigger();
    task.await.unwrap().unwrap();
}

/// A source whose state PostgreSQL refuses for good (recorded as another kind: the
/// build fails the same way at every try) gives its unit up instead of holding it and
/// trying every `poll_interval`; `/readyz` names it; the other source reads on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_source_that_can_never_be_built_here_gives_its_unit_up() {
    let Some(cluster) = Postgres::start() else {
        return;
    };
    let harness = harness().await;
    let config = pstn_agent::state::StateConfig {
        postgres_url: Some(pstn_agent::model::Secret::new(cluster.url())),
        ..Default::default()
    };
    let scratch = tempfile::tempdir().unwrap();
    let store = pstn_agent::state::StateStore::open_configured(&config, scratch.path())
        .await
        .unwrap();
    store
        .source("s0", "direct_routing_calls", "contoso.onmicrosoft.com")
        .await
        .unwrap();
    drop(store);
    let agent = start(&harness, &cluster, "replica-a", "secret");
    eventually("s0 given up", Duration::from_secs(60), async || {
        readiness(&agent.1)
            .get("sources.s0")
            .is_some_and(|problem| problem.contains("stopped on a permanent error"))
    })
    .await;
    let rows = expected_rows(&harness);
    eventually("s1 read", Duration::from_secs(120), async || {
        lines_written(&out(&agent.0)) >= rows
    })
    .await;
    assert_eq!(units_held(&agent.1), 1.0, "s0 given up, s1 held");
    assert!(!readiness(&agent.1).contains_key("sources.s1"));
    assert!(
        events(&out(&agent.0))
            .iter()
            .all(|(source, _)| source == "s1")
    );
    let (_, _, trigger, task) = agent;
    trigger.trigger();
    task.await.unwrap().unwrap();
}
