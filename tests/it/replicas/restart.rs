//! PostgreSQL restarted under three running replicas: their leases and state
//! connections come back by themselves, no row is lost, and what is repeated stays
//! within a page per unit cut off by the restart and per move of a lease.

use super::processes::{
    PAGE_SIZE, all_delivered, client, counts, expected, harness, holders, replicas,
};
use crate::common;

use common::postgres::Postgres;
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_restarted_under_three_replicas_loses_no_row_and_repeats_at_most_the_batches_cut_off()
 {
    let Some(cluster) = Postgres::start() else {
        return;
    };
    let harness = harness().await;
    let expected = expected(&harness);
    let mut replicas = replicas(&harness, &cluster);
    common::eventually(
        "the replicas writing rows",
        Duration::from_secs(120),
        async || counts(&replicas).0.len() >= expected.len() / 3,
    )
    .await;
    let cluster = tokio::task::spawn_blocking(move || {
        cluster.restart();
        cluster
    })
    .await
    .unwrap();
    all_delivered(&replicas, &expected).await;
    let client = client(&cluster).await;
    let moves: i64 = holders(&client)
        .await
        .values()
        .map(|(_, g)| (g - 1).max(0))
        .sum();
    for replica in &mut replicas {
        replica.terminate().await;
    }
    let (counts, torn) = counts(&replicas);
    assert_eq!(torn, 0, "no process was killed");
    assert!(
        expected.iter().all(|row| counts.contains_key(row)),
        "rows lost"
    );
    assert_eq!(counts.len(), expected.len());
    let repeated: usize = counts.values().map(|n| n - 1).sum();
    let units = expected
        .iter()
        .map(|(unit, _)| unit)
        .collect::<std::collections::BTreeSet<_>>()
        .len();
    let bound = (units + moves as usize) * PAGE_SIZE;
    eprintln!(
        "PostgreSQL restarted: {repeated} rows repeated (bound {bound}: a page per unit and per lease move, {moves} moves)"
    );
    assert!(repeated <= bound, "{repeated} rows repeated");
}
