//! Records the destination refuses one by one (dead-lettered, the rest delivered),
//! whole batches refused (failed, nothing dead-lettered) and connections cut: mostly
//! the sink fed batches by hand.

use super::*;

/// A PSTN batch of these rows.
fn batch_of(rows: &[String]) -> Batch {
    let encoder = EventEncoder::new("pstn", "contoso.onmicrosoft.com", LogKind::Pstn);
    let observed = Timestamp::parse("2024-05-20T12:00:00Z").unwrap();
    let (mut lines, mut events) = (Vec::new(), Vec::new());
    for raw in rows {
        let row = Row::parse(raw).unwrap();
        events.push(encoder.encode(
            &row,
            &pstn_agent::model::Enrichment::NONE,
            observed,
            &observed.to_string(),
            &mut lines,
        ));
    }
    Batch {
        lines: lines.into(),
        events,
    }
}

/// The Sentinel sink of `config` in its own task (with dead letters), outside a source.
fn spawn_sink(config: &Config, metrics: &Metrics) -> (SinkHandle, tokio::task::JoinHandle<()>) {
    let Some(SinkKind::AzureLogsIngestion(azure)) = config
        .sinks
        .iter()
        .find(|sink| sink.name == "sentinel")
        .map(|sink| &sink.kind)
    else {
        panic!("no sentinel sink")
    };
    let options = SinkTaskOptions {
        telemetry: metrics.sink("sentinel"),
        dead_letters: DeadLetters::new(
            &config.data_dir,
            "sentinel",
            metrics.dead_letters("sentinel"),
        ),
        retry_max_duration: Duration::from_secs(2),
    };
    let http = pstn_agent::topology::http_client().unwrap();
    let sink = AzureLogsSink::new("sentinel", azure, http).unwrap();
    SinkHandle::spawn("sentinel", Box::new(sink), options)
}

fn row(id: &str, extra: &str) -> String {
    format!(
        r#"{{"id":"{id}","startDateTime":"2024-05-20T10:00:00Z","callType":"user_out"{extra}}}"#
    )
}

#[tokio::test]
async fn a_single_record_refused_by_a_fresh_sink_is_dead_lettered_not_blamed_on_the_stream() {
    let harness = Harness::start(options()).await;
    let config = config(&harness, "");
    let metrics = Metrics::new().unwrap();
    let (handle, task) = spawn_sink(&config, &metrics);
    harness.simulator.ingestion.refuse_rows(["bad"]);
    handle
        .deliver(Arc::new(batch_of(&[row("bad", "")])))
        .await
        .unwrap();
    handle
        .deliver(Arc::new(batch_of(&[row("good", "")])))
        .await
        .unwrap();
    drop(handle);
    task.await.unwrap();
    let (counts, _) = ingested(&harness);
    assert_eq!(counts, HashMap::from([("good".into(), 1)]));
    let letters =
        std::fs::read_to_string(config.data_dir.join("dead-letter/sentinel.jsonl")).unwrap();
    assert!(letters.contains("\"id\":\"bad\"") && letters.contains("HTTP 400"));
}

#[tokio::test]
async fn a_record_over_the_request_limit_is_dead_lettered_and_the_rest_delivered() {
    let harness = Harness::start(options()).await;
    let config = config(&harness, "");
    let metrics = Metrics::new().unwrap();
    let (handle, task) = spawn_sink(&config, &metrics);
    let huge = format!(",\"note\":\"{}\"", "x".repeat(1_100_000));
    let batch = batch_of(&[row("good-1", ""), row("huge", &huge), row("good-2", "")]);
    handle.deliver(Arc::new(batch)).await.unwrap();
    drop(handle);
    task.await.unwrap();
    let (counts, _) = ingested(&harness);
    assert_eq!(
        counts,
        HashMap::from([("good-1".into(), 1), ("good-2".into(), 1)])
    );
    let letters =
        std::fs::read_to_string(config.data_dir.join("dead-letter/sentinel.jsonl")).unwrap();
    assert_eq!(letters.lines().count(), 1);
    assert!(
        letters.contains("over the Logs Ingestion limit"),
        "{}",
        &letters[..300]
    );
    assert!(
        metrics
            .encode()
            .contains("pstn_sink_dead_letter_events_total{sink=\"sentinel\"} 1")
    );
}

#[tokio::test]
async fn two_bad_rows_in_the_first_batch_after_start_are_dead_lettered_and_the_sink_goes_on() {
    let harness = Harness::start(options()).await;
    let config = config(&harness, "");
    let metrics = Metrics::new().unwrap();
    let (handle, task) = spawn_sink(&config, &metrics);
    harness.simulator.ingestion.refuse_rows(["bad-1", "bad-2"]);
    // A fresh sink whose first batch holds nothing but two bad rows: they are the
    // records' fault (a content error), not the stream's; nothing stops.
    handle
        .deliver(Arc::new(batch_of(&[row("bad-1", ""), row("bad-2", "")])))
        .await
        .unwrap();
    handle
        .deliver(Arc::new(batch_of(&[row("good", ""), row("bad-1", "")])))
        .await
        .unwrap();
    drop(handle);
    task.await.unwrap();
    let (counts, _) = ingested(&harness);
    assert_eq!(counts, HashMap::from([("good".into(), 1)]));
    let letters =
        std::fs::read_to_string(config.data_dir.join("dead-letter/sentinel.jsonl")).unwrap();
    assert_eq!(letters.lines().count(), 3, "{letters}");
    // Azure's own words go with each.
    assert!(
        letters
            .lines()
            .all(|l| l.contains("InvalidContent: A record could not be ingested"))
    );
}

#[tokio::test]
async fn after_three_wholly_refused_batches_the_next_fails_instead_of_going_to_dead_letters() {
    let harness = Harness::start(options()).await;
    let config = config(&harness, "");
    let metrics = Metrics::new().unwrap();
    let (handle, task) = spawn_sink(&config, &metrics);
    let ingestion = &harness.simulator.ingestion;
    // A DCR changed under the agent: every record refused as if its content were bad.
    ingestion.refuse_everything(Some((400, "InvalidContent")));
    for id in ["r-1", "r-2", "r-3"] {
        handle
            .deliver(Arc::new(batch_of(&[row(id, "")])))
            .await
            .unwrap();
    }
    let fourth = Arc::new(batch_of(&[row("r-4", ""), row("r-5", "")]));
    let error = handle.deliver(fourth.clone()).await.unwrap_err();
    assert!(error.is_retryable(), "{error}");
    let why = error.to_string();
    assert!(
        why.contains("refused every record of the last 4 batches") && why.contains(DCR),
        "{why}"
    );
    let letters = config.data_dir.join("dead-letter/sentinel.jsonl");
    assert_eq!(
        std::fs::read_to_string(&letters).unwrap().lines().count(),
        3
    );
    // Still refused when offered again; once the rule is fixed it goes in, and the
    // next bad record is dead-lettered again.
    assert!(handle.deliver(fourth.clone()).await.is_err());
    ingestion.refuse_everything(None);
    handle.deliver(fourth).await.unwrap();
    ingestion.refuse_rows(["r-6"]);
    handle
        .deliver(Arc::new(batch_of(&[row("r-6", "")])))
        .await
        .unwrap();
    drop(handle);
    task.await.unwrap();
    let (counts, _) = ingested(&harness);
    assert_eq!(
        counts,
        HashMap::from([("r-4".into(), 1), ("r-5".into(), 1)])
    );
    assert_eq!(
        std::fs::read_to_string(&letters).unwrap().lines().count(),
        4
    );
}

#[tokio::test]
async fn a_stream_or_rule_problem_or_a_413_for_a_small_record_fails_the_batch_and_dead_letters_nothing()
 {
    let harness = Harness::start(options()).await;
    let config = config(&harness, "");
    let metrics = Metrics::new().unwrap();
    let (handle, task) = spawn_sink(&config, &metrics);
    let ingestion = &harness.simulator.ingestion;
    let cases = [
        (400, "InvalidStream", "check the stream's name"),
        (404, "NotFound", "check endpoint, dcr_immutable_id"),
        (403, "OperationFailed", "Monitoring Metrics Publisher"),
        (413, "ContentLengthLimitExceeded", "far under the limit"),
    ];
    for (status, code, hint) in cases {
        ingestion.refuse_everything(Some((status, code)));
        let error = handle
            .deliver(Arc::new(batch_of(&[row("one", "")])))
            .await
            .unwrap_err();
        let why = error.to_string();
        assert!(error.is_retryable(), "{status}: {why}");
        assert!(why.contains(hint) && why.contains(code), "{status}: {why}");
    }
    ingestion.refuse_everything(None);
    handle
        .deliver(Arc::new(batch_of(&[row("one", "")])))
        .await
        .unwrap();
    drop(handle);
    task.await.unwrap();
    assert!(!config.data_dir.join("dead-letter/sentinel.jsonl").exists());
    let (counts, _) = ingested(&harness);
    assert_eq!(counts, HashMap::from([("one".into(), 1)]));
}

#[tokio::test]
async fn the_once_summary_counts_dead_lettered_rows_apart_from_delivered_ones() {
    let harness = Harness::start(options()).await;
    harness.simulator.ingestion.refuse_rows(["never-matches"]);
    let first = harness.once(&config(&harness, "")).await;
    assert_eq!(
        first.dead_lettered,
        vec![("archive".into(), 0), ("sentinel".into(), 0)]
    );
    // A fresh agent reads the same rows again; two of them are now refused.
    let records = harness.simulator.ingestion.records();
    let victims: Vec<String> = [3, 40]
        .iter()
        .map(|i| records[*i].record["rowId"].as_str().unwrap().to_owned())
        .collect();
    harness.simulator.ingestion.clear_received();
    harness.simulator.ingestion.refuse_rows(victims.clone());
    std::fs::remove_dir_all(harness.dir.path().join("state")).unwrap();
    let report = harness.once(&config(&harness, "")).await;
    assert_eq!(report.exit_code(), 0, "{:?}", report.failed);
    assert_eq!(
        report.dead_lettered,
        vec![("archive".into(), 0), ("sentinel".into(), 2)]
    );
    let (counts, _) = ingested(&harness);
    assert_eq!(counts.len(), records.len() - 2);
    assert!(victims.iter().all(|v| !counts.contains_key(v)));
}

#[tokio::test]
async fn a_connection_cut_before_the_answer_is_retried_and_nothing_is_lost_or_repeated() {
    let harness = Harness::start(options()).await;
    let ingestion = &harness.simulator.ingestion;
    // Small requests, so one batch takes many; two of them are cut off unanswered.
    ingestion.limit_bytes(100_000);
    ingestion.cut_requests([3, 7]);
    let report = harness.once(&config(&harness, "")).await;
    assert_eq!(report.exit_code(), 0, "{:?}", report.failed);
    let statuses = ingestion.statuses();
    assert_eq!((statuses[2], statuses[6]), (0, 0), "{statuses:?}");
    assert_each_row_once(&harness);
    // What the sink sees of a cut: a network error, offered again, not a status.
    let config = config(&harness, "");
    let (handle, _task) = spawn_sink(&config, &Metrics::new().unwrap());
    let next = ingestion.requests() + 1;
    ingestion.cut_requests([next]);
    let error = handle
        .deliver(Arc::new(batch_of(&[row("cut", "")])))
        .await
        .unwrap_err();
    assert!(
        error.is_retryable() && error.to_string().contains("network error"),
        "{error}"
    );
}
