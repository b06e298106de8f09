//! `pstn-agent state copy`: SQLite's state, exactly, into PostgreSQL; a second run on
//! PostgreSQL after the copy reads nothing twice.

use super::common::postgres::Postgres;
use super::common::{Harness, NOW, at};
use super::{key, ticks};
use pstn_agent::config::{Config, Environment};
use pstn_agent::facts::MonthSum;
use pstn_agent::model::LogKind;
use pstn_agent::simulate::{Lateness, SimulatorOptions};
use pstn_agent::state::{
    Commit, DirectoryFailures, DirectorySyncMark, DirectoryWrite, PgStore, StateStore,
    StoredTotals, StoredUser,
};
use pstn_agent::time::Clock;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

/// The config of the harness's PSTN source and file sink, with `[state]` lines.
fn config_text(harness: &Harness, state: &str) -> String {
    let url = harness.simulator.url();
    format!(
        "data_dir = \"{data}\"\n{state}\n[sources.tenant]\ntype = \"pstn_calls\"\ntenant_id = \"contoso.onmicrosoft.com\"\nclient_id = \"11111111-1111-1111-1111-111111111111\"\nclient_secret = \"secret\"\nauthority_url = \"{url}\"\ngraph_url = \"{url}\"\nrequests_per_minute = 60000\nlookback = \"1d\"\n[sinks.archive]\ntype = \"file\"\npath = \"{out}\"\ninputs = [\"tenant\"]\nretry_max_duration = \"2s\"\n",
        data = harness.dir.path().join("state").display(),
        out = harness.output().display(),
    )
}

fn state_copy(config: &Path, force: bool) -> (bool, String) {
    let mut command = Command::new(env!("CARGO_BIN_EXE_pstn-agent"));
    command.args(["state", "copy", "--config"]).arg(config);
    if force {
        command.arg("--force");
    }
    let output = command.output().unwrap();
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_on_postgres_after_the_copy_delivers_nothing_twice() {
    let Some(cluster) = Postgres::start() else {
        return;
    };
    let harness = Harness::start(SimulatorOptions {
        seed: 7,
        calls_per_day: 500.0,
        lateness: Lateness::None,
        ..SimulatorOptions::default()
    })
    .await;
    let parse = |text: &str| {
        Config::parse(text, Path::new("/"), &Environment::fixed([]))
            .unwrap_or_else(|problems| panic!("{problems:?}"))
    };
    let on_sqlite = parse(&config_text(&harness, ""));
    assert_eq!(harness.once(&on_sqlite).await.exit_code(), 0);
    let first = harness.events().len();
    assert!(first > 100, "the first run on SQLite delivered {first}");

    let text = config_text(
        &harness,
        &format!("[state]\npostgres_url = \"{}\"", cluster.url()),
    );
    let file = harness.dir.path().join("replicas.toml");
    std::fs::write(&file, &text).unwrap();
    let (copied, said) = state_copy(&file, false);
    assert!(copied, "{said}");
    assert!(
        said.contains("copied source tenant (tenant contoso.onmicrosoft.com)"),
        "{said}"
    );
    let (again, said) = state_copy(&file, false);
    assert!(
        !again && said.contains("already has state in PostgreSQL") && said.contains("--force"),
        "{said}"
    );
    let (forced, said) = state_copy(&file, true);
    assert!(forced, "{said}");

    // Two hours later, on PostgreSQL: only the calls since, each once.
    harness.clock.advance(Duration::from_secs(2 * 3600));
    assert_eq!(harness.once(&parse(&text)).await.exit_code(), 0);
    let counts = harness.delivery_counts();
    let twice: Vec<_> = counts.iter().filter(|(_, count)| **count > 1).collect();
    assert!(twice.is_empty(), "delivered twice: {twice:?}");
    assert!(
        counts.len() > first,
        "the run on PostgreSQL read the new calls ({} then {})",
        first,
        counts.len()
    );
    let expected = harness.expected_ids(
        LogKind::Pstn,
        at(NOW).saturating_sub(Duration::from_secs(86_400)),
        at(NOW),
        harness.clock.now(),
    );
    let missing = expected
        .iter()
        .filter(|id| !counts.contains_key(*id))
        .count();
    assert_eq!(missing, 0, "rows of the first day missing after the copy");
}

#[tokio::test]
async fn every_kind_of_row_is_copied_exactly() {
    let Some(cluster) = Postgres::start() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    write_one_of_each_kind(dir.path()).await;
    let postgres = PgStore::new(&cluster.url()).unwrap();
    let report = pstn_agent::state::copy(dir.path(), &postgres, false)
        .await
        .unwrap();
    assert_eq!(
        report,
        [
            ("a".to_owned(), "t".to_owned(), 10),
            ("d".to_owned(), "t".to_owned(), 1)
        ]
    );

    let sqlite = StateStore::open(dir.path()).unwrap();
    let other_dir = tempfile::tempdir().unwrap();
    let config = pstn_agent::state::StateConfig {
        postgres_url: Some(pstn_agent::model::Secret::new(cluster.url())),
        ..Default::default()
    };
    let pg = StateStore::open_configured(&config, other_dir.path())
        .await
        .unwrap();
    for store in [&sqlite, &pg] {
        assert_holds_one_of_each_kind(store).await;
    }
}

/// One of each kind of row in a fresh SQLite state in `dir`: cursors, delivered keys,
/// plan usage, a chargeback sum, directory users with a deltaLink and failures, and a
/// dial-out report's totals.
async fn write_one_of_each_kind(dir: &Path) {
    let sqlite = StateStore::open(dir).unwrap();
    let state = sqlite.source("a", "pstn_calls", "t").await.unwrap();
    state
        .replace_cursors(vec![
            (Duration::ZERO, ticks(30)),
            (Duration::from_secs(3600), ticks(20)),
        ])
        .await
        .unwrap();
    let sum = MonthSum {
        month: super::january(),
        dimension: pstn_agent::facts::Dimension::Department,
        value: "Sales".into(),
        currency: "EUR".into(),
        micros: 125,
        seconds: 61.5,
    };
    state
        .commit(Commit {
            delivered: vec![(key(1), ticks(10)), (key(2), ticks(20))],
            cursors: Vec::new(),
            plan_usage: vec![super::plan_usage("MCOPSTN1", 90.5)],
            chargeback: vec![sum],
        })
        .await
        .unwrap();
    let directory = state.directory().await.unwrap();
    directory
        .write(DirectoryWrite {
            users: vec![
                ("u1".into(), Some(b"{\"department\":\"Sales\"}".to_vec())),
                ("u2".into(), None),
            ],
            read_at: Some(ticks(5)),
            mark: Some(DirectorySyncMark {
                delta_link: Some("https://graph/users/delta?$deltatoken=abc".into()),
                selected: "id,department".into(),
                synced_at: ticks(7),
            }),
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
    let report = sqlite
        .source("d", "pstn_dialout_report", "t")
        .await
        .unwrap();
    report
        .commit_dialout(
            "2024-05-20".into(),
            vec![(
                b"row".to_vec(),
                StoredTotals {
                    calls: 3,
                    seconds: 180,
                    charge_micros: 42,
                },
            )],
        )
        .await
        .unwrap();
}

/// `store` holds exactly what [`write_one_of_each_kind`] wrote.
async fn assert_holds_one_of_each_kind(store: &StateStore) {
    let state = store.source("a", "pstn_calls", "t").await.unwrap();
    assert_eq!(
        state.cursors().await.unwrap(),
        [
            (Duration::ZERO, ticks(30)),
            (Duration::from_secs(3600), ticks(20))
        ]
    );
    let (_, unseen) = state
        .unseen(vec![
            (key(1), ticks(10)),
            (key(2), ticks(20)),
            (key(3), ticks(20)),
        ])
        .await
        .unwrap();
    assert_eq!(unseen, [false, false, true]);
    assert_eq!(
        state.plan_usage(super::january()).await.unwrap(),
        [("MCOPSTN1".to_owned(), 90.5)]
    );
    assert_eq!(
        state.chargeback(super::january()).await.unwrap()[0].micros,
        125
    );
    let directory = state.directory().await.unwrap();
    assert_eq!(
        directory
            .users(vec!["u1".into(), "u2".into(), "u3".into()])
            .await
            .unwrap(),
        [
            StoredUser::Known(b"{\"department\":\"Sales\"}".to_vec()),
            StoredUser::Unknown,
            StoredUser::Missing
        ]
    );
    let mark = directory.mark().await.unwrap().unwrap();
    assert_eq!(
        mark.delta_link.as_deref(),
        Some("https://graph/users/delta?$deltatoken=abc")
    );
    assert_eq!(
        (mark.selected.as_str(), mark.synced_at),
        ("id,department", ticks(7))
    );
    assert_eq!(directory.failures().await.unwrap().unwrap().rounds, 2);
    let report = store.source("d", "pstn_dialout_report", "t").await.unwrap();
    assert_eq!(
        report.dialout_totals("2024-05-20".into()).await.unwrap()[0]
            .1
            .charge_micros,
        42
    );
}
