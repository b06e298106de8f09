//! Every write of a unit's state in PostgreSQL is made under the lease's fence, not
//! only the batch commit: cursors, dial-out totals, pruning and the directory. A
//! replica whose lease moved on changes none of them; a fence PostgreSQL could not
//! check is told apart from a lease that moved on.

use super::{Backend, Opened, key, ticks};
use pstn_agent::lease::{Fence, LeaseKeeper, LeaseSettings, Unit, connector};
use pstn_agent::metrics::Metrics;
use pstn_agent::state::{
    Commit, DirectoryFailures, DirectorySyncMark, DirectoryWrite, SourceState, StateError,
    StoredTotals, StoredUser,
};
use std::time::Duration;

/// The only replica's keeper over `unit`, and the fence it holds the unit under.
async fn held(opened: &Opened, unit: &Unit) -> (LeaseKeeper, Fence) {
    let cluster = opened.cluster.as_ref().unwrap();
    let metrics = Metrics::new().unwrap();
    let keeper = LeaseKeeper::spawn(
        connector(cluster.url().parse().unwrap(), tokio_postgres::NoTls),
        LeaseSettings {
            replica: "replica-a".into(),
            ttl: Duration::from_secs(30),
            units: vec![unit.clone()],
        },
        metrics.leases().unwrap(),
    );
    let mut watch = keeper.watch(unit).unwrap();
    let fence = tokio::time::timeout(Duration::from_secs(30), watch.held())
        .await
        .expect("the only replica takes its unit")
        .expect("held");
    (keeper, fence)
}

const DAY: &str = "1970-01-02";

fn totals(calls: i64) -> StoredTotals {
    StoredTotals {
        calls,
        seconds: calls * 60,
        charge_micros: 0,
    }
}

fn mark(delta_link: &str) -> DirectorySyncMark {
    DirectorySyncMark {
        delta_link: Some(delta_link.into()),
        selected: "department".into(),
        synced_at: ticks(7),
    }
}

/// Cursor 0, one delivered key of an old call, dial-out totals of [`DAY`], a user, a
/// delta mark and a failed round: what the writes below would change.
async fn seed(state: &SourceState) {
    state
        .replace_cursors(vec![(Duration::ZERO, ticks(0))])
        .await
        .unwrap();
    state
        .commit(Commit {
            delivered: vec![(key(1), ticks(10))],
            cursors: Vec::new(),
            plan_usage: Vec::new(),
            chargeback: Vec::new(),
        })
        .await
        .unwrap();
    state
        .commit_dialout(DAY.into(), vec![(key(2), totals(1))])
        .await
        .unwrap();
    let directory = state.directory().await.unwrap();
    directory
        .write(DirectoryWrite {
            users: vec![("u1".into(), Some(b"old".to_vec()))],
            read_at: Some(ticks(5)),
            mark: Some(mark("https://graph/delta?old")),
            remove_read_before: None,
        })
        .await
        .unwrap();
    directory
        .set_failures(Some(DirectoryFailures {
            rounds: 2,
            from_delta_link: 1,
            last_started: ticks(9),
        }))
        .await
        .unwrap();
}

/// Each write a source makes besides its batch commit, through `state` (and its
/// directory); one result per write, in order.
async fn every_other_write(state: &SourceState) -> Vec<Result<(), StateError>> {
    let directory = state.directory().await.unwrap();
    vec![
        state
            .replace_cursors(vec![(Duration::ZERO, ticks(99))])
            .await,
        state
            .commit_dialout(DAY.into(), vec![(key(2), totals(5))])
            .await,
        state.prune(ticks(100), || true).await.map(drop),
        state.prune_dialout("1970-01-03".into()).await.map(drop),
        directory
            .write(DirectoryWrite {
                users: vec![("u1".into(), Some(b"new".to_vec()))],
                read_at: Some(ticks(50)),
                mark: Some(mark("https://graph/delta?new")),
                remove_read_before: None,
            })
            .await,
        directory.forget_delta_link().await,
        directory.set_failures(None).await,
    ]
}

/// What [`seed`] left, as one comparable line.
async fn snapshot(state: &SourceState) -> String {
    let directory = state.directory().await.unwrap();
    let (_, unseen) = state.unseen(vec![(key(1), ticks(10))]).await.unwrap();
    format!(
        "cursors {:?}; key unseen {unseen:?}; dial-out {:?}; users {:?}; mark {:?}; failures {:?}",
        state.cursors().await.unwrap(),
        state.dialout_totals(DAY.into()).await.unwrap(),
        directory.users(vec!["u1".into()]).await.unwrap(),
        directory
            .mark()
            .await
            .unwrap()
            .and_then(|mark| mark.delta_link),
        directory
            .failures()
            .await
            .unwrap()
            .map(|failures| failures.rounds),
    )
}

/// Under a lease whose generation moved on, every write (cursors, dial-out totals,
/// both prunes, the directory's page, its deltaLink and failed rounds) is refused as
/// `Fenced` and leaves the unit's rows as they were; under the lease held now each
/// goes through.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_write_under_a_lease_that_moved_on_is_refused_and_changes_nothing() {
    let Some(opened) = Opened::new(Backend::Postgres).await else {
        return;
    };
    let unit = Unit::new("a", "t");
    let (keeper, fence) = held(&opened, &unit).await;
    let state = opened.source("a").await;
    seed(&state).await;
    let before = snapshot(&state).await;
    let stale = Fence {
        generation: fence.generation - 1,
        ..fence.clone()
    };
    let refused = every_other_write(&state.clone().under(stale)).await;
    for (n, outcome) in refused.iter().enumerate() {
        assert!(
            matches!(outcome, Err(StateError::Fenced(_))),
            "write {n}: {outcome:?}"
        );
    }
    assert_eq!(snapshot(&state).await, before);
    let written = every_other_write(&state.clone().under(fence)).await;
    for (n, outcome) in written.iter().enumerate() {
        assert!(outcome.is_ok(), "write {n}: {outcome:?}");
    }
    let (_, unseen) = state.unseen(vec![(key(1), ticks(10))]).await.unwrap();
    assert_eq!(unseen, [true], "pruned under the held lease");
    assert_eq!(
        state.cursors().await.unwrap(),
        [(Duration::ZERO, ticks(99))]
    );
    let directory = state.directory().await.unwrap();
    assert_eq!(
        directory.users(vec!["u1".into()]).await.unwrap(),
        [StoredUser::Known(b"new".to_vec())]
    );
    assert_eq!(directory.failures().await.unwrap(), None);
    drop(keeper);
}

/// A fence check that PostgreSQL fails to answer (here: the lease table is gone for a
/// moment) is `FenceUnchecked`, naming the unit and the server, not "moved on"; the
/// write is not made, and goes through once the check can be made again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fence_postgres_cannot_check_is_not_reported_as_a_lease_that_moved_on() {
    let Some(opened) = Opened::new(Backend::Postgres).await else {
        return;
    };
    let unit = Unit::new("a", "t");
    let (keeper, fence) = held(&opened, &unit).await;
    let state = opened.source("a").await.under(fence);
    state
        .replace_cursors(vec![(Duration::ZERO, ticks(1))])
        .await
        .unwrap();
    let url = opened.cluster.as_ref().unwrap().url();
    let (db, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(connection);
    db.batch_execute("ALTER TABLE leases RENAME TO leases_away")
        .await
        .unwrap();
    let error = state
        .replace_cursors(vec![(Duration::ZERO, ticks(2))])
        .await
        .unwrap_err();
    assert!(
        matches!(error, StateError::FenceUnchecked { .. }),
        "{error:?}"
    );
    let said = error.to_string();
    assert!(said.contains("cannot check the lease on a/t"), "{said}");
    assert!(said.contains("postgresql 127.0.0.1:"), "{said}");
    assert!(!said.contains("moved on"), "{said}");
    db.batch_execute("ALTER TABLE leases_away RENAME TO leases")
        .await
        .unwrap();
    assert_eq!(state.cursors().await.unwrap(), [(Duration::ZERO, ticks(1))]);
    state
        .replace_cursors(vec![(Duration::ZERO, ticks(2))])
        .await
        .unwrap();
    drop(keeper);
}
