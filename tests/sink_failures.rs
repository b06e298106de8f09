//! Sinks that refuse: --once gives up on a refusing sink after its
//! `retry_max_duration`, and an event a sink can never accept goes to its dead
//! letters (with the reason, counted) while the rest of its batch is delivered.

mod common;
#[path = "common/otlp.rs"]
mod receiver;

use common::Harness;
use pstn_agent::config::{Config, Environment, SinkKind};
use pstn_agent::event::EventEncoder;
use pstn_agent::metrics::Metrics;
use pstn_agent::model::{LogKind, Row};
use pstn_agent::retry::RetryPolicy;
use pstn_agent::sinks::{Batch, DeadLetters, OtlpSink, SinkHandle, SinkTaskOptions};
use pstn_agent::time::Timestamp;
use receiver::*;
use std::sync::Arc;
use std::time::{Duration, Instant};

#[tokio::test]
async fn once_gives_up_on_a_refusing_sink_after_its_retry_max_duration() {
    let harness = Harness::start(options()).await;
    // Nothing listens there: every export is refused, retryably.
    let otlp = format!(
        "endpoint = \"http://{}\"\nretry_max_duration = \"2s\"",
        free_address()
    );
    // A backoff that, counted in retries as before, would keep --once going for hours.
    let endless = RetryPolicy {
        min_delay: Duration::from_millis(50),
        max_delay: Duration::from_millis(300),
        max_retries: 100_000,
        max_throttle_wait: Duration::from_secs(60),
    };
    let started = Instant::now();
    let report = harness
        .once_with(&config(&harness, &otlp, false), endless)
        .await;
    // Ended, and well before the 3-minute default; no tight timing asserted.
    assert!(
        started.elapsed() < Duration::from_secs(90),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(report.exit_code(), 1);
    assert!(
        report
            .failed
            .iter()
            .any(|(_, why)| why.contains("sink siem")),
        "the failure names the sink: {:?}",
        report.failed
    );
}

/// A batch of these rows, as a PSTN source would hand it to its sinks.
fn batch_of(rows: &[&str]) -> Batch {
    let encoder = EventEncoder::new("tenant", "contoso.onmicrosoft.com", LogKind::Pstn);
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

#[tokio::test]
async fn an_event_otlp_cannot_encode_is_dead_lettered_and_the_rest_delivered() {
    let address = free_address();
    let received = Arc::new(Received::default());
    start_grpc(address, received.clone());
    let dir = tempfile::tempdir().unwrap();
    let text = format!(
        "data_dir = \"{}\"\n[sources.tenant]\ntype = \"pstn_calls\"\ntenant_id = \"t\"\nclient_id = \"11111111-1111-1111-1111-111111111111\"\nclient_secret = \"s\"\n\
         [sinks.siem]\ntype = \"otlp\"\ninputs = [\"tenant\"]\nendpoint = \"http://{address}\"\n",
        dir.path().display()
    );
    let config = Config::parse(&text, std::path::Path::new("/"), &Environment::fixed([])).unwrap();
    let SinkKind::Otlp(otlp) = &config.sinks[0].kind else {
        panic!("not an OTLP sink")
    };
    let metrics = Metrics::new().unwrap();
    let options = SinkTaskOptions {
        telemetry: metrics.sink("siem"),
        dead_letters: DeadLetters::new(&config.data_dir, "siem", metrics.dead_letters("siem")),
        retry_max_duration: Duration::from_secs(2),
    };
    let sink = OtlpSink::new("siem", otlp, &["t".into()]).unwrap();
    let (handle, task) = SinkHandle::spawn("siem", Box::new(sink), options);

    // Graph's JSON may nest deeper than an OTLP encoder follows.
    let deep = format!(
        r#"{{"id":"deep","startDateTime":"2024-05-20T10:00:01Z","x":{}1{}}}"#,
        "[".repeat(300),
        "]".repeat(300)
    );
    let batch = batch_of(&[
        r#"{"id":"good-1","startDateTime":"2024-05-20T10:00:00Z","callType":"user_out"}"#,
        &deep,
        r#"{"id":"good-2","startDateTime":"2024-05-20T10:00:02Z","callType":"user_in"}"#,
    ]);
    handle.deliver(Arc::new(batch)).await.unwrap();
    drop(handle);
    task.await.unwrap();

    let ids: Vec<String> = received
        .records()
        .iter()
        .map(|(body, ..)| body["call"]["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        ids,
        ["good-1", "good-2"],
        "the rest of the batch was delivered"
    );

    // The dead letter is read shallowly: its event nests too deep for a JSON tree too.
    #[derive(serde::Deserialize)]
    struct Letter<'a> {
        reason: String,
        #[serde(borrow)]
        event: &'a serde_json::value::RawValue,
    }
    let text = std::fs::read_to_string(dir.path().join("dead-letter/siem.jsonl")).unwrap();
    let letters: Vec<Letter<'_>> = text
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    assert_eq!(letters.len(), 1);
    assert!(letters[0].event.get().contains(r#""call":{"id":"deep""#));
    assert!(letters[0].event.get().contains(r#""source":"tenant""#));
    assert!(
        letters[0].reason.contains("cannot be encoded"),
        "{}",
        letters[0].reason
    );

    assert!(
        metrics
            .encode()
            .contains("pstn_sink_dead_letter_events_total{sink=\"siem\"} 1")
    );
}
