use super::*;
use crate::metrics::{Metrics, SourceCadence, SourceId};
use crate::source::recent::RecentKeys;
use crate::state::{Commit, StateStore};

async fn preparer(dir: &std::path::Path) -> Preparer {
    let state = StateStore::open(dir)
        .unwrap()
        .source("pstn", "pstn_calls", "t")
        .await
        .unwrap();
    let cadence = SourceCadence {
        poll_interval: Duration::from_secs(300),
        real_poll_interval: Duration::from_secs(300),
    };
    Preparer {
        source: "pstn".into(),
        kind: LogKind::Pstn,
        encoder: EventEncoder::new("pstn", "t", LogKind::Pstn),
        state,
        telemetry: Metrics::new()
            .unwrap()
            .source(SourceId::test("pstn"), LogKind::Pstn, cadence),
        bad_rows: BadRowLog::default(),
        directory: None,
        recent: RecentKeys::default(),
        lines: Default::default(),
        spare_rows: Vec::new(),
        spare_facts: Vec::new(),
    }
}

/// Two calls keyed by their GUIDs and one by a text id (never cached).
fn page() -> Page {
    let body = r#"{"value":[
        {"id":"9c4984c7-6c3c-427d-a30c-bd0b2eacee90","startDateTime":"2024-05-01T00:00:01Z"},
        {"id":"9c4984c7-6c3c-427d-a30c-bd0b2eacee91","startDateTime":"2024-05-01T00:00:02Z"},
        {"id":"not-a-guid","startDateTime":"2024-05-01T00:00:03Z"}]}"#;
    Page::parse(bytes::Bytes::from(body)).unwrap()
}

#[tokio::test]
async fn rows_committed_lately_are_known_without_asking_state_and_prepared_rows_are_not() {
    let (committed, empty) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let mut preparer = preparer(committed.path()).await;
    let observed = Timestamp::from_unix_seconds(1_714_600_000);
    let first = preparer.prepare(&page(), observed).await.unwrap();
    assert_eq!(first.delivered.len(), 3);
    let again = preparer.prepare(&page(), observed).await.unwrap();
    assert_eq!(
        again.delivered.len(),
        3,
        "prepared but not committed: still new"
    );

    let pending = RecentKeys::pending(&first.delivered);
    let commit = Commit {
        delivered: first.delivered,
        ..Commit::default()
    };
    preparer.state.commit(commit).await.unwrap();
    preparer.recent.remember(pending);
    // State without those keys behind the same cache: the calls' GUID keys are answered
    // by the cache alone, the text id is asked of state (which has not seen it).
    preparer.state = self::preparer(empty.path()).await.state;
    let swept = preparer.prepare(&page(), observed).await.unwrap();
    assert_eq!(swept.duplicates, 2);
    assert_eq!(swept.delivered.len(), 1);
    assert_eq!(
        swept.delivered[0].0,
        DedupeKey::of("not-a-guid").into_bytes()
    );
}

#[tokio::test]
async fn a_page_of_rows_committed_lately_costs_no_database_round() {
    let (committed, broken) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let mut preparer = preparer(committed.path()).await;
    let observed = Timestamp::from_unix_seconds(1_714_600_000);
    let first = preparer.prepare(&page(), observed).await.unwrap();
    preparer
        .recent
        .remember(RecentKeys::pending(&first.delivered));
    // Behind the cache, a state whose table of delivered keys is gone: any look-up fails.
    preparer.state = self::preparer(broken.path()).await.state;
    rusqlite::Connection::open(broken.path().join(crate::state::DATABASE_FILE))
        .unwrap()
        .execute_batch("DROP TABLE delivered")
        .unwrap();
    assert!(
        preparer.prepare(&page(), observed).await.is_err(),
        "the text id is asked of state"
    );
    let calls = r#"{"value":[
        {"id":"9c4984c7-6c3c-427d-a30c-bd0b2eacee90","startDateTime":"2024-05-01T00:00:01Z"},
        {"id":"9c4984c7-6c3c-427d-a30c-bd0b2eacee91","startDateTime":"2024-05-01T00:00:02Z"}]}"#;
    let calls = Page::parse(bytes::Bytes::from(calls)).unwrap();
    let known = preparer.prepare(&calls, observed).await.unwrap();
    assert_eq!((known.duplicates, known.delivered.len()), (2, 0));
}

#[tokio::test]
async fn a_batchs_line_buffer_serves_the_next_page_once_the_sinks_drop_it() {
    let dir = tempfile::tempdir().unwrap();
    let mut preparer = preparer(dir.path()).await;
    let observed = Timestamp::from_unix_seconds(1_714_600_000);
    let first = preparer.prepare(&page(), observed).await.unwrap();
    let batch = std::sync::Arc::new(first.batch.unwrap());
    let (address, held) = (batch.lines.as_ptr(), std::sync::Arc::clone(&batch));
    drop(batch);
    assert_eq!(preparer.lines.idle().0, 0, "a sink still holds the batch");
    drop(held);
    assert_eq!(preparer.lines.idle().0, 1);
    let next = preparer.prepare(&page(), observed).await.unwrap();
    assert_eq!(next.batch.unwrap().lines.as_ptr(), address);
}

#[tokio::test]
async fn the_rows_index_and_the_facts_of_one_page_are_reused_by_the_next() {
    let dir = tempfile::tempdir().unwrap();
    let mut preparer = preparer(dir.path()).await;
    let observed = Timestamp::from_unix_seconds(1_714_600_000);
    preparer.prepare(&page(), observed).await.unwrap();
    let (address, room) = (preparer.spare_rows.as_ptr(), preparer.spare_rows.capacity());
    assert!(room >= 3 && preparer.spare_rows.is_empty());
    let counted = preparer.prepare(&page(), observed).await.unwrap().facts;
    assert_eq!(preparer.spare_rows.as_ptr(), address);
    let facts = counted.as_ptr();
    preparer.give_back(counted);
    let next = preparer.prepare(&page(), observed).await.unwrap();
    assert_eq!((next.facts.as_ptr(), next.facts.len()), (facts, 3));
}
