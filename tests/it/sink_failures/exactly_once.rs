//! Exactly once at each sink, whatever interleaving: two sources feed one sink; their
//! batches are offered in an order drawn from a seed, with failures injected between
//! requests (the Logs Ingestion stand-in answers chosen requests 503 or cuts their
//! connection unanswered; the OTLP receiver refuses chosen exports; the file sink's
//! offers fail on a drawn schedule), and with bad rows that go to the dead letters. Every row must end up exactly once:
//! at the destination, or (a bad row) in the dead letters; never both, never twice.
//!
//! The sink task is the real one (`SinkHandle`), and so are the sinks; `Faulty` only
//! adds what a real sink would do on its own: refuse a bad event for good (as an
//! encoder would) and fail an offer as a whole (as a full disk would).

use super::common::Harness;
use super::receiver::{Received, start_grpc};
use proptest::prelude::*;
use proptest::test_runner::{Config as ProptestConfig, RngAlgorithm, TestRng, TestRunner};
use pstn_agent::config::{Config, Environment, SinkKind};
use pstn_agent::event::EventEncoder;
use pstn_agent::metrics::Metrics;
use pstn_agent::model::{Enrichment, LogKind, Row};
use pstn_agent::sinks::{
    AzureLogsSink, Batch, DeadLetters, DeliveryFuture, FileSink, OtlpSink, Progress, ReopenSignal,
    Sink, SinkError, SinkHandle, SinkTaskOptions,
};
use pstn_agent::time::Timestamp;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

/// One drawn run: each source's batches (rows per batch, and which row of it is bad,
/// if any), the order the two sources offer in, and where failures fall.
#[derive(Debug, Clone)]
struct Plan {
    batches: [Vec<(usize, Option<usize>)>; 2],
    order: Vec<bool>,
    failures: HashSet<u64>,
}

fn plan() -> impl Strategy<Value = Plan> {
    let batch = (3usize..9).prop_flat_map(|rows| (Just(rows), proptest::option::of(0..rows)));
    let source = proptest::collection::vec(batch, 1..4);
    (
        source.clone(),
        source,
        proptest::collection::vec(any::<bool>(), 8..40),
        proptest::collection::hash_set(1u64..40, 0..8),
    )
        .prop_map(|(a, b, order, failures)| Plan {
            batches: [a, b],
            order,
            failures,
        })
}

/// The row ids of batch `n` of source `s`: `s-n-i`, or `bad-s-n-i` for its bad row.
fn ids(source: usize, number: usize, (rows, bad): (usize, Option<usize>)) -> Vec<String> {
    (0..rows)
        .map(|i| match bad == Some(i) {
            true => format!("bad-{source}-{number}-{i}"),
            false => format!("{source}-{number}-{i}"),
        })
        .collect()
}

fn batch_of(source: usize, ids: &[String]) -> Arc<Batch> {
    let encoder = EventEncoder::new(["a", "b"][source], "contoso.onmicrosoft.com", LogKind::Pstn);
    let observed = Timestamp::parse("2024-05-20T12:00:00Z").unwrap();
    let (mut lines, mut events) = (Vec::new(), Vec::new());
    for id in ids {
        let raw = format!(
            r#"{{"id":"{id}","startDateTime":"2024-05-20T10:00:00Z","callType":"user_out","calleeNumber":"+4930123456"}}"#
        );
        let row = Row::parse(&raw).unwrap();
        let line = &observed.to_string();
        events.push(encoder.encode(&row, &Enrichment::NONE, observed, line, &mut lines));
    }
    Arc::new(Batch {
        lines: lines.into(),
        events,
    })
}

/// Refuses events whose id starts with `bad` for good, fails the offers numbered in
/// `failures` as a whole, and hands everything else to the real sink.
struct Faulty {
    inner: Box<dyn Sink>,
    /// Whether bad events are refused here (the Logs Ingestion stand-in refuses them
    /// itself, so its sink's are not).
    refuse_bad: bool,
    failures: HashSet<u64>,
    offers: u64,
}

impl Sink for Faulty {
    fn deliver<'a>(
        &'a mut self,
        batch: &'a Batch,
        progress: &'a mut Progress,
    ) -> DeliveryFuture<'a> {
        Box::pin(async move {
            self.offers += 1;
            let bad = batch.events.iter().position(|event| {
                (event.envelope.call_id.as_deref()).is_some_and(|id| id.starts_with("bad"))
            });
            if let Some(index) = bad.filter(|_| self.refuse_bad) {
                return Err(SinkError::permanent("sink", "encode", "bad event").for_event(index));
            }
            if self.failures.contains(&self.offers) {
                return Err(SinkError::retryable("sink", "write", "disk full"));
            }
            self.inner.deliver(batch, progress).await
        })
    }
}

/// Offers the plan's batches in its order until each is accepted; every row id in it.
async fn drive(handle: &SinkHandle, plan: &Plan) -> Vec<String> {
    let mut all = Vec::new();
    let mut queues: [Vec<Arc<Batch>>; 2] = [Vec::new(), Vec::new()];
    for (source, queue) in queues.iter_mut().enumerate() {
        for (number, shape) in plan.batches[source].iter().enumerate().rev() {
            let ids = ids(source, number, *shape);
            queue.push(batch_of(source, &ids));
            all.extend(ids);
        }
    }
    let mut picks = plan.order.iter().cycle();
    for _ in 0..2000 {
        if queues.iter().all(Vec::is_empty) {
            return all;
        }
        let wanted = usize::from(*picks.next().unwrap_or(&false));
        let source = if queues[wanted].is_empty() {
            1 - wanted
        } else {
            wanted
        };
        let Some(batch) = queues[source].last().cloned() else {
            continue;
        };
        match handle.deliver(batch).await {
            Ok(()) => drop(queues[source].pop()),
            Err(error) => assert!(error.is_retryable(), "{error}"),
        }
    }
    panic!("the batches were never all accepted: {plan:?}");
}

/// Each id's count in `ids`.
fn counts(ids: impl IntoIterator<Item = String>) -> HashMap<String, usize> {
    let mut counts = HashMap::new();
    for id in ids {
        *counts.entry(id).or_insert(0) += 1;
    }
    counts
}

/// Every good row delivered once, every bad row dead-lettered once, nothing else.
fn assert_exactly_once(all: &[String], delivered: &[String], dead: &[String], plan: &Plan) {
    let (delivered, dead) = (counts(delivered.to_vec()), counts(dead.to_vec()));
    for id in all {
        let (at, lettered) = (delivered.get(id), dead.get(id));
        match id.starts_with("bad") {
            true => assert_eq!((at, lettered), (None, Some(&1)), "{id}: {plan:?}"),
            false => assert_eq!((at, lettered), (Some(&1), None), "{id}: {plan:?}"),
        }
    }
    assert_eq!(delivered.len() + dead.len(), all.len(), "{plan:?}");
}

fn dead_letters(config: &Config, sink: &str) -> Vec<String> {
    let path = config.data_dir.join(format!("dead-letter/{sink}.jsonl"));
    let text = std::fs::read_to_string(path).unwrap_or_default();
    text.lines()
        .map(|line| {
            let letter: serde_json::Value = serde_json::from_str(line).unwrap();
            letter["event"]["call"]["id"].as_str().unwrap().to_owned()
        })
        .collect()
}

fn config(harness: &Harness, otlp: std::net::SocketAddr) -> Config {
    let url = harness.simulator.url();
    let source = |name: &str| {
        format!(
            "[sources.{name}]\ntype = \"pstn_calls\"\ntenant_id = \"contoso.onmicrosoft.com\"\nclient_id = \"11111111-1111-1111-1111-111111111111\"\nclient_secret = \"secret\"\nauthority_url = \"{url}\"\ngraph_url = \"{url}\"\n"
        )
    };
    let text = format!(
        "data_dir = \"{data}\"\n{a}{b}\
         [sinks.sentinel]\ntype = \"azure_logs_ingestion\"\ninputs = [\"a\", \"b\"]\nendpoint = \"{url}\"\n\
         dcr_immutable_id = \"dcr-0123456789abcdef0123456789abcdef\"\ntenant_id = \"contoso.onmicrosoft.com\"\nclient_id = \"22222222-2222-2222-2222-222222222222\"\n\
         client_secret = \"secret\"\nauthority_url = \"{url}\"\n\
         [sinks.siem]\ntype = \"otlp\"\ninputs = [\"a\", \"b\"]\nendpoint = \"http://{otlp}\"\n\
         [sinks.archive]\ntype = \"file\"\npath = \"{out}\"\ninputs = [\"a\", \"b\"]\n",
        data = harness.dir.path().join("state").display(),
        a = source("a"),
        b = source("b"),
        out = harness.output().display(),
    );
    Config::parse(&text, std::path::Path::new("/"), &Environment::fixed([]))
        .unwrap_or_else(|problems| panic!("{problems:?}"))
}

/// The sink in its real task, behind `Faulty`.
fn spawn(
    config: &Config,
    name: &str,
    sink: Box<dyn Sink>,
    faults: (&HashSet<u64>, bool),
) -> SinkHandle {
    let metrics = Metrics::new().unwrap();
    let options = SinkTaskOptions {
        telemetry: metrics.sink(name),
        dead_letters: DeadLetters::new(&config.data_dir, name, metrics.dead_letters(name)),
        retry_max_duration: Duration::from_secs(1),
    };
    let faulty = Faulty {
        inner: sink,
        refuse_bad: faults.1,
        failures: faults.0.clone(),
        offers: 0,
    };
    SinkHandle::spawn(name, Box::new(faulty), options).0
}

/// One run of the plan against each of the three sinks.
async fn run(plan: Plan) {
    let harness = Harness::start(pstn_agent::simulate::SimulatorOptions {
        client_secret: Some("secret".into()),
        ..Default::default()
    })
    .await;
    let address = super::receiver::free_address();
    let received = Arc::new(Received::default());
    start_grpc(address, received.clone());
    let config = config(&harness, address);
    let kind = |name: &str| &config.sinks.iter().find(|s| s.name == name).unwrap().kind;
    let none = HashSet::new();

    // Logs Ingestion: a batch takes several requests (413 cuts it), chosen requests
    // fail with 503, bad rows are refused by the stand-in itself.
    let ingestion = &harness.simulator.ingestion;
    ingestion.limit_bytes(1200);
    // Odd numbers answer 503, even ones have their connection cut unanswered.
    let (odd, even): (Vec<u64>, Vec<u64>) = plan.failures.iter().partition(|n| *n % 2 == 1);
    ingestion.fail_requests(odd);
    ingestion.cut_requests(even);
    let SinkKind::AzureLogsIngestion(azure) = kind("sentinel") else {
        panic!()
    };
    let http = pstn_agent::topology::http_client().unwrap();
    let sentinel = AzureLogsSink::new("sentinel", azure, http).unwrap();
    let mut bad_ids = Vec::new();
    for source in 0..2 {
        for (number, shape) in plan.batches[source].iter().enumerate() {
            bad_ids.extend(
                ids(source, number, *shape)
                    .into_iter()
                    .filter(|id| id.starts_with("bad")),
            );
        }
    }
    ingestion.refuse_rows(bad_ids);
    let handle = spawn(&config, "sentinel", Box::new(sentinel), (&none, false));
    let all = drive(&handle, &plan).await;
    let at_azure: Vec<String> = ingestion
        .records()
        .iter()
        .map(|r| r.record["rowId"].as_str().unwrap().to_owned())
        .collect();
    assert_exactly_once(&all, &at_azure, &dead_letters(&config, "sentinel"), &plan);

    // OTLP: chosen exports refused by the receiver.
    *received.refuse_exports.lock().unwrap() = plan.failures.clone();
    let SinkKind::Otlp(otlp) = kind("siem") else {
        panic!()
    };
    let siem = OtlpSink::new("siem", otlp, &[], Metrics::new().unwrap().sink("siem")).unwrap();
    let handle = spawn(&config, "siem", Box::new(siem), (&none, true));
    drive(&handle, &plan).await;
    let at_collector: Vec<String> = received
        .records()
        .iter()
        .map(|(body, ..)| body["call"]["id"].as_str().unwrap().to_owned())
        .collect();
    assert_exactly_once(&all, &at_collector, &dead_letters(&config, "siem"), &plan);

    // File: chosen offers fail as a whole.
    let SinkKind::File { path } = kind("archive") else {
        panic!()
    };
    let archive = FileSink::new("archive", path.clone(), ReopenSignal::default()).unwrap();
    let handle = spawn(
        &config,
        "archive",
        Box::new(archive),
        (&plan.failures, true),
    );
    drive(&handle, &plan).await;
    let in_file: Vec<String> = harness.events().into_iter().map(|(id, _)| id).collect();
    assert_exactly_once(&all, &in_file, &dead_letters(&config, "archive"), &plan);
}

#[test]
fn two_sources_into_one_sink_deliver_every_row_once_whatever_the_interleaving_and_failures() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(24);
    let config = ProptestConfig {
        cases,
        failure_persistence: None,
        ..ProptestConfig::default()
    };
    // A fixed seed: the same interleavings in every run, so a failure reproduces.
    let rng = TestRng::deterministic_rng(RngAlgorithm::ChaCha);
    let mut runner = TestRunner::new_with_rng(config, rng);
    runner
        .run(&plan(), |plan| {
            runtime.block_on(run(plan));
            Ok(())
        })
        .unwrap();
}
