//! Units given back by their source: after a permanent error (not taken again here
//! before a hold-off, and taken by another replica beyond its full share), and when
//! the keeper wants one back to even out the share (draining: still held, commits go
//! through, until the source gives it back or the margin runs out).

use super::{client, commit, held, keeper, units, within};
use crate::common::postgres::Postgres;
use pstn_agent::lease::{Fence, LeaseKeeper, LeaseState, Unit};
use std::time::{Duration, Instant};

/// The fence `keeper` holds `unit` under now (held or draining).
fn fence_of(keeper: &LeaseKeeper, unit: &Unit) -> Option<Fence> {
    let generation = match keeper.watch(unit)?.state() {
        LeaseState::Held { generation } | LeaseState::Draining { generation } => generation,
        LeaseState::Lost => return None,
    };
    Some(Fence {
        unit: unit.clone(),
        holder: keeper.settings().replica.clone(),
        generation,
    })
}

/// A lone replica gives its unit up for a hold-off: it is free in PostgreSQL at once,
/// not taken again here while the hold-off lasts (though nobody else wants it), and
/// taken again within a round or two after it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_unit_given_up_is_not_taken_again_here_before_its_hold_off() {
    let Some(cluster) = Postgres::start() else {
        return;
    };
    let all = units(1);
    let ttl = Duration::from_secs(2);
    let (keeper, _) = keeper(&cluster, "replica-a", ttl, &all);
    within("held", ttl * 5, || held(&keeper, &all).len() == 1).await;
    let fence = fence_of(&keeper, &all[0]).unwrap();
    let hold_off = Duration::from_secs(4);
    let given = Instant::now();
    keeper.watch(&all[0]).unwrap().give_back(&fence, hold_off);
    within("given back", ttl, || held(&keeper, &all).is_empty()).await;
    let row = client(&cluster)
        .await
        .query_one("SELECT holder, avoided_by FROM leases", &[])
        .await
        .unwrap();
    assert_eq!(row.get::<_, Option<String>>(0), None, "free in PostgreSQL");
    assert_eq!(
        row.get::<_, Option<String>>(1).as_deref(),
        Some("replica-a")
    );
    let every = keeper.settings().renew_every();
    let again = within(
        "taken again after the hold-off",
        hold_off + every * 3,
        || {
            let holds = held(&keeper, &all).len() == 1;
            assert!(
                !holds || given.elapsed() >= hold_off,
                "taken again after {:?}, inside the hold-off",
                given.elapsed()
            );
            holds
        },
    )
    .await;
    eprintln!("taken again {again:?} after being given up for {hold_off:?}");
}

/// Two replicas at one unit each: the unit the first gives up (its source stopped
/// there) is taken by the second although it is at its full share (every replica is,
/// under an even share), held beyond it (share + 1) and not given back to even the
/// share out: the failing unit is not left to the replica where it fails, and nothing
/// churns.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_unit_given_up_is_taken_by_another_replica_beyond_its_full_share() {
    let Some(cluster) = Postgres::start() else {
        return;
    };
    let all = units(2);
    let ttl = Duration::from_secs(3);
    let (a, _) = keeper(&cluster, "replica-a", ttl, &all);
    let (b, _) = keeper(&cluster, "replica-b", ttl, &all);
    within("one each", ttl * 10, || {
        held(&a, &all).len() == 1 && held(&b, &all).len() == 1
    })
    .await;
    let failing = held(&a, &all).remove(0);
    let fence = fence_of(&a, &failing).unwrap();
    a.watch(&failing)
        .unwrap()
        .give_back(&fence, Duration::from_secs(600));
    // The keeper serves the give-back on its own task: from then on it avoids it.
    within("given back", ttl, || !held(&a, &all).contains(&failing)).await;
    let moved = within("taken by the other", ttl * 2, || held(&b, &all).len() == 2).await;
    eprintln!("the given-up unit moved over in {moved:?}");
    // Several rounds later: still both there, nothing given back, nothing draining.
    let every = b.settings().renew_every();
    let settled = Instant::now();
    while settled.elapsed() < every * 6 {
        assert_eq!(held(&b, &all).len(), 2, "the second replica gave one back");
        assert!(held(&a, &all).is_empty(), "taken again where it failed");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let rows = client(&cluster)
        .await
        .query("SELECT holder, avoided_by FROM leases", &[])
        .await
        .unwrap();
    for row in rows {
        assert_eq!(
            row.get::<_, Option<String>>(0).as_deref(),
            Some("replica-b")
        );
        assert_eq!(row.get::<_, Option<String>>(1), None, "the mark is cleared");
    }
}

/// A replica above its share (a second one joined) asks for one unit back: its watch
/// says draining, the lease is still valid (a fenced commit goes through), and the
/// other replica takes it within a round of the source giving it back, long before
/// the margin would have forced it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_unit_wanted_back_stays_committable_until_its_source_gives_it_back() {
    let Some(cluster) = Postgres::start() else {
        return;
    };
    let all = units(2);
    // A long ttl: the margin (ttl / 4 = 5 s) is far longer than a round (the
    // hand-over must come from the give-back, not the margin).
    let ttl = Duration::from_secs(20);
    let (a, _) = keeper(&cluster, "replica-a", ttl, &all);
    within("both held", ttl, || held(&a, &all).len() == 2).await;
    let (b, _) = keeper(&cluster, "replica-b", ttl, &all);
    let mut draining = None;
    within("one draining", ttl, || {
        draining = all
            .iter()
            .find(|unit| matches!(a.watch(unit).unwrap().state(), LeaseState::Draining { .. }));
        draining.is_some()
    })
    .await;
    let unit = draining.unwrap().clone();
    let fence = fence_of(&a, &unit).unwrap();
    let mut db = client(&cluster).await;
    db.batch_execute("CREATE TABLE progress (unit text, cursor text)")
        .await
        .unwrap();
    commit(&mut db, &fence, "the batch in flight")
        .await
        .expect("still committable while draining");
    assert!(held(&b, &all).is_empty(), "not taken while draining");
    let given = Instant::now();
    a.watch(&unit).unwrap().give_back(&fence, Duration::ZERO);
    let every = b.settings().renew_every();
    let took = within(
        "taken by the other",
        every * 2 + Duration::from_secs(1),
        || held(&b, &all) == [unit.clone()],
    )
    .await;
    // The give-back path takes at most a round (ttl / 4) and the query. The lease
    // running out instead would free it no sooner than ttl after its last renewal, at
    // most a round before the give-back: 3/4 ttl after it. ttl / 2 parts the two with
    // room on each side (ttl / 4, the round's own length, was overrun under load).
    assert!(
        given.elapsed() < ttl / 2,
        "before the lease could have run out"
    );
    eprintln!("handed over {took:?} after the give-back");
    assert_eq!(
        a.watch(&unit).unwrap().last_loss(),
        Some(pstn_agent::lease::LossCause::GivenBack)
    );
    let refused = commit(&mut db, &fence, "after the give-back").await;
    assert!(refused.is_err(), "{refused:?}");
}

/// A draining unit whose source never gives it back (not read here) is taken back by
/// the keeper once the margin has passed, and goes to the other replica.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_draining_unit_not_given_back_is_taken_back_after_the_margin() {
    let Some(cluster) = Postgres::start() else {
        return;
    };
    let all = units(2);
    let ttl = Duration::from_secs(4);
    let (a, _) = keeper(&cluster, "replica-a", ttl, &all);
    within("both held", ttl * 5, || held(&a, &all).len() == 2).await;
    let (b, _) = keeper(&cluster, "replica-b", ttl, &all);
    let started = Instant::now();
    let took = within("one each", ttl * 3, || {
        held(&a, &all).len() == 1 && held(&b, &all).len() == 1
    })
    .await;
    let margin = a.settings().margin();
    assert!(took >= margin, "forced only after the margin: {took:?}");
    eprintln!("forced hand-over after {:?}", started.elapsed());
}
