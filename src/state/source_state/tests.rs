//! Commits, reopen, pruning and the monthly sums of one source's state.

use super::super::SqliteStore;
use super::*;
use crate::facts::Dimension;

fn month(text: &str) -> Month {
    Month::parse(text).unwrap()
}

fn month_sum(micros: i64, seconds: f64) -> MonthSum {
    MonthSum {
        month: month("1970-01"),
        dimension: Dimension::Department,
        value: "Sales".into(),
        currency: "EUR".into(),
        micros,
        seconds,
    }
}

fn key(n: u8) -> Vec<u8> {
    vec![n; 16]
}

#[test]
fn committed_ids_are_seen_after_a_reopen_and_pruned_by_start() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path()).unwrap();
    let state = store.source("a", "pstn_calls", "t").unwrap();
    state
        .replace_cursors(&[(Duration::ZERO, Timestamp::from_ticks(0))])
        .unwrap();
    let commit = Commit {
        delivered: vec![
            (key(1), Timestamp::from_ticks(10)),
            (key(2), Timestamp::from_ticks(20)),
        ],
        cursors: vec![(Duration::ZERO, Timestamp::from_ticks(30))],
        plan_usage: vec![
            PlanUsage {
                month: month("1970-01"),
                license: "MCOPSTN1",
                seconds: 60.0,
            },
            PlanUsage {
                month: month("1970-01"),
                license: "MCOPSTN1",
                seconds: 30.0,
            },
        ],
        chargeback: vec![month_sum(100, 60.0), month_sum(250, 30.0)],
    };
    state.commit(&commit).unwrap();
    drop(state);
    drop(store);

    let reopened = SqliteStore::open(dir.path())
        .unwrap()
        .source("a", "pstn_calls", "t")
        .unwrap();
    assert_eq!(
        reopened
            .unseen(&[
                (key(1), Timestamp::from_ticks(10)),
                (key(3), Timestamp::from_ticks(10))
            ])
            .unwrap(),
        [false, true]
    );
    assert_eq!(
        reopened.cursors().unwrap(),
        [(Duration::ZERO, Timestamp::from_ticks(30))]
    );
    assert_eq!(
        reopened.plan_usage(month("1970-01")).unwrap(),
        [("MCOPSTN1".to_owned(), 90.0)]
    );
    assert_eq!(
        reopened.chargeback(month("1970-01")).unwrap(),
        [month_sum(350, 90.0)],
        "sums of one month, value and currency add up across commits"
    );
    assert!(reopened.chargeback(month("1970-02")).unwrap().is_empty());
    assert_eq!(
        reopened.prune(Timestamp::from_ticks(15), || true).unwrap(),
        1
    );
    assert_eq!(
        reopened
            .unseen(&[
                (key(1), Timestamp::from_ticks(10)),
                (key(2), Timestamp::from_ticks(20))
            ])
            .unwrap(),
        [true, false]
    );
}

#[test]
fn sources_do_not_see_each_others_ids() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path()).unwrap();
    let a = store.source("a", "pstn_calls", "t").unwrap();
    let b = store.source("b", "pstn_calls", "t").unwrap();
    a.commit(&Commit {
        delivered: vec![(key(1), Timestamp::from_ticks(1))],
        cursors: Vec::new(),
        plan_usage: Vec::new(),
        chargeback: Vec::new(),
    })
    .unwrap();
    assert_eq!(
        b.unseen(&[(key(1), Timestamp::from_ticks(1))]).unwrap(),
        [true]
    );
}

#[test]
fn a_source_reconfigured_for_another_tenant_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path()).unwrap();
    drop(store.source("a", "pstn_calls", "t1").unwrap());
    let error = store.source("a", "pstn_calls", "t2").unwrap_err();
    assert!(error.to_string().contains("new name"), "{error}");
}

#[test]
fn pruning_goes_in_slices_and_stops_between_them_when_asked() {
    let dir = tempfile::tempdir().unwrap();
    let state = SqliteStore::open(dir.path())
        .unwrap()
        .source("a", "pstn_calls", "t")
        .unwrap();
    let rows = 3 * PRUNE_SLICE as usize + 5;
    let delivered = (0..rows)
        .map(|n| {
            (
                (n as u64).to_be_bytes().to_vec(),
                Timestamp::from_ticks(n as i64),
            )
        })
        .collect();
    state
        .commit(&Commit {
            delivered,
            ..Commit::default()
        })
        .unwrap();
    let end = Timestamp::from_ticks(rows as i64);
    // Asked to stop after the first slice: one slice went, the rest stays.
    assert_eq!(state.prune(end, || false).unwrap(), PRUNE_SLICE as usize);
    // Let run: everything older than `end` goes, slice by slice.
    assert_eq!(
        state.prune(end, || true).unwrap(),
        rows - PRUNE_SLICE as usize
    );
    assert_eq!(state.prune(end, || true).unwrap(), 0);
}

#[test]
fn a_tenants_page_cache_is_its_share_of_the_sources_within_sqlites_default() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path()).unwrap();
    // Read after a rest: the connection opened again keeps the share.
    let cache_kib = |state: &SqliteSource| -> i64 {
        state.rest();
        -state
            .with(|connection| {
                connection.query_row("PRAGMA cache_size", [], |row| row.get::<_, i64>(0))
            })
            .unwrap()
    };
    let alone = store.source("single", "pstn_calls", "t").unwrap();
    assert_eq!(cache_kib(&alone), 2_000, "SQLite's default, untouched");
    let one_of = |count: usize| {
        store
            .tenant_source("customers", "pstn_calls", &format!("t{count}"), count)
            .unwrap()
    };
    assert_eq!(
        cache_kib(&one_of(1)),
        2_000,
        "a list of one: as a source alone"
    );
    assert_eq!(cache_kib(&one_of(10)), 1_600);
    assert_eq!(cache_kib(&one_of(100)), 160);
    assert_eq!(cache_kib(&one_of(1_000)), 16);
    assert_eq!(cache_kib(&one_of(5_000)), 16, "never below four pages");
}

#[test]
fn a_source_at_rest_holds_no_connection_and_its_next_use_opens_one_on_the_same_state() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path()).unwrap();
    let state = store
        .tenant_source("customers", "pstn_calls", "t", 1_000)
        .unwrap();
    let start = Timestamp::from_ticks(10);
    state
        .replace_cursors(&[(Duration::ZERO, Timestamp::from_ticks(0))])
        .unwrap();
    state
        .commit(&Commit {
            delivered: vec![(key(1), start)],
            cursors: vec![(Duration::ZERO, Timestamp::from_ticks(30))],
            ..Commit::default()
        })
        .unwrap();
    assert!(state.connection.is_open());
    state.rest();
    assert!(!state.connection.is_open());
    // A clone shares the connection: at rest for both, open again for both.
    let clone = state.clone();
    assert_eq!(
        clone.unseen(&[(key(1), start), (key(2), start)]).unwrap(),
        [false, true]
    );
    assert!(state.connection.is_open());
    assert_eq!(
        state.cursors().unwrap(),
        [(Duration::ZERO, Timestamp::from_ticks(30))]
    );
    // The store's own connection keeps the WAL while every source rests.
    state.rest();
    assert!(dir.path().join("state.sqlite3-wal").exists());
}
