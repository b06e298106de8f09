//! Leases while PostgreSQL is away: cut off (units lost before they run out, `/readyz`
//! says why) and restarted briefly (nothing lost).

use super::{client, held, keeper, metric, units, within};
use crate::common::postgres::Postgres;
use pstn_agent::lease::{Fence, LeaseState, LossCause};
use std::time::{Duration, Instant, SystemTime};

/// A replica that cannot reach PostgreSQL (the cluster stopped) marks every unit lost
/// before its lease runs out by PostgreSQL's clock, and `/readyz` says why it holds
/// nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replica_cut_off_from_postgres_reports_its_units_lost_before_they_run_out() {
    let Some(cluster) = Postgres::start() else {
        return;
    };
    let all = units(3);
    // The test sees the loss when its own task runs, which on a loaded CI machine (the
    // whole suite on two cores) can be a second after the keeper marked it: a ttl of 8 s
    // leaves a margin of 2 s between the keeper's deadline and PostgreSQL's expiry.
    let ttl = Duration::from_secs(8);
    let (keeper, metrics) = keeper(&cluster, "replica-a", ttl, &all);
    within("all three held", ttl * 5, || held(&keeper, &all).len() == 3).await;
    assert!(metrics.readiness().is_ready());
    cluster.stop();
    let mut lost_at = Vec::new();
    for unit in &all {
        let mut watch = keeper.watch(unit).unwrap();
        if let LeaseState::Held { generation } = watch.state() {
            let fence = Fence {
                unit: unit.clone(),
                holder: "replica-a".into(),
                generation,
            };
            tokio::time::timeout(ttl * 2, watch.lost(&fence))
                .await
                .expect("lost within twice the ttl");
            // What `--once` then says: not renewed, not "moved on".
            assert_eq!(watch.last_loss(), Some(LossCause::NotRenewed));
        }
        lost_at.push(SystemTime::now());
    }
    let report = metrics.readiness();
    assert_eq!(
        report.problems,
        [(
            "state".to_owned(),
            "holds no lease: PostgreSQL is unreachable".to_owned()
        )]
    );
    assert!(metric(&metrics, "pstn_lease_renewal_failures_total") >= 1.0);
    assert_eq!(metric(&metrics, "pstn_lease_units_held"), 0.0);
    // Stopped before PostgreSQL comes back, so nothing renews: the leases as they were.
    drop(keeper);
    cluster.start_server();
    let rows = client(&cluster)
        .await
        .query(
            "SELECT extract(epoch FROM expires_at)::float8 FROM leases ORDER BY tenant",
            &[],
        )
        .await
        .unwrap();
    for (row, lost) in rows.iter().zip(&lost_at) {
        let expires = Duration::from_secs_f64(row.get::<_, f64>(0));
        let lost = lost.duration_since(SystemTime::UNIX_EPOCH).unwrap();
        eprintln!(
            "lost {:?} before the lease ran out",
            expires.saturating_sub(lost)
        );
        assert!(
            lost < expires,
            "lost at {lost:?}, lease ran out at {expires:?}"
        );
    }
}

/// PostgreSQL restarted (a failover, an upgrade) for less than the margin: the keeper
/// reconnects and renews, its units stay held under the same generations throughout.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_postgres_restart_shorter_than_the_margin_costs_no_lease() {
    let Some(cluster) = Postgres::start() else {
        return;
    };
    let all = units(3);
    let ttl = Duration::from_secs(10);
    let (keeper, metrics) = keeper(&cluster, "replica-a", ttl, &all);
    within("all three held", ttl, || held(&keeper, &all).len() == 3).await;
    let fences: Vec<Fence> = all
        .iter()
        .map(|unit| {
            let LeaseState::Held { generation } = keeper.watch(unit).unwrap().state() else {
                panic!("{unit} not held");
            };
            Fence {
                unit: unit.clone(),
                holder: "replica-a".into(),
                generation,
            }
        })
        .collect();
    // Each unit watched from now until two rounds after the restart: never lost.
    let window = keeper.settings().margin() + keeper.settings().renew_every() * 2;
    let watchers: Vec<_> = fences
        .iter()
        .map(|fence| {
            let mut watch = keeper.watch(&fence.unit).unwrap();
            let fence = fence.clone();
            tokio::spawn(async move {
                tokio::time::timeout(window, watch.lost(&fence))
                    .await
                    .is_err()
            })
        })
        .collect();
    let started = Instant::now();
    cluster.restart();
    let down = started.elapsed();
    assert!(
        down < keeper.settings().margin(),
        "the restart took {down:?}"
    );
    for (watcher, fence) in watchers.into_iter().zip(&fences) {
        assert!(watcher.await.unwrap(), "{} was lost", fence.unit);
    }
    let failures = metric(&metrics, "pstn_lease_renewal_failures_total");
    let rows = client(&cluster)
        .await
        .query(
            "SELECT generation, expires_at > now() FROM leases ORDER BY tenant",
            &[],
        )
        .await
        .unwrap();
    for (row, fence) in rows.iter().zip(&fences) {
        assert_eq!(row.get::<_, i64>(0), fence.generation, "{}", fence.unit);
        assert!(row.get::<_, bool>(1), "{} ran out", fence.unit);
    }
    eprintln!("restart took {down:?}; {failures} failed rounds meanwhile");
}
