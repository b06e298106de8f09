//! Leases in PostgreSQL (issue 27 item 3): keepers in one process against a throw-away
//! cluster of Debian's server (no mock), with a short `lease_ttl`: the even share, a
//! takeover within `lease_ttl` and a round, fencing, and a replica cut off from
//! PostgreSQL stopping before its leases run out.

use crate::common;

use common::postgres::Postgres;
use pstn_agent::lease::{
    Fence, Fenced, LeaseKeeper, LeaseSettings, LeaseState, Unit, connector, fence,
};
use pstn_agent::metrics::Metrics;
use std::sync::Arc;
use std::time::{Duration, Instant};

fn units(count: usize) -> Vec<Unit> {
    (0..count)
        .map(|n| Unit::new("pstn", format!("tenant-{n:02}")))
        .collect()
}

/// A keeper named `name` over `units`, with its own metrics.
fn keeper(
    cluster: &Postgres,
    name: &str,
    ttl: Duration,
    units: &[Unit],
) -> (LeaseKeeper, Arc<Metrics>) {
    let metrics = Metrics::new().unwrap();
    let config: tokio_postgres::Config = cluster.url().parse().unwrap();
    let settings = LeaseSettings {
        replica: name.to_owned(),
        ttl,
        units: units.to_vec(),
    };
    let keeper = LeaseKeeper::spawn(
        connector(config, tokio_postgres::NoTls),
        settings,
        metrics.leases().unwrap(),
    );
    (keeper, metrics)
}

/// The units `keeper` holds now, by its watches.
fn held(keeper: &LeaseKeeper, units: &[Unit]) -> Vec<Unit> {
    units
        .iter()
        .filter(|unit| {
            let watch = keeper.watch(unit).unwrap();
            matches!(watch.state(), LeaseState::Held { .. })
        })
        .cloned()
        .collect()
}

/// Polls `done` every 20 ms until it holds, failing after `limit`; how long it took.
async fn within(what: &str, limit: Duration, mut done: impl FnMut() -> bool) -> Duration {
    let start = Instant::now();
    while !done() {
        assert!(start.elapsed() < limit, "{what}: not within {limit:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    start.elapsed()
}

async fn client(cluster: &Postgres) -> tokio_postgres::Client {
    let (client, connection) = tokio_postgres::connect(&cluster.url(), tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(connection);
    client
}

fn metric(metrics: &Metrics, name: &str) -> f64 {
    metrics
        .encode()
        .lines()
        .find_map(|line| line.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
        .unwrap_or_else(|| panic!("no {name}"))
}

/// Ten units over three replicas: the first alone takes all ten; when two more join it
/// gives back what is over its share, and they settle at three or four each, every unit
/// held by exactly one replica, never by two at once while they balance.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_units_over_three_replicas_settle_at_three_or_four_each() {
    let Some(cluster) = Postgres::start() else {
        return;
    };
    let all = units(10);
    let ttl = Duration::from_secs(3);
    let mut keepers = vec![keeper(&cluster, "replica-a", ttl, &all)];
    within("the first replica holding all", ttl * 5, || {
        held(&keepers[0].0, &all).len() == all.len()
    })
    .await;
    for name in ["replica-b", "replica-c"] {
        keepers.push(keeper(&cluster, name, ttl, &all));
    }
    let took = within("an even share", ttl * 10, || {
        let counts: Vec<Vec<Unit>> = keepers
            .iter()
            .map(|(keeper, _)| held(keeper, &all))
            .collect();
        for unit in &all {
            let holders = counts.iter().filter(|held| held.contains(unit)).count();
            assert!(holders <= 1, "{unit} held by {holders} replicas at once");
        }
        counts.iter().map(Vec::len).sum::<usize>() == all.len()
            && counts.iter().all(|held| (3..=4).contains(&held.len()))
    })
    .await;
    eprintln!("10 units over 3 replicas settled in {took:?}");
    common::tools::promtool_check_metrics(&keepers[0].1.encode());
    for (_, metrics) in &keepers {
        let units = metric(metrics, "pstn_lease_units_held");
        assert!((3.0..=4.0).contains(&units), "{units}");
        assert_eq!(metric(metrics, "pstn_lease_live_replicas"), 3.0);
    }
    // PostgreSQL agrees with the replicas.
    let rows = client(&cluster)
        .await
        .query(
            "SELECT holder, count(*) FROM leases GROUP BY holder ORDER BY holder",
            &[],
        )
        .await
        .unwrap();
    let by_holder: Vec<(Option<String>, i64)> =
        rows.iter().map(|row| (row.get(0), row.get(1))).collect();
    assert_eq!(by_holder.len(), 3, "{by_holder:?}");
    for ((holder, count), (keeper, _)) in by_holder.iter().zip(&keepers) {
        assert_eq!(holder.as_deref(), Some(keeper.settings().replica.as_str()));
        assert_eq!(usize::try_from(*count).unwrap(), held(keeper, &all).len());
    }
}

/// A replica that stops without giving anything back (dropped, as kill -9 would): its
/// units are taken over by the others within `lease_ttl` + one round (its renewal
/// interval) + one round's own time limit (the same interval), each with generation + 1,
/// counted as takeovers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stopped_replica_s_units_are_taken_over_within_the_ttl_and_a_round() {
    let Some(cluster) = Postgres::start() else {
        return;
    };
    let all = units(10);
    let ttl = Duration::from_secs(3);
    let mut keepers: Vec<_> = ["replica-a", "replica-b", "replica-c"]
        .iter()
        .map(|name| keeper(&cluster, name, ttl, &all))
        .collect();
    within("an even share", ttl * 10, || {
        keepers
            .iter()
            .map(|(keeper, _)| held(keeper, &all).len())
            .sum::<usize>()
            == all.len()
            && keepers
                .iter()
                .all(|(keeper, _)| held(keeper, &all).len() >= 3)
    })
    .await;
    let (stopped, _) = keepers.pop().unwrap();
    let orphans = held(&stopped, &all);
    let every = stopped.settings().renew_every();
    let bound = ttl + every + every;
    drop(stopped);
    let took = within("the takeover", bound, || {
        keepers
            .iter()
            .map(|(keeper, _)| held(keeper, &all).len())
            .sum::<usize>()
            == all.len()
    })
    .await;
    eprintln!(
        "{} units taken over in {took:?} (lease_ttl {ttl:?}, bound {bound:?})",
        orphans.len()
    );
    let takeovers: f64 = keepers
        .iter()
        .map(|(_, metrics)| metric(metrics, "pstn_lease_takeovers_total"))
        .sum();
    assert_eq!(takeovers, orphans.len() as f64);
    for (keeper, _) in &keepers {
        assert_eq!(held(keeper, &all).len(), 5, "two replicas, ten units");
    }
}

/// A replica that shuts down gives its leases back and leaves: the other takes them at
/// its next round, without waiting for `lease_ttl`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replica_shutting_down_hands_its_units_over_without_waiting_for_the_ttl() {
    let Some(cluster) = Postgres::start() else {
        return;
    };
    let all = units(4);
    let ttl = Duration::from_secs(6);
    let (staying, metrics) = keeper(&cluster, "replica-a", ttl, &all);
    let (leaving, _) = keeper(&cluster, "replica-b", ttl, &all);
    within("two each", ttl * 5, || {
        held(&staying, &all).len() == 2 && held(&leaving, &all).len() == 2
    })
    .await;
    let every = leaving.settings().renew_every();
    leaving.stop().await;
    // Its next round, and that round's own time limit: well inside the ttl.
    let took = within("the hand-over", every * 2, || {
        held(&staying, &all).len() == all.len()
    })
    .await;
    eprintln!("2 units handed over in {took:?} (lease_ttl {ttl:?})");
    assert_eq!(
        metric(&metrics, "pstn_lease_takeovers_total"),
        0.0,
        "given, not taken over"
    );
}

/// A commit made under a lease that has run out, or moved to another replica, is
/// refused by PostgreSQL inside the commit's own transaction; the new holder's commits
/// go through.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_commit_under_a_stale_generation_is_refused() {
    let Some(cluster) = Postgres::start() else {
        return;
    };
    let unit = units(1);
    let ttl = Duration::from_secs(2);
    let (first, _) = keeper(&cluster, "replica-a", ttl, &unit);
    let old = first.watch(&unit[0]).unwrap().held().await.unwrap();
    let mut db = client(&cluster).await;
    db.batch_execute("CREATE TABLE progress (unit text, cursor text)")
        .await
        .unwrap();
    commit(&mut db, &old, "under the lease").await.unwrap();
    // The holder stops dead; once its lease ran out (renewed last before the drop, so
    // within ttl of it), its commit is refused even before anyone takes the unit (a
    // replica frozen past its lease, then resumed).
    drop(first);
    tokio::time::sleep(ttl + Duration::from_millis(100)).await;
    let refused = commit(&mut db, &old, "after the lease ran out").await;
    assert!(matches!(refused, Err(Fenced::Moved(_))), "{refused:?}");
    let (second, _) = keeper(&cluster, "replica-b", ttl, &unit);
    let new = second.watch(&unit[0]).unwrap().held().await.unwrap();
    assert_eq!(new.generation, old.generation + 1);
    let refused = commit(&mut db, &old, "under the moved lease").await;
    assert!(matches!(refused, Err(Fenced::Moved(_))), "{refused:?}");
    commit(&mut db, &new, "under the new lease").await.unwrap();
    let rows = db
        .query("SELECT cursor FROM progress ORDER BY cursor", &[])
        .await
        .unwrap();
    let cursors: Vec<String> = rows.iter().map(|row| row.get(0)).collect();
    assert_eq!(cursors, ["under the lease", "under the new lease"]);
}

/// A unit's progress committed as state would: the fence, then the write, in one
/// transaction.
async fn commit(
    db: &mut tokio_postgres::Client,
    fenced: &Fence,
    cursor: &str,
) -> Result<(), Fenced> {
    let transaction = db.transaction().await.unwrap();
    fence(&transaction, fenced).await?;
    transaction
        .execute(
            "INSERT INTO progress VALUES ($1, $2)",
            &[&fenced.unit.to_string(), &cursor],
        )
        .await
        .unwrap();
    transaction.commit().await.unwrap();
    Ok(())
}

#[path = "leases/changed_units.rs"]
mod changed_units;
#[path = "leases/give_back.rs"]
mod give_back;
#[path = "leases/outages.rs"]
mod outages;
