//! The cases every backend must pass (run by `both!` in state_store.rs).

use super::{Backend, Opened, key, month_sum, ticks};
use pstn_agent::state::{
    Commit, DirectoryFailures, DirectorySyncMark, DirectoryWrite, StateError, StoredTotals,
    StoredUser,
};
use pstn_agent::time::Timestamp;
use std::time::Duration;

pub async fn committed_keys_cursors_and_ledgers_survive_a_reopen(backend: Backend) {
    let Some(opened) = Opened::new(backend).await else {
        return;
    };
    let state = opened.source("a").await;
    state
        .replace_cursors(vec![(Duration::ZERO, ticks(0))])
        .await
        .unwrap();
    let commit = || Commit {
        delivered: vec![
            (key(1), ticks(10)),
            (key(2), ticks(20)),
            (key(2), ticks(20)),
        ],
        cursors: vec![(Duration::ZERO, ticks(30))],
        plan_usage: vec![
            super::plan_usage("MCOPSTN1", 60.0),
            super::plan_usage("MCOPSTN1", 30.0),
        ],
        chargeback: vec![month_sum(100, 60.0), month_sum(250, 30.0)],
    };
    state.commit(commit()).await.unwrap();
    // The same batch again (delivered twice after a crash): keys stay once, sums add.
    state.commit(commit()).await.unwrap();
    drop(state);
    let opened = opened.reopen().await;
    let state = opened.source("a").await;
    let asked = vec![
        (key(1), ticks(10)),
        (key(3), ticks(10)),
        (key(1), ticks(11)),
    ];
    let (rows, unseen) = state.unseen(asked.clone()).await.unwrap();
    assert_eq!(rows, asked, "the rows come back with the answer");
    assert_eq!(
        unseen,
        [false, true, true],
        "a key is seen at its own call start"
    );
    assert_eq!(
        state.cursors().await.unwrap(),
        [(Duration::ZERO, ticks(30))]
    );
    assert_eq!(
        state.plan_usage(super::january()).await.unwrap(),
        [("MCOPSTN1".to_owned(), 180.0)]
    );
    assert!(
        state
            .plan_usage(pstn_agent::facts::Month::parse("1970-02").unwrap())
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        state.chargeback(super::january()).await.unwrap(),
        [month_sum(700, 180.0)]
    );
    let other = opened.source("b").await;
    let (_, unseen) = other.unseen(vec![(key(1), ticks(10))]).await.unwrap();
    assert_eq!(unseen, [true], "another source's keys are its own");
}

pub async fn cursors_are_replaced_as_a_set_and_each_source_has_its_own(backend: Backend) {
    let Some(opened) = Opened::new(backend).await else {
        return;
    };
    let (a, b) = (opened.source("a").await, opened.source("b").await);
    let minute = Duration::from_secs(60);
    a.replace_cursors(vec![(minute * 60, ticks(5)), (Duration::ZERO, ticks(7))])
        .await
        .unwrap();
    b.replace_cursors(vec![(minute, ticks(9))]).await.unwrap();
    assert_eq!(
        a.cursors().await.unwrap(),
        [(Duration::ZERO, ticks(7)), (minute * 60, ticks(5))],
        "shortest delay first"
    );
    a.replace_cursors(vec![(minute, ticks(8))]).await.unwrap();
    assert_eq!(a.cursors().await.unwrap(), [(minute, ticks(8))]);
    assert_eq!(b.cursors().await.unwrap(), [(minute, ticks(9))]);
    // A commit moves only the sweeps it names.
    let commit = Commit {
        cursors: vec![(minute, ticks(12))],
        ..Commit::default()
    };
    a.commit(commit).await.unwrap();
    assert_eq!(a.cursors().await.unwrap(), [(minute, ticks(12))]);
}

pub async fn pruning_goes_in_slices_and_stops_between_them_when_asked(backend: Backend) {
    let Some(opened) = Opened::new(backend).await else {
        return;
    };
    let state = opened.source("a").await;
    let slice = usize::try_from(pstn_agent::state::PRUNE_SLICE).unwrap();
    let delivered: Vec<(Vec<u8>, Timestamp)> = (0..slice + 5)
        .map(|n| ((n as u64).to_be_bytes().to_vec(), ticks(n as i64)))
        .collect();
    state
        .commit(Commit {
            delivered,
            ..Commit::default()
        })
        .await
        .unwrap();
    let before = ticks(slice as i64 + 3);
    assert_eq!(state.prune(before, || false).await.unwrap(), slice);
    assert_eq!(state.prune(before, || true).await.unwrap(), 3);
    let last = (slice as u64 + 4).to_be_bytes().to_vec();
    let (_, unseen) = state
        .unseen(vec![
            (0u64.to_be_bytes().to_vec(), ticks(0)),
            (last, ticks(slice as i64 + 4)),
        ])
        .await
        .unwrap();
    assert_eq!(
        unseen,
        [true, false],
        "pruned before, kept from `before` on"
    );
}

pub async fn dialout_totals_are_kept_per_day_and_row_and_pruned_by_day(backend: Backend) {
    let Some(opened) = Opened::new(backend).await else {
        return;
    };
    let state = opened
        .store
        .source("d", "pstn_dialout_report", "t")
        .await
        .unwrap();
    let other = opened
        .store
        .source("e", "pstn_dialout_report", "t")
        .await
        .unwrap();
    let totals = |calls| StoredTotals {
        calls,
        seconds: calls * 60,
        charge_micros: calls * 10,
    };
    let day = |text: &str| text.to_owned();
    state
        .commit_dialout(day("2024-05-19"), vec![(b"a".to_vec(), totals(1))])
        .await
        .unwrap();
    state
        .commit_dialout(
            day("2024-05-20"),
            vec![(b"a".to_vec(), totals(2)), (b"b".to_vec(), totals(3))],
        )
        .await
        .unwrap();
    state
        .commit_dialout(day("2024-05-20"), vec![(b"a".to_vec(), totals(5))])
        .await
        .unwrap();
    let mut kept = state.dialout_totals(day("2024-05-20")).await.unwrap();
    kept.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(
        kept,
        [(b"a".to_vec(), totals(5)), (b"b".to_vec(), totals(3))]
    );
    assert!(
        other
            .dialout_totals(day("2024-05-20"))
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(state.prune_dialout(day("2024-05-20")).await.unwrap(), 1);
    assert!(
        state
            .dialout_totals(day("2024-05-19"))
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        state.dialout_totals(day("2024-05-20")).await.unwrap().len(),
        2
    );
}

pub async fn the_directory_keeps_users_the_mark_and_failed_rounds_per_source(backend: Backend) {
    let Some(opened) = Opened::new(backend).await else {
        return;
    };
    let directory = opened.source("a").await.directory().await.unwrap();
    let other = opened.source("b").await.directory().await.unwrap();
    assert_eq!(directory.mark().await.unwrap(), None);
    let mark = DirectorySyncMark {
        delta_link: Some("https://graph/x?$deltatoken=1".into()),
        selected: "id,department".into(),
        synced_at: ticks(7),
    };
    directory
        .write(DirectoryWrite {
            users: vec![("u1".into(), Some(b"{}".to_vec())), ("u2".into(), None)],
            read_at: Some(ticks(5)),
            mark: Some(mark.clone()),
            remove_read_before: None,
        })
        .await
        .unwrap();
    let ids = |list: &[&str]| list.iter().map(|id| id.to_string()).collect::<Vec<_>>();
    assert_eq!(
        directory.users(ids(&["u1", "u2", "u3"])).await.unwrap(),
        [
            StoredUser::Known(b"{}".to_vec()),
            StoredUser::Unknown,
            StoredUser::Missing
        ]
    );
    assert_eq!(directory.mark().await.unwrap(), Some(mark));
    directory.forget_delta_link().await.unwrap();
    assert_eq!(directory.mark().await.unwrap().unwrap().delta_link, None);
    // A full read that saw only u2 and started at 6: u1 is gone from the directory.
    directory
        .write(DirectoryWrite {
            users: vec![("u2".into(), Some(b"{\"a\":1}".to_vec()))],
            read_at: Some(ticks(6)),
            mark: None,
            remove_read_before: Some(ticks(6)),
        })
        .await
        .unwrap();
    assert_eq!(
        directory.users(ids(&["u1", "u2"])).await.unwrap(),
        [
            StoredUser::Missing,
            StoredUser::Known(b"{\"a\":1}".to_vec())
        ]
    );
    assert_eq!(
        other.users(ids(&["u2"])).await.unwrap(),
        [StoredUser::Missing]
    );
    let failures = DirectoryFailures {
        rounds: 4,
        from_delta_link: 2,
        last_started: ticks(1_234_567),
    };
    assert_eq!(directory.failures().await.unwrap(), None);
    directory.set_failures(Some(failures)).await.unwrap();
    assert_eq!(directory.failures().await.unwrap(), Some(failures));
    assert_eq!(
        other.failures().await.unwrap(),
        None,
        "another source's are its own"
    );
    directory.set_failures(None).await.unwrap();
    assert_eq!(directory.failures().await.unwrap(), None);
}

pub async fn a_source_recorded_as_another_kind_is_refused(backend: Backend) {
    let Some(opened) = Opened::new(backend).await else {
        return;
    };
    drop(opened.source("a").await);
    let error = opened
        .store
        .source("a", "pstn_dialout_report", "t")
        .await
        .unwrap_err();
    assert!(matches!(error, StateError::Refused { .. }), "{error}");
    assert!(
        error.to_string().contains("give the source a new name"),
        "{error}"
    );
}
