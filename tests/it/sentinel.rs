//! The `azure_logs_ingestion` sink against the simulator's Logs Ingestion stand-in:
//! every call reaches its kind's stream once, gzipped, as a flat record; 413 splits,
//! a record over the limit is dead-lettered, 429 is waited out, 401 gets one fresh
//! token, 403 names the role, and a failure half way through a batch repeats nothing.
//! (The stand-in's own answers: tests/it/sentinel_stand_in.rs.)

use crate::common;

use common::Harness;
use pstn_agent::config::{Config, Environment, SinkKind};
use pstn_agent::event::EventEncoder;
use pstn_agent::metrics::Metrics;
use pstn_agent::model::{LogKind, Row};
use pstn_agent::simulate::SimulatorOptions;
use pstn_agent::sinks::{AzureLogsSink, Batch, DeadLetters, SinkHandle, SinkTaskOptions};
use pstn_agent::time::Timestamp;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

const DCR: &str = "dcr-0123456789abcdef0123456789abcdef";

fn options() -> SimulatorOptions {
    SimulatorOptions {
        calls_per_day: 1500.0,
        client_secret: Some("secret".into()),
        ..SimulatorOptions::default()
    }
}

/// Both kinds of call log, a file sink (what was read) and the Sentinel sink.
fn config(harness: &Harness, sentinel_extra: &str) -> Config {
    config_retrying(harness, sentinel_extra, "3s")
}

/// The same, with the Sentinel sink's `retry_max_duration`.
fn config_retrying(harness: &Harness, sentinel_extra: &str, retry_max: &str) -> Config {
    let url = harness.simulator.url();
    let source = |name: &str, kind: LogKind| {
        format!(
            "[sources.{name}]\ntype = \"{}\"\ntenant_id = \"contoso.onmicrosoft.com\"\nclient_id = \"11111111-1111-1111-1111-111111111111\"\n\
             client_secret = \"secret\"\nauthority_url = \"{url}\"\ngraph_url = \"{url}\"\nrequests_per_second = 1000\nlookback = \"2d\"\n",
            kind.source_type()
        )
    };
    let text = format!(
        "data_dir = \"{data}\"\n{pstn}{dr}\
         [sinks.archive]\ntype = \"file\"\npath = \"{out}\"\ninputs = [\"pstn\", \"dr\"]\n\
         [sinks.sentinel]\ntype = \"azure_logs_ingestion\"\ninputs = [\"pstn\", \"dr\"]\nendpoint = \"{url}\"\n\
         dcr_immutable_id = \"{DCR}\"\ntenant_id = \"contoso.onmicrosoft.com\"\nclient_id = \"22222222-2222-2222-2222-222222222222\"\n\
         client_secret = \"secret\"\nauthority_url = \"{url}\"\nretry_max_duration = \"{retry_max}\"\n{sentinel_extra}\n",
        data = harness.dir.path().join("state").display(),
        pstn = source("pstn", LogKind::Pstn),
        dr = source("dr", LogKind::DirectRouting),
        out = harness.output().display(),
    );
    Config::parse(&text, std::path::Path::new("/"), &Environment::fixed([]))
        .unwrap_or_else(|problems| panic!("{problems:?}"))
}

/// How many records each row id reached the stand-in in, and in which stream.
fn ingested(harness: &Harness) -> (HashMap<String, usize>, HashMap<String, String>) {
    let (mut counts, mut streams) = (HashMap::new(), HashMap::new());
    for record in harness.simulator.ingestion.records() {
        let id = record.record["rowId"].as_str().unwrap().to_owned();
        *counts.entry(id.clone()).or_insert(0) += 1;
        streams.insert(id, record.stream);
    }
    (counts, streams)
}

/// Every row read was ingested exactly once, in its kind's default stream. (The file
/// sink may hold a row twice after a run the Sentinel sink failed: it is read again.)
fn assert_each_row_once(harness: &Harness) {
    let read: HashMap<String, serde_json::Value> = harness.events().into_iter().collect();
    assert!(read.len() > 1000, "a real volume: {}", read.len());
    let (counts, streams) = ingested(harness);
    assert_eq!(counts.len(), read.len(), "every row read was ingested");
    assert!(counts.values().all(|n| *n == 1), "a row ingested twice");
    for (id, event) in &read {
        let expected = match event["kind"].as_str() {
            Some("pstn_call") => "Custom-PstnCalls",
            _ => "Custom-DirectRoutingCalls",
        };
        assert_eq!(streams[id], expected);
    }
}

#[tokio::test]
async fn every_call_reaches_its_kinds_stream_once_gzipped_as_a_flat_record() {
    let harness = Harness::start(options()).await;
    let report = harness.once(&config(&harness, "")).await;
    assert_eq!(report.exit_code(), 0, "{:?}", report.failed);
    assert_each_row_once(&harness);
    let ingestion = &harness.simulator.ingestion;
    assert!(ingestion.gzipped().iter().all(|gzip| *gzip));
    let records = ingestion.records();
    assert!(records.iter().all(|r| r.dcr == DCR));
    let record = &records[0].record;
    assert_eq!(record["EntraTenantId"], "contoso.onmicrosoft.com");
    assert_eq!(record["TimeGenerated"], record["startDateTime"]);
    // Twice a run reads nothing new: nothing is sent again.
    let before = records.len();
    harness.once(&config(&harness, "")).await;
    assert_eq!(ingestion.records().len(), before);
}

#[tokio::test]
async fn redaction_applies_before_the_record_is_built() {
    let harness = Harness::start(options()).await;
    let redact = "redact = { drop = [\"callerNumber\"], hash = [\"calleeNumber\"], key = \"0123456789abcdef0123456789abcdef\" }";
    let report = harness.once(&config(&harness, redact)).await;
    assert_eq!(report.exit_code(), 0, "{:?}", report.failed);
    for record in harness.simulator.ingestion.records() {
        assert!(record.record.get("callerNumber").is_none());
        let callee = record.record["calleeNumber"].as_str().unwrap();
        assert!(callee.starts_with("hmac-sha256:"), "{callee}");
    }
}

#[tokio::test]
async fn a_413_splits_the_request_until_it_fits_and_nothing_is_lost_or_repeated() {
    let harness = Harness::start(options()).await;
    harness.simulator.ingestion.limit_bytes(40_000);
    let report = harness.once(&config(&harness, "")).await;
    assert_eq!(report.exit_code(), 0, "{:?}", report.failed);
    assert!(harness.simulator.ingestion.statuses().contains(&413));
    assert_each_row_once(&harness);
}

#[tokio::test]
async fn a_failure_half_way_through_a_batch_does_not_send_its_first_half_again() {
    let harness = Harness::start(options()).await;
    let ingestion = &harness.simulator.ingestion;
    // Small requests, so one batch takes many; the fifth request fails with a 503.
    ingestion.limit_bytes(100_000);
    ingestion.fail_requests([5]);
    let report = harness.once(&config(&harness, "")).await;
    assert_eq!(report.exit_code(), 0, "{:?}", report.failed);
    assert_eq!(ingestion.statuses()[4], 503);
    assert_each_row_once(&harness);
}

#[tokio::test]
async fn a_429_with_retry_after_is_waited_out_and_a_revoked_token_replaced_once() {
    let harness = Harness::start(options()).await;
    let ingestion = &harness.simulator.ingestion;
    ingestion.throttle(2, 429, 1);
    ingestion.revoke_next(1);
    let tokens_before = harness.simulator.stats.token_requests();
    let report = harness.once(&config(&harness, "")).await;
    assert_eq!(report.exit_code(), 0, "{:?}", report.failed);
    let statuses = ingestion.statuses();
    assert_eq!(statuses.iter().filter(|s| **s == 429).count(), 2);
    assert_eq!(statuses.iter().filter(|s| **s == 401).count(), 1);
    // Graph's two sources got one token each; the sink one, then one fresh after the 401.
    let tokens = harness.simulator.stats.token_requests() - tokens_before;
    assert_eq!(tokens, 4);
    assert_each_row_once(&harness);
}

#[tokio::test]
async fn a_retry_after_longer_than_the_sink_sits_out_holds_the_next_request_back_that_long() {
    let harness = Harness::start(options()).await;
    let ingestion = &harness.simulator.ingestion;
    // Past the 5 s the sink waits out itself: the source's backoff (quick in tests,
    // milliseconds) must still wait for it.
    ingestion.throttle(1, 429, 6);
    let report = harness.once(&config_retrying(&harness, "", "60s")).await;
    assert_eq!(report.exit_code(), 0, "{:?}", report.failed);
    let answers = ingestion.answers();
    assert_eq!(answers[0].0, 429);
    let waited = answers[1].1 - answers[0].1;
    assert!(waited >= Duration::from_secs(6), "{waited:?}");
    assert_each_row_once(&harness);
}

#[tokio::test]
async fn once_gives_up_at_once_on_a_retry_after_past_its_retry_max_duration() {
    let harness = Harness::start(options()).await;
    harness.simulator.ingestion.throttle(1, 503, 120);
    let started = std::time::Instant::now();
    let report = harness.once(&config(&harness, "")).await;
    assert_eq!(report.exit_code(), 1);
    let why = format!("{:?}", report.failed);
    assert!(why.contains("503") && why.contains("120s"), "{why}");
    // Never asked again before Azure allows it, and not kept waiting for nothing.
    assert_eq!(harness.simulator.ingestion.statuses(), vec![503]);
    assert!(started.elapsed() < Duration::from_secs(30));
}

#[tokio::test]
async fn a_403_names_the_monitoring_metrics_publisher_role_and_delivery_resumes_once_granted() {
    let harness = Harness::start(options()).await;
    harness.simulator.ingestion.forbid(true);
    let report = harness.once(&config(&harness, "")).await;
    assert_eq!(report.exit_code(), 1);
    let why = format!("{:?}", report.failed);
    assert!(why.contains("Monitoring Metrics Publisher"), "{why}");
    assert!(why.contains(DCR) && why.contains("30 minutes"), "{why}");
    assert!(!why.contains("sim."), "no token in the message: {why}");
    assert!(harness.simulator.ingestion.records().is_empty());
    // The role applies: the next run delivers everything, once.
    harness.simulator.ingestion.forbid(false);
    let report = harness.once(&config(&harness, "")).await;
    assert_eq!(report.exit_code(), 0, "{:?}", report.failed);
    assert_each_row_once(&harness);
}

#[tokio::test]
async fn a_record_a_working_stream_refuses_alone_is_dead_lettered_and_the_rest_delivered() {
    let harness = Harness::start(options()).await;
    let read_first = harness.once(&config(&harness, "")).await;
    assert_eq!(read_first.exit_code(), 0);
    // A fresh agent (new state) reads the same rows; one of them is now refused.
    let victim = harness.simulator.ingestion.records()[10].record["rowId"]
        .as_str()
        .unwrap()
        .to_owned();
    harness.simulator.ingestion.clear_received();
    harness.simulator.ingestion.refuse_rows([victim.clone()]);
    std::fs::remove_dir_all(harness.dir.path().join("state")).unwrap();
    std::fs::remove_file(harness.output()).unwrap();
    let report = harness.once(&config(&harness, "")).await;
    assert_eq!(report.exit_code(), 0, "{:?}", report.failed);
    let (counts, _) = ingested(&harness);
    assert!(!counts.contains_key(&victim));
    assert_eq!(counts.len() + 1, harness.delivery_counts().len());
    assert!(counts.values().all(|n| *n == 1));
    let letters =
        std::fs::read_to_string(harness.dir.path().join("state/dead-letter/sentinel.jsonl"))
            .unwrap();
    assert_eq!(letters.lines().count(), 1);
    assert!(letters.contains(&victim) && letters.contains("refused the record alone (HTTP 400)"));
}

#[tokio::test]
async fn a_stream_that_refuses_every_record_fails_the_batch_and_dead_letters_nothing() {
    let harness = Harness::start(options()).await;
    let typo = "streams = { pstn_call = \"Custom-PstnCall\" }";
    let report = harness.once(&config(&harness, typo)).await;
    assert_eq!(report.exit_code(), 1);
    let why = format!("{:?}", report.failed);
    assert!(
        why.contains("refused stream Custom-PstnCall of data collection rule")
            && why.contains("InvalidStream")
            && why.contains("check the stream's name"),
        "{why}"
    );
    assert!(
        !harness
            .dir
            .path()
            .join("state/dead-letter/sentinel.jsonl")
            .exists()
    );
}

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
