//! What only PostgreSQL has: the lease's fence inside the commit, replicas migrating at
//! once, a newer schema refused, a server restarted under the agent, errors that name
//! the server but never the password.

use super::{Backend, Opened, key, ticks};
use pstn_agent::lease::{Fence, LeaseKeeper, LeaseSettings, Unit, connector};
use pstn_agent::metrics::Metrics;
use pstn_agent::model::Secret;
use pstn_agent::state::{Commit, StateConfig, StateError, StateStore};
use std::time::Duration;

/// A commit under the lease this replica holds goes through; under a stale one (the
/// generation moved on) PostgreSQL refuses it inside the transaction, and nothing of
/// it (keys, cursors, ledgers) is kept.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_commit_under_a_lease_that_moved_on_leaves_keys_cursors_and_ledgers_untouched() {
    let Some(opened) = Opened::new(Backend::Postgres).await else {
        return;
    };
    let cluster = opened.cluster.as_ref().unwrap();
    let unit = Unit::new("a", "t");
    let metrics = Metrics::new().unwrap();
    let keeper = LeaseKeeper::spawn(
        connector(cluster.url().parse().unwrap(), tokio_postgres::NoTls),
        LeaseSettings {
            replica: "replica-a".into(),
            ttl: Duration::from_secs(5),
            units: vec![unit.clone()],
        },
        metrics.leases().unwrap(),
    );
    let mut watch = keeper.watch(&unit).unwrap();
    let held = tokio::time::timeout(Duration::from_secs(30), watch.held())
        .await
        .expect("the only replica takes its unit")
        .expect("held");
    let state = opened.source("a").await;
    state
        .replace_cursors(vec![(Duration::ZERO, ticks(0))])
        .await
        .unwrap();
    let commit = |n: u8| Commit {
        delivered: vec![(key(n), ticks(10)), (key(n + 1), ticks(20))],
        cursors: vec![(Duration::ZERO, ticks(30))],
        plan_usage: vec![super::plan_usage("MCOPSTN1", 60.0)],
        chargeback: Vec::new(),
    };
    let stale = Fence {
        generation: held.generation - 1,
        ..held.clone()
    };
    let error = state
        .commit_fenced(commit(1), Some(&stale))
        .await
        .unwrap_err();
    assert!(matches!(error, StateError::Fenced(_)), "{error}");
    assert!(error.to_string().contains("moved on"), "{error}");
    let (_, unseen) = state.unseen(vec![(key(1), ticks(10))]).await.unwrap();
    assert_eq!(unseen, [true], "the keys were rolled back");
    assert_eq!(state.cursors().await.unwrap(), [(Duration::ZERO, ticks(0))]);
    assert!(state.plan_usage(super::january()).await.unwrap().is_empty());
    let elsewhere = Fence {
        unit: Unit::new("b", "t"),
        ..held.clone()
    };
    let error = state
        .commit_fenced(commit(1), Some(&elsewhere))
        .await
        .unwrap_err();
    assert!(error.to_string().contains("the lease is on b/t"), "{error}");
    state.commit_fenced(commit(1), Some(&held)).await.unwrap();
    assert_eq!(
        state.cursors().await.unwrap(),
        [(Duration::ZERO, ticks(30))]
    );
    let (_, unseen) = state.unseen(vec![(key(1), ticks(10))]).await.unwrap();
    assert_eq!(unseen, [false]);
    drop(keeper);
}

#[tokio::test]
async fn replicas_starting_together_migrate_once_and_a_newer_schema_is_refused() {
    let Some(opened) = Opened::new(Backend::Postgres).await else {
        return;
    };
    // Three more replicas (each its own data_dir) open the same database at once.
    let dirs: Vec<_> = (0..3).map(|_| tempfile::tempdir().unwrap()).collect();
    let opening = dirs.iter().map(|dir| {
        let (config, dir) = (opened.config.clone(), dir.path().to_owned());
        tokio::spawn(async move { StateStore::open_configured(&config, &dir).await })
    });
    let opening: Vec<_> = opening.collect();
    for store in opening {
        store.await.unwrap().unwrap();
    }
    let url = opened.cluster.as_ref().unwrap().url();
    let (client, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(connection);
    client
        .execute(
            "UPDATE schema_version SET version = 99 WHERE component = 'state'",
            &[],
        )
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let error = StateStore::open_configured(&opened.config, dir.path())
        .await
        .unwrap_err();
    assert!(
        error.to_string().contains("newer pstn-agent (schema 99"),
        "{error}"
    );
}

#[tokio::test]
async fn after_postgres_restarts_the_next_operation_works_again() {
    let Some(opened) = Opened::new(Backend::Postgres).await else {
        return;
    };
    let state = opened.source("a").await;
    state
        .replace_cursors(vec![(Duration::ZERO, ticks(5))])
        .await
        .unwrap();
    opened.cluster.as_ref().unwrap().restart();
    // The connection that was cut off may fail once; the next call connects again.
    let mut answers = Vec::new();
    for _ in 0..2 {
        answers.push(state.cursors().await);
        if answers.last().is_some_and(Result::is_ok) {
            break;
        }
    }
    let last = answers.pop().unwrap();
    assert_eq!(
        last.unwrap(),
        [(Duration::ZERO, ticks(5))],
        "earlier: {answers:?}"
    );
}

#[tokio::test]
async fn an_unreachable_server_is_named_without_the_password() {
    let port = common_port();
    let config = StateConfig {
        postgres_url: Some(Secret::new(format!(
            "postgres://pstn:hunter2secret@127.0.0.1:{port}/pstn"
        ))),
        ..StateConfig::default()
    };
    let dir = tempfile::tempdir().unwrap();
    let error = StateStore::open_configured(&config, dir.path())
        .await
        .unwrap_err();
    let text = error.to_string();
    assert!(text.contains(&format!("127.0.0.1:{port}/pstn")), "{text}");
    assert!(text.contains("cannot connect"), "{text}");
    assert!(!text.contains("hunter2secret"), "{text}");
    assert!(!format!("{config:?}").contains("hunter2secret"));
}

fn common_port() -> u16 {
    super::common::tools::free_port()
}

/// The whole agent on PostgreSQL with a directory: events carry `user`, the directory
/// and its deltaLink are kept there, and the next run delivers nothing twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_on_postgres_with_a_directory_enriches_and_delivers_each_row_once() {
    use super::common::{Harness, directory_config};
    use pstn_agent::simulate::{Lateness, SimulatorOptions};
    let Some(cluster) = super::common::postgres::Postgres::start() else {
        return;
    };
    let harness = Harness::start(SimulatorOptions {
        seed: 3,
        calls_per_day: 500.0,
        lateness: Lateness::None,
        ..SimulatorOptions::default()
    })
    .await;
    let mut config = directory_config(&harness, "", "", "");
    config.state.postgres_url = Some(Secret::new(cluster.url()));
    let report = harness.once(&config).await;
    assert!(report.failed.is_empty(), "{:?}", report.failed);
    let first = harness.events();
    assert!(first.len() > 100, "{}", first.len());
    assert!(
        first.iter().any(|(_, event)| event.get("user").is_some()),
        "no event carries `user`"
    );
    harness.clock.advance(Duration::from_secs(3600));
    let report = harness.once(&config).await;
    assert!(report.failed.is_empty(), "{:?}", report.failed);
    let twice: Vec<_> = harness
        .delivery_counts()
        .into_iter()
        .filter(|(_, count)| *count > 1)
        .collect();
    assert!(twice.is_empty(), "delivered twice: {twice:?}");
    let (client, connection) = tokio_postgres::connect(&cluster.url(), tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(connection);
    let users: i64 = client
        .query_one("SELECT count(*) FROM directory_users", &[])
        .await
        .unwrap()
        .get(0);
    assert!(users > 0, "the directory is kept in PostgreSQL");
    let link: Option<String> = client
        .query_one("SELECT delta_link FROM directory_sync", &[])
        .await
        .unwrap()
        .get(0);
    assert!(
        link.is_some_and(|link| link.contains("delta")),
        "the deltaLink is kept"
    );
    let keys: i64 = client
        .query_one("SELECT count(*) FROM delivered", &[])
        .await
        .unwrap()
        .get(0);
    assert!(
        keys as usize >= first.len(),
        "{keys} keys for {} events",
        first.len()
    );
}
