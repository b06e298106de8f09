//! Three real `pstn-agent` processes sharing six units through a throw-away PostgreSQL
//! (`lease_ttl = 3s`, `poll_interval = 2s`): killed with SIGKILL one after another, or
//! frozen with SIGSTOP past their leases, they lose no row, repeat at most the batch in
//! flight per move of a lease, and a victim's units are taken over within
//! `lease_ttl + poll_interval` (measured and printed).

use crate::common;

use common::postgres::Postgres;
use common::{Harness, NOW};
use pstn_agent::model::LogKind;
use pstn_agent::simulate::{Lateness, SimulatorOptions};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::Path;
use std::time::{Duration, Instant};

pub(super) const PAGE_SIZE: usize = 50;

pub(super) use super::replica::{
    LEASE_TTL, LOOKBACK_DAYS, POLL_INTERVAL, Replica, UNITS, replicas,
};

/// The simulated tenant, its pages slowed so that signals land mid-backfill.
pub(super) async fn harness() -> Harness {
    let harness = Harness::start(SimulatorOptions {
        calls_per_day: 3000.0,
        page_size: PAGE_SIZE,
        lateness: Lateness::None,
        ..SimulatorOptions::default()
    })
    .await;
    harness
        .simulator
        .faults
        .slow_down(Duration::from_millis(120));
    harness
}

pub(super) async fn client(cluster: &Postgres) -> tokio_postgres::Client {
    let (client, connection) = tokio_postgres::connect(&cluster.url(), tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(connection);
    client
}

/// The live holder and generation of each unit (a lease run out counts as none).
pub(super) async fn holders(
    client: &tokio_postgres::Client,
) -> BTreeMap<String, (Option<String>, i64)> {
    let rows = client
        .query(
            "SELECT source, CASE WHEN expires_at > now() THEN holder END, generation FROM leases",
            &[],
        )
        .await
        .unwrap_or_default();
    rows.iter()
        .map(|row| (row.get(0), (row.get(1), row.get(2))))
        .collect()
}

/// Waits until every unit is held by one of `live`; returns the holders.
pub(super) async fn all_held(
    client: &tokio_postgres::Client,
    live: &[&str],
    limit: Duration,
) -> BTreeMap<String, (Option<String>, i64)> {
    let mut last = BTreeMap::new();
    common::eventually("every unit held by a live replica", limit, async || {
        last = holders(client).await;
        last.len() == UNITS.len()
            && last
                .values()
                .all(|(holder, _)| holder.as_deref().is_some_and(|h| live.contains(&h)))
    })
    .await;
    last
}

/// Every (unit, row key) the simulator serves over the lookback.
pub(super) fn expected(harness: &Harness) -> BTreeSet<(String, String)> {
    let now = common::at(NOW);
    let keys = harness.expected_ids(
        LogKind::Pstn,
        now.saturating_sub(Duration::from_secs(LOOKBACK_DAYS * 86_400)),
        now,
        now,
    );
    UNITS
        .iter()
        .flat_map(|unit| keys.iter().map(|key| ((*unit).to_owned(), key.clone())))
        .collect()
}

/// (unit, row key) per line of `file`, and the torn lines (a kill mid-write).
pub(super) fn lines(file: &Path) -> (Vec<(String, String)>, usize) {
    let text = std::fs::read_to_string(file).unwrap_or_default();
    let (mut rows, mut torn) = (Vec::new(), 0);
    for line in text.lines() {
        match serde_json::from_str::<serde_json::Value>(line) {
            Ok(event) => rows.push((
                event["source"].as_str().unwrap_or_default().to_owned(),
                common::row_key(&event["call"]),
            )),
            Err(_) => torn += 1,
        }
    }
    (rows, torn)
}

/// How many times each (unit, row) was delivered, over every replica's file.
pub(super) fn counts(replicas: &[Replica]) -> (HashMap<(String, String), usize>, usize) {
    let (mut counts, mut torn) = (HashMap::new(), 0);
    for replica in replicas {
        let (rows, torn_here) = lines(&replica.output());
        torn += torn_here;
        for row in rows {
            *counts.entry(row).or_insert(0) += 1;
        }
    }
    (counts, torn)
}

pub(super) async fn all_delivered(replicas: &[Replica], expected: &BTreeSet<(String, String)>) {
    common::eventually(
        "every row of every unit delivered",
        Duration::from_secs(180),
        async || {
            let (counts, _) = counts(replicas);
            expected.iter().all(|row| counts.contains_key(row))
        },
    )
    .await;
}

/// A pseudo-random pick (the clock's nanoseconds): which replica dies next.
fn pick(among: usize) -> usize {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|since| since.subsec_nanos())
        .unwrap_or(0);
    nanos as usize % among
}

/// SIGKILLs a random replica holding units (all units held first); returns its name,
/// its units and how long until the others held every one of them (new generations).
async fn kill_one(
    client: &tokio_postgres::Client,
    replicas: &mut [Replica],
) -> (String, Vec<String>, Duration) {
    let names: Vec<String> = replicas.iter().map(|r| r.name.clone()).collect();
    let all: Vec<&str> = names.iter().map(String::as_str).collect();
    let before = all_held(client, &all, Duration::from_secs(30)).await;
    let holding: Vec<usize> = (0..replicas.len())
        .filter(|r| {
            before
                .values()
                .any(|(h, _)| h.as_deref() == Some(&names[*r]))
        })
        .collect();
    let victim = holding[pick(holding.len())];
    let victim_units: Vec<String> = before
        .iter()
        .filter(|(_, (h, _))| h.as_deref() == Some(&names[victim]))
        .map(|(unit, _)| unit.clone())
        .collect();
    replicas[victim].kill9();
    let killed = Instant::now();
    let others: Vec<&str> = all
        .iter()
        .copied()
        .filter(|n| *n != names[victim])
        .collect();
    let after = all_held(client, &others, Duration::from_secs(30)).await;
    let took = killed.elapsed();
    for unit in &victim_units {
        assert!(after[unit].1 > before[unit].1, "{unit}: a new generation");
    }
    (names[victim].clone(), victim_units, took)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_replicas_killed_one_at_a_time_lose_nothing_and_take_over_within_ttl_and_a_poll() {
    let Some(cluster) = Postgres::start() else {
        return;
    };
    let harness = harness().await;
    let expected = expected(&harness);
    assert!(expected.len() > 6 * 3000, "{} rows", expected.len());
    let client = client(&cluster).await;
    let mut replicas = replicas(&harness, &cluster);
    let kills: usize = std::env::var("PSTN_AGENT_KILLS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(3);
    let bound = LEASE_TTL + POLL_INTERVAL;
    let mut takeovers = Vec::new();
    let mut moved_units = 0;
    for kill in 1..=kills {
        // Each kill lands mid-backfill: after kill/(kills+2) of the rows are written.
        let threshold = expected.len() * kill / (kills + 2);
        common::eventually(
            "the replicas writing rows",
            Duration::from_secs(120),
            async || counts(&replicas).0.len() >= threshold,
        )
        .await;
        let (victim, victim_units, took) = kill_one(&client, &mut replicas).await;
        moved_units += victim_units.len();
        eprintln!(
            "kill {kill}: {victim} held {victim_units:?}; taken over by the others in {took:?} (bound {bound:?})"
        );
        takeovers.push(took);
        replicas
            .iter_mut()
            .find(|r| r.name == victim)
            .unwrap()
            .start();
    }
    all_delivered(&replicas, &expected).await;
    // Every change of holder (kills and the rebalancing after each restart).
    let moves: i64 = holders(&client)
        .await
        .values()
        .map(|(_, g)| (g - 1).max(0))
        .sum();
    for replica in &mut replicas {
        replica.terminate().await;
    }
    let (counts, torn) = counts(&replicas);
    assert!(torn <= kills, "{torn} torn lines after {kills} kills");
    let missing = expected
        .iter()
        .filter(|row| !counts.contains_key(*row))
        .count();
    assert_eq!(missing, 0, "rows lost");
    assert_eq!(
        counts.len(),
        expected.len(),
        "only rows the simulator served"
    );
    let repeated: usize = counts.values().map(|n| n - 1).sum();
    eprintln!(
        "{kills} kills ({moved_units} units killed under), {moves} lease moves in all, {} rows: \
         {repeated} repeated (bound {} = a page per move), takeovers {takeovers:?}",
        expected.len(),
        moves as usize * PAGE_SIZE
    );
    assert!(
        repeated <= moves as usize * PAGE_SIZE,
        "{repeated} rows repeated"
    );
    for took in takeovers {
        assert!(took <= bound, "a takeover took {took:?}, over {bound:?}");
    }
}
