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

mod refused_records;
