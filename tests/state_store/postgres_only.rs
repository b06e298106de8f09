//! What only PostgreSQL has: the lease's fence inside the commit, replicas migrating at
//! once, a newer schema refused, a server restarted under the agent, errors that name
//! the server but never the password.

use super::{Backend, Opened, key, ticks};
use pstn_agent::model::Secret;
use pstn_agent::state::postgres::Unit;
use pstn_agent::state::{Commit, Fence, StateConfig, StateError, StateStore};
use std::future::Future;
use std::pin::Pin;
use std::time::Duration;
use tokio_postgres::Transaction;

/// A fence that looks inside the transaction (it sees the commit's own keys, not yet
/// committed) and refuses.
struct MovedOn;

impl Fence for MovedOn {
    fn check<'a>(
        &'a self,
        transaction: &'a Transaction<'a>,
        unit: &'a Unit,
    ) -> Pin<Box<dyn Future<Output = Result<(), String>> + Send + 'a>> {
        Box::pin(async move {
            let keys: i64 = transaction
                .query_one("SELECT count(*) FROM delivered", &[])
                .await
                .map_err(|error| error.to_string())?
                .get(0);
            Err(format!(
                "the lease on {}/{} moved on ({keys} keys in this transaction)",
                unit.source, unit.tenant_id
            ))
        })
    }
}

/// A fence that lets the commit through.
struct Held;

impl Fence for Held {
    fn check<'a>(
        &'a self,
        _transaction: &'a Transaction<'a>,
        _unit: &'a Unit,
    ) -> Pin<Box<dyn Future<Output = Result<(), String>> + Send + 'a>> {
        Box::pin(async { Ok(()) })
    }
}

#[tokio::test]
async fn a_commit_the_fence_refuses_leaves_keys_cursors_and_ledgers_untouched() {
    let Some(opened) = Opened::new(Backend::Postgres).await else {
        return;
    };
    let state = opened.source("a").await;
    state
        .replace_cursors(vec![(Duration::ZERO, ticks(0))])
        .await
        .unwrap();
    let commit = || Commit {
        delivered: vec![(key(1), ticks(10)), (key(2), ticks(20))],
        cursors: vec![(Duration::ZERO, ticks(30))],
        plan_usage: vec![("1970-01".into(), "MCOPSTN1", 60.0)],
        chargeback: Vec::new(),
    };
    let error = state
        .commit_fenced(commit(), Some(&MovedOn))
        .await
        .unwrap_err();
    assert!(matches!(error, StateError::Fenced(_)), "{error}");
    assert!(
        error
            .to_string()
            .contains("a/t moved on (2 keys in this transaction)"),
        "{error}"
    );
    let (_, unseen) = state.unseen(vec![(key(1), ticks(10))]).await.unwrap();
    assert_eq!(unseen, [true], "the keys were rolled back");
    assert_eq!(state.cursors().await.unwrap(), [(Duration::ZERO, ticks(0))]);
    assert!(state.plan_usage("1970-01".into()).await.unwrap().is_empty());
    state.commit_fenced(commit(), Some(&Held)).await.unwrap();
    assert_eq!(
        state.cursors().await.unwrap(),
        [(Duration::ZERO, ticks(30))]
    );
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
