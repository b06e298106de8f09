//! A replica frozen with SIGSTOP past its lease, then resumed: its units are taken over
//! meanwhile, and once awake it commits nothing under the lease it lost and sends at
//! most the batch it held per unit.

use super::processes::{
    PAGE_SIZE, all_delivered, all_held, client, counts, expected, harness, lines, replicas,
};
use crate::common;

use super::replica::Replica;
use common::postgres::Postgres;
use std::collections::{BTreeMap, HashSet};
use std::time::{Duration, Instant};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replica_frozen_past_its_lease_commits_nothing_after_and_sends_at_most_its_batch() {
    let Some(cluster) = Postgres::start() else {
        return;
    };
    let harness = harness().await;
    let expected = expected(&harness);
    let client = client(&cluster).await;
    let mut replicas = replicas(&harness, &cluster);
    let names: Vec<String> = replicas.iter().map(|r| r.name.clone()).collect();
    let all: Vec<&str> = names.iter().map(String::as_str).collect();
    common::eventually(
        "the replicas writing rows",
        Duration::from_secs(120),
        async || counts(&replicas).0.len() >= expected.len() / 4,
    )
    .await;
    let before = all_held(&client, &all, Duration::from_secs(30)).await;
    let (victim, held) = a_replica_holding_units(&before, &names);
    replicas[victim].signal(libc::SIGSTOP);
    let frozen = Instant::now();
    let at_freeze = lines(&replicas[victim].output()).0.len();
    let others: Vec<&str> = all
        .iter()
        .copied()
        .filter(|n| *n != names[victim])
        .collect();
    all_held(&client, &others, Duration::from_secs(30)).await;
    eprintln!(
        "{} frozen holding {held:?}: taken over in {:?}",
        names[victim],
        frozen.elapsed()
    );
    replicas[victim].signal(libc::SIGCONT);
    // Awake, it sees its leases lost (deadlines passed) before it can take any again.
    common::eventually(
        "the resumed replica seeing its leases lost",
        Duration::from_secs(30),
        async || replicas[victim].log().contains("stops delivering it"),
    )
    .await;
    let (after_wake, _) = lines(&replicas[victim].output());
    let sent_late: Vec<(String, String)> = after_wake[at_freeze..].to_vec();
    all_delivered(&replicas, &expected).await;
    for replica in &mut replicas {
        replica.terminate().await;
    }
    let fenced = replicas[victim]
        .log()
        .matches("refused by the lease's fence")
        .count();
    eprintln!(
        "after SIGCONT it sent {} rows under the lost lease (bound {}), {fenced} commits refused by the fence",
        sent_late.len(),
        held.len() * PAGE_SIZE
    );
    assert!(
        sent_late.len() <= held.len() * PAGE_SIZE,
        "{} rows sent late",
        sent_late.len()
    );
    // Not committed by it: the new holders delivered every one of them again.
    assert_delivered_elsewhere(&replicas, victim, &sent_late);
    let (counts, _) = counts(&replicas);
    assert!(
        expected.iter().all(|row| counts.contains_key(row)),
        "rows lost"
    );
}

/// The first replica that holds units in `held_by_unit`, and those units.
fn a_replica_holding_units(
    held_by_unit: &BTreeMap<String, (Option<String>, i64)>,
    names: &[String],
) -> (usize, Vec<String>) {
    let holds = |unit_holder: &Option<String>, replica: usize| {
        unit_holder.as_deref() == Some(names[replica].as_str())
    };
    let victim = (0..names.len())
        .find(|r| held_by_unit.values().any(|(h, _)| holds(h, *r)))
        .expect("a replica holding units");
    let held = held_by_unit
        .iter()
        .filter(|(_, (h, _))| holds(h, victim))
        .map(|(unit, _)| unit.clone())
        .collect();
    (victim, held)
}

/// Every row in `rows` was written by a replica other than `victim` too.
fn assert_delivered_elsewhere(replicas: &[Replica], victim: usize, rows: &[(String, String)]) {
    let elsewhere: HashSet<(String, String)> = replicas
        .iter()
        .enumerate()
        .filter(|(r, _)| *r != victim)
        .flat_map(|(_, replica)| lines(&replica.output()).0)
        .collect();
    for row in rows {
        assert!(
            elsewhere.contains(row),
            "{row:?} sent late and never again: committed?"
        );
    }
}
