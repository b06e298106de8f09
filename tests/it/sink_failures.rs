//! Sinks that refuse and rows no sink could take: --once gives up on a refusing sink
//! after its `retry_max_duration`; a row nested too deep is skipped when the page is
//! read, the same for every sink, and the rest is delivered. (Dead letters: the sink
//! handle's unit tests and tests/it/sentinel.rs.)

use crate::common;
mod exactly_once;
use crate::common::otlp as receiver;

use common::Harness;
use pstn_agent::config::{Config, Environment};
use pstn_agent::retry::RetryPolicy;
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
        max_elapsed: None,
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

/// Rows nested deeper than any sink takes are refused when the page is read, the same
/// for every sink (they used to reach console and file and be retried by OTLP for ever).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_row_nested_too_deep_is_skipped_at_parse_for_every_sink_and_the_rest_delivered() {
    let address = free_address();
    let received = Arc::new(Received::default());
    start_grpc(address, received.clone());
    // A Graph stand-in whose page holds two good rows around a deep one.
    let deep = format!(
        r#"{{"id":"00000000-0000-0000-0000-0000000000dd","startDateTime":"2024-05-20T10:00:01Z","x":{}1{}}}"#,
        "[".repeat(300),
        "]".repeat(300)
    );
    let page = format!(
        r#"{{"value":[{{"id":"00000000-0000-0000-0000-000000000001","startDateTime":"2024-05-20T10:00:00Z"}},{deep},{{"id":"00000000-0000-0000-0000-000000000002","startDateTime":"2024-05-20T10:00:02Z"}}]}}"#
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let graph = format!("http://{}", listener.local_addr().unwrap());
    let handler = Arc::new(move |request: hyper::Request<hyper::body::Incoming>| {
        let body = if request.uri().path().ends_with("/token") {
            r#"{"token_type":"Bearer","expires_in":3599,"access_token":"t"}"#.to_owned()
        } else {
            page.clone()
        };
        async move { hyper::Response::new(pstn_agent::http_server::full(body)) }
    });
    tokio::spawn(pstn_agent::http_server::serve(listener, handler));
    let harness = common::Harness::start(pstn_agent::simulate::SimulatorOptions::default()).await;
    let text = format!(
        "data_dir = \"{}\"\n[sources.tenant]\ntype = \"pstn_calls\"\ntenant_id = \"t\"\nclient_id = \"11111111-1111-1111-1111-111111111111\"\nclient_secret = \"s\"\nauthority_url = \"{graph}\"\ngraph_url = \"{graph}\"\nlookback = \"1h\"\nrequests_per_second = 1\n\
         [sinks.siem]\ntype = \"otlp\"\ninputs = [\"tenant\"]\nendpoint = \"http://{address}\"\n\
         [sinks.archive]\ntype = \"file\"\npath = \"{}\"\ninputs = [\"tenant\"]\n",
        harness.dir.path().join("state").display(),
        harness.output().display(),
    );
    let config = Config::parse(&text, std::path::Path::new("/"), &Environment::fixed([])).unwrap();
    let report = harness.once(&config).await;
    assert_eq!(report.exit_code(), 0, "{report:?}");
    let mut otlp_ids: Vec<String> = received
        .records()
        .iter()
        .map(|(body, ..)| body["call"]["id"].as_str().unwrap().to_owned())
        .collect();
    otlp_ids.sort();
    otlp_ids.dedup();
    let mut file_ids: Vec<String> = harness.events().into_iter().map(|(id, _)| id).collect();
    file_ids.sort();
    file_ids.dedup();
    let good = [
        "00000000-0000-0000-0000-000000000001",
        "00000000-0000-0000-0000-000000000002",
    ];
    assert_eq!(otlp_ids, good);
    assert_eq!(file_ids, good);
    let metrics = harness.metrics.encode();
    assert!(
        metrics
            .lines()
            .any(|line| line.starts_with("pstn_rows_skipped_total")
                && line.contains("reason=\"too_deep\"")
                && line.ends_with(" 1")),
        "{metrics}"
    );
}
