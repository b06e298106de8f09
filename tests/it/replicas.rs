//! Replicas sharing sources through PostgreSQL (issue 27, the leases wired into the
//! run): agents with the same configuration and `[state] postgres_url` each read only
//! the units whose lease they hold, and together deliver every row once.

mod frozen;
mod gave_up;
mod processes;
mod replica;
mod restart;

use crate::common;

use common::postgres::Postgres;
use common::{Harness, eventually, quick_retries};
use pstn_agent::config::{Config, Environment};
use pstn_agent::metrics::Metrics;
use pstn_agent::model::LogKind;
use pstn_agent::shutdown::shutdown_pair;
use pstn_agent::simulate::SimulatorOptions;
use pstn_agent::sinks::ReopenSignal;
use pstn_agent::topology::{RunMode, RunOptions, RunReport, StartError, run};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

const SOURCES: [&str; 4] = ["s0", "s1", "s2", "s3"];

/// Four sources of one simulated tenant (four units), one file sink, state in `url`.
fn replica_config(
    harness: &Harness,
    url: &str,
    replica: &str,
    dir: &Path,
    lookback: &str,
) -> Config {
    let sim = harness.simulator.url();
    let mut text = format!(
        "data_dir = \"{}\"\n[api]\naddress = \"127.0.0.1:0\"\n[state]\npostgres_url = \"{url}\"\nlease_ttl = \"3s\"\nreplica_name = \"{replica}\"\n",
        dir.join("state").display()
    );
    for name in SOURCES {
        text.push_str(&format!(
            "[sources.{name}]\ntype = \"pstn_calls\"\ntenant_id = \"contoso.onmicrosoft.com\"\n\
             client_id = \"11111111-1111-1111-1111-111111111111\"\nclient_secret = \"secret\"\n\
             authority_url = \"{sim}\"\ngraph_url = \"{sim}\"\nrequests_per_minute = 60000\n\
             lookback = \"{lookback}\"\n"
        ));
    }
    text.push_str(&format!(
        "[sinks.archive]\ntype = \"file\"\npath = \"{}\"\ninputs = {:?}\n",
        out(dir).display(),
        SOURCES
    ));
    Config::parse(&text, Path::new("/"), &Environment::fixed([]))
        .unwrap_or_else(|problems| panic!("{problems:?}"))
}

fn out(dir: &Path) -> PathBuf {
    dir.join("calls.jsonl")
}

/// Every event in `file` as (source, row key).
fn events(file: &Path) -> Vec<(String, String)> {
    let text = std::fs::read_to_string(file).unwrap_or_default();
    common::complete_lines(&text)
        .map(|line| {
            let event: serde_json::Value = serde_json::from_str(line).unwrap();
            let source = event["source"].as_str().unwrap().to_owned();
            (source, common::row_key(&event["call"]))
        })
        .collect()
}

fn units_held(metrics: &Metrics) -> f64 {
    metrics
        .encode()
        .lines()
        .find_map(|line| line.strip_prefix("pstn_lease_units_held ")?.parse().ok())
        .unwrap_or(0.0)
}

/// One agent (in-process, until its trigger) named `name`: its directory, metrics,
/// shutdown trigger and task.
fn start_agent(
    harness: &Harness,
    cluster: &Postgres,
    name: &str,
    lookback: &str,
) -> (
    PathBuf,
    Arc<Metrics>,
    pstn_agent::shutdown::ShutdownTrigger,
    tokio::task::JoinHandle<Result<RunReport, StartError>>,
) {
    let dir = harness.dir.path().join(name);
    std::fs::create_dir_all(&dir).unwrap();
    let config = replica_config(harness, &cluster.url(), name, &dir, lookback);
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replicas_split_the_units_and_deliver_every_row_once() {
    let Some(cluster) = Postgres::start() else {
        return;
    };
    let harness = Harness::start(SimulatorOptions {
        calls_per_day: 5000.0,
        page_size: 100,
        ..SimulatorOptions::default()
    })
    .await;
    let mut replicas = Vec::new();
    for name in ["replica-a", "replica-b"] {
        let (dir, metrics, trigger, task) = start_agent(&harness, &cluster, name, "1m");
        // replica-a alone first takes every unit: replica-b's arrival must move two.
        if name == "replica-a" {
            eventually("replica-a holding", Duration::from_secs(30), async || {
                task.is_finished() || units_held(&metrics) > 0.0
            })
            .await;
        }
        replicas.push((dir, metrics, trigger, task));
    }

    // Both replicas live: two units each, before the hours of calls become visible.
    let metrics: Vec<Arc<Metrics>> = replicas.iter().map(|(_, m, _, _)| m.clone()).collect();
    eventually(
        "two units held by each replica",
        Duration::from_secs(30),
        async || metrics.iter().all(|metrics| units_held(metrics) == 2.0),
    )
    .await;
    harness.clock.advance(Duration::from_secs(2 * 3600));
    // What one agent alone (SQLite) reads of the same span, for one source.
    let reference_config = harness.config(LogKind::Pstn, "lookback = \"121m\"");
    let reference = harness.once(&reference_config).await;
    assert_eq!(reference.exit_code(), 0, "{:?}", reference.failed);
    let expected: BTreeSet<String> = harness.events().into_iter().map(|(key, _)| key).collect();
    assert!(expected.len() > 100, "{} rows served", expected.len());
    let files: Vec<PathBuf> = replicas.iter().map(|(dir, _, _, _)| out(dir)).collect();
    eventually(
        "every source's rows delivered",
        Duration::from_secs(60),
        async || {
            let union: BTreeSet<(String, String)> = files.iter().flat_map(|f| events(f)).collect();
            union.len() >= expected.len() * SOURCES.len()
        },
    )
    .await;
    for (_, _, trigger, task) in replicas {
        trigger.trigger();
        let report = task.await.unwrap().unwrap();
        assert_eq!(report.exit_code(), 0, "{:?}", report.failed);
    }
    let (counts, readers) = tally(&files);
    let repeated: Vec<_> = counts.iter().filter(|(_, count)| **count > 1).collect();
    assert!(repeated.is_empty(), "delivered twice: {repeated:?}");
    for source in SOURCES {
        let delivered: BTreeSet<String> = counts
            .keys()
            .filter(|(name, _)| name == source)
            .map(|(_, key)| key.clone())
            .collect();
        assert_eq!(
            delivered, expected,
            "{source}: every row the simulator served"
        );
        assert_eq!(
            readers[source].len(),
            1,
            "{source} read by exactly one replica"
        );
    }
    let per_replica: Vec<usize> = (0..files.len())
        .map(|replica| readers.values().filter(|r| r.contains(&replica)).count())
        .collect();
    assert_eq!(per_replica, [2, 2], "the units shared evenly");
}

/// How many times each (source, key) was written across the replicas' files, and
/// which replicas (by index) wrote each source's rows.
#[allow(clippy::type_complexity)]
fn tally(
    files: &[PathBuf],
) -> (
    BTreeMap<(String, String), usize>,
    BTreeMap<String, BTreeSet<usize>>,
) {
    let mut counts: BTreeMap<(String, String), usize> = BTreeMap::new();
    let mut readers: BTreeMap<String, BTreeSet<usize>> = BTreeMap::new();
    for (replica, file) in files.iter().enumerate() {
        for (source, key) in events(file) {
            readers.entry(source.clone()).or_default().insert(replica);
            *counts.entry((source, key)).or_default() += 1;
        }
    }
    (counts, readers)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lease_taken_away_under_a_running_replica_stops_its_commits_and_it_reads_on_once_it_holds_again()
 {
    let Some(cluster) = Postgres::start() else {
        return;
    };
    let harness = processes::harness().await;
    let (dir, metrics, trigger, task) = start_agent(&harness, &cluster, "replica-a", "2d");
    let now = common::at(common::NOW);
    let keys = harness.expected_ids(
        LogKind::Pstn,
        now.saturating_sub(Duration::from_secs(2 * 86_400)),
        now,
        now,
    );
    let expected = keys.len() * SOURCES.len();
    eventually("rows delivered", Duration::from_secs(60), async || {
        events(&out(&dir)).len() >= expected / 4
    })
    .await;
    // Another "replica" takes every lease mid-read, and never renews it.
    let client = processes::client(&cluster).await;
    let stolen = client
        .execute(
            "UPDATE leases SET holder = 'thief', generation = generation + 1, \
             expires_at = now() + interval '3 seconds'",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(stolen, SOURCES.len() as u64);
    eventually(
        "every row delivered after the thief's leases ran out",
        Duration::from_secs(120),
        async || {
            events(&out(&dir))
                .into_iter()
                .collect::<BTreeSet<_>>()
                .len()
                >= expected
        },
    )
    .await;
    assert!(
        !task.is_finished(),
        "a refused commit does not stop the agent"
    );
    trigger.trigger();
    let report = task.await.unwrap().unwrap();
    assert_eq!(report.exit_code(), 0, "{:?}", report.failed);
    let delivered = events(&out(&dir));
    let unique: BTreeSet<&(String, String)> = delivered.iter().collect();
    assert_eq!(unique.len(), expected, "every row of every source");
    let repeated = delivered.len() - unique.len();
    eprintln!(
        "lease taken away mid-read: {repeated} rows repeated (bound {})",
        SOURCES.len() * processes::PAGE_SIZE
    );
    assert!(repeated <= SOURCES.len() * processes::PAGE_SIZE);
    let takeovers = metrics
        .encode()
        .lines()
        .find_map(|line| {
            line.strip_prefix("pstn_lease_takeovers_total ")?
                .parse::<f64>()
                .ok()
        })
        .unwrap_or(0.0);
    assert!(
        takeovers >= SOURCES.len() as f64,
        "took its units back from the thief: {takeovers}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn once_with_postgres_takes_each_lease_reads_once_and_gives_every_lease_back() {
    let Some(cluster) = Postgres::start() else {
        return;
    };
    let harness = Harness::start(SimulatorOptions::default()).await;
    let dir = harness.dir.path().join("once");
    std::fs::create_dir_all(&dir).unwrap();
    let config = replica_config(&harness, &cluster.url(), "once", &dir, "1d");
    let (_trigger, shutdown) = shutdown_pair();
    let options = RunOptions {
        mode: RunMode::Once,
        clock: harness.clock.clone(),
        retry: quick_retries(),
        reopen: ReopenSignal::default(),
        metrics: Metrics::new().unwrap(),
    };
    let report = run(&config, options, shutdown).await.unwrap();
    assert_eq!(report.exit_code(), 0, "{:?}", report.failed);
    let delivered = events(&out(&dir));
    let sources: BTreeSet<&str> = delivered.iter().map(|(s, _)| s.as_str()).collect();
    assert_eq!(sources, SOURCES.into_iter().collect(), "every unit read");
    let client = processes::client(&cluster).await;
    let held = processes::holders(&client).await;
    assert_eq!(held.len(), SOURCES.len());
    assert!(
        held.values().all(|(holder, _)| holder.is_none()),
        "every lease given back: {held:?}"
    );
}
