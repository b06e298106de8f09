//! A keeper's units changed while it runs (SIGHUP re-reads a `tenants_file` with state
//! in PostgreSQL): an added unit is taken within the share, a removed one is given back
//! at once and not taken again here, and one added back is taken again.

use super::{client, held, keeper, units, within};
use crate::common::postgres::Postgres;
use pstn_agent::lease::{LeaseState, Unit};
use std::time::Duration;

/// The holder and generation of `unit`'s row in PostgreSQL.
async fn row(cluster: &Postgres, unit: &Unit) -> (Option<String>, i64) {
    let row = client(cluster)
        .await
        .query_one(
            "SELECT holder, generation FROM leases WHERE source = $1 AND tenant = $2",
            &[&unit.source, &unit.tenant],
        )
        .await
        .unwrap();
    (row.get(0), row.get(1))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_unit_added_is_taken_and_a_unit_removed_is_given_back_and_not_taken_again() {
    let Some(cluster) = Postgres::start() else {
        return;
    };
    let all = units(3);
    let (kept, removed, added) = (&all[0], &all[1], &all[2]);
    let ttl = Duration::from_secs(2);
    let (keeper, _) = keeper(&cluster, "replica-a", ttl, &all[..2]);
    within("both held", ttl * 5, || held(&keeper, &all[..2]).len() == 2).await;
    assert!(keeper.watch(added).is_none(), "not a unit yet");
    let mut old = keeper.watch(removed).unwrap();
    let (_, generation) = row(&cluster, removed).await;

    keeper
        .units()
        .change(vec![added.clone()], vec![removed.clone()])
        .await;
    // Given back at once, its watch lost then closed (its source would end).
    assert_eq!(row(&cluster, removed).await, (None, generation));
    assert!(keeper.watch(removed).is_none());
    assert_eq!(old.state(), LeaseState::Lost);
    assert_eq!(
        old.held().await,
        None,
        "a removed unit's watch never holds again"
    );
    // The added unit is registered and taken within the share (two of two units).
    let now = [kept.clone(), added.clone()];
    within("the added unit held", ttl * 2, || {
        held(&keeper, &now).len() == 2
    })
    .await;
    assert_eq!(row(&cluster, added).await.0.as_deref(), Some("replica-a"));
    // Rounds go by: the removed unit stays free, its generation unchanged.
    tokio::time::sleep(keeper.settings().renew_every() * 3).await;
    assert_eq!(row(&cluster, removed).await, (None, generation));
    assert_eq!(held(&keeper, &now).len(), 2);

    // Added back: taken again under the next generation.
    keeper
        .units()
        .change(vec![removed.clone()], Vec::new())
        .await;
    within("the unit added back held", ttl * 2, || {
        held(&keeper, &all).len() == 3
    })
    .await;
    assert_eq!(
        row(&cluster, removed).await,
        (Some("replica-a".to_owned()), generation + 1)
    );
    keeper.stop().await;
}

/// A unit removed on one replica only (its file changed, the others' not yet) is not
/// taken there any more, but a replica that still lists it takes it: the README's
/// "every replica must get the same file".
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_unit_removed_on_one_replica_only_is_taken_by_another_that_lists_it() {
    let Some(cluster) = Postgres::start() else {
        return;
    };
    let all = units(2);
    let (kept, removed) = (&all[0], &all[1]);
    let ttl = Duration::from_secs(2);
    let (a, _) = keeper(&cluster, "replica-a", ttl, &all);
    within("both held by a", ttl * 5, || held(&a, &all).len() == 2).await;
    a.units().change(Vec::new(), vec![removed.clone()]).await;
    assert_eq!(row(&cluster, removed).await.0, None);
    let (b, _) = keeper(&cluster, "replica-b", ttl, &all);
    within("the removed unit taken by b", ttl * 5, || {
        held(&b, &all) == [removed.clone()]
    })
    .await;
    assert_eq!(row(&cluster, removed).await.0.as_deref(), Some("replica-b"));
    assert_eq!(held(&a, std::slice::from_ref(kept)).len(), 1);
    assert!(a.watch(removed).is_none());
}
