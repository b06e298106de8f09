use super::*;
use crate::metrics::Metrics;
use crate::sinks::batch_of;
use crate::sinks::{DeliveryFuture, Progress};
use std::os::unix::fs::PermissionsExt;
use std::sync::Mutex;

/// Takes every event but those whose call id is `bad` (permanently, one at a time,
/// as an encoder would), and fails the first `flaky` offers as a whole (retryably).
struct Picky {
    delivered: Arc<Mutex<Vec<String>>>,
    offers: Arc<Mutex<usize>>,
    flaky: usize,
}

impl Sink for Picky {
    fn deliver<'a>(&'a mut self, batch: &'a Batch, _: &'a mut Progress) -> DeliveryFuture<'a> {
        Box::pin(async move {
            let offer = {
                let mut offers = self.offers.lock().unwrap();
                *offers += 1;
                *offers
            };
            if let Some(bad) = batch
                .events
                .iter()
                .position(|event| event.envelope.call_id.as_deref() == Some("bad"))
            {
                return Err(
                    SinkError::permanent("picky", "cannot encode", "too odd").for_event(bad)
                );
            }
            if offer <= self.flaky {
                return Err(SinkError::retryable("picky", "export", "collector down"));
            }
            let mut delivered = self.delivered.lock().unwrap();
            for index in 0..batch.events.len() {
                delivered.push(String::from_utf8(batch.line(index).to_vec()).unwrap());
            }
            Ok(())
        })
    }
}

struct Fixture {
    handle: SinkHandle,
    delivered: Arc<Mutex<Vec<String>>>,
    metrics: Arc<Metrics>,
    dir: tempfile::TempDir,
}

fn start(flaky: usize) -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let metrics = Metrics::new().unwrap();
    let delivered = Arc::new(Mutex::new(Vec::new()));
    let sink = Picky {
        delivered: delivered.clone(),
        offers: Arc::default(),
        flaky,
    };
    let options = SinkTaskOptions {
        telemetry: metrics.sink("picky"),
        dead_letters: DeadLetters::new(dir.path(), "picky", metrics.dead_letters("picky")),
        retry_max_duration: Duration::from_secs(1),
    };
    let (handle, _task) = SinkHandle::spawn("picky", Box::new(sink), options);
    Fixture {
        handle,
        delivered,
        metrics,
        dir,
    }
}

fn three_calls() -> Arc<Batch> {
    Arc::new(batch_of(&[
        r#"{"id":"good-1","startDateTime":"2024-05-01T00:00:00Z"}"#,
        r#"{"id":"bad","startDateTime":"2024-05-01T00:00:01Z","odd":[1,{"x":null}]}"#,
        r#"{"id":"good-2","startDateTime":"2024-05-01T00:00:02Z"}"#,
    ]))
}

fn dead_letters(fixture: &Fixture) -> Vec<serde_json::Value> {
    let path = fixture.dir.path().join("dead-letter/picky.jsonl");
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect()
}

#[tokio::test]
async fn an_event_a_sink_can_never_accept_is_dead_lettered_and_the_rest_delivered() {
    let fixture = start(0);
    let batch = three_calls();
    fixture.handle.deliver(batch.clone()).await.unwrap();

    let delivered = fixture.delivered.lock().unwrap().clone();
    let expected: Vec<String> = [0, 2]
        .iter()
        .map(|i| String::from_utf8(batch.line(*i).to_vec()).unwrap())
        .collect();
    assert_eq!(delivered, expected, "the rest of the batch, byte for byte");

    let letters = dead_letters(&fixture);
    assert_eq!(letters.len(), 1);
    assert_eq!(letters[0]["reason"], "cannot encode: too odd");
    let event: serde_json::Value = serde_json::from_slice(batch.line(1)).unwrap();
    assert_eq!(letters[0]["event"], event, "the whole event, as it was");

    let text = fixture.metrics.encode();
    assert!(
        text.contains("pstn_sink_dead_letter_events_total{sink=\"picky\"} 1"),
        "{text}"
    );
    let mode =
        |path: &std::path::Path| std::fs::metadata(path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&fixture.dir.path().join("dead-letter")), 0o700);
    assert_eq!(
        mode(&fixture.dir.path().join("dead-letter/picky.jsonl")),
        0o600
    );
}

#[tokio::test]
async fn offering_a_batch_again_does_not_dead_letter_its_bad_event_twice() {
    // The bad event is set aside, then the rest fails (collector down) and the source
    // offers the same batch again.
    let fixture = start(2);
    let batch = three_calls();
    let error = fixture.handle.deliver(batch.clone()).await.unwrap_err();
    assert!(error.is_retryable() && error.event().is_none(), "{error}");
    fixture.handle.deliver(batch).await.unwrap();
    assert_eq!(fixture.delivered.lock().unwrap().len(), 2);
    assert_eq!(dead_letters(&fixture).len(), 1);
    assert!(
        fixture
            .metrics
            .encode()
            .contains("pstn_sink_dead_letter_events_total{sink=\"picky\"} 1")
    );
}

#[tokio::test]
async fn another_batch_in_between_does_not_make_the_sink_forget_what_it_dead_lettered() {
    // Two sources feed the sink: the first one's batch loses its bad event, then fails;
    // the second one's batch goes in; the first offers its batch again.
    let fixture = start(2);
    let first = three_calls();
    assert!(fixture.handle.deliver(first.clone()).await.is_err());
    let second = Arc::new(batch_of(&[
        r#"{"id":"other","startDateTime":"2024-05-01T00:00:03Z"}"#,
    ]));
    fixture.handle.deliver(second).await.unwrap();
    fixture.handle.deliver(first).await.unwrap();
    assert_eq!(dead_letters(&fixture).len(), 1);
    assert_eq!(fixture.delivered.lock().unwrap().len(), 3);
}

#[tokio::test]
async fn a_batch_of_only_bad_events_is_accepted_with_all_of_them_dead_lettered() {
    let fixture = start(0);
    let batch = Arc::new(batch_of(&[
        r#"{"id":"bad","startDateTime":"2024-05-01T00:00:00Z"}"#,
        r#"{"id":"bad","startDateTime":"2024-05-01T00:00:01Z"}"#,
    ]));
    fixture.handle.deliver(batch).await.unwrap();
    assert!(fixture.delivered.lock().unwrap().is_empty());
    assert_eq!(dead_letters(&fixture).len(), 2);
}

#[tokio::test]
async fn a_redacting_sink_dead_letters_the_event_as_redacted() {
    let dir = tempfile::tempdir().unwrap();
    let metrics = Metrics::new().unwrap();
    let delivered = Arc::new(Mutex::new(Vec::new()));
    let picky = Picky {
        delivered: delivered.clone(),
        offers: Arc::default(),
        flaky: 0,
    };
    let redact = crate::sinks::config::RedactConfig {
        hash: vec![],
        drop: vec!["odd".into()],
        keep: None,
        key: None,
    };
    let sink = crate::sinks::RedactingSink::new("picky", Box::new(picky), &redact);
    let options = SinkTaskOptions {
        telemetry: metrics.sink("picky"),
        dead_letters: DeadLetters::new(dir.path(), "picky", metrics.dead_letters("picky")),
        retry_max_duration: Duration::from_secs(1),
    };
    let (handle, _task) = SinkHandle::spawn("picky", Box::new(sink), options);
    handle.deliver(three_calls()).await.unwrap();
    let text = std::fs::read_to_string(dir.path().join("dead-letter/picky.jsonl")).unwrap();
    let letter: serde_json::Value = serde_json::from_str(text.trim_end()).unwrap();
    assert_eq!(letter["event"]["call"]["id"], "bad");
    assert!(
        letter["event"]["call"].get("odd").is_none(),
        "a dropped field reached the dead letters: {text}"
    );
    assert_eq!(delivered.lock().unwrap().len(), 2);
}
