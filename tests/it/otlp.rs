//! The OTLP sink against real receivers (gRPC and HTTP/protobuf): every row once, as
//! a structured record; refusals and late receivers lose nothing; redaction.

use crate::common;
use crate::common::otlp as receiver;

use common::{Harness, NOW, at};
use pstn_agent::model::LogKind;
use pstn_agent::retry::RetryPolicy;
use receiver::*;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

#[tokio::test]
async fn every_row_arrives_once_as_a_structured_record_with_timestamps_and_headers() {
    grpc_and_http(async |protocol, address, received| {
        start(protocol, address, received.clone()).await;
        let harness = Harness::start(options()).await;
        let otlp = format!("protocol = \"{protocol}\"\nendpoint = \"http://{address}\"");
        let report = harness.once(&config(&harness, &otlp, false)).await;
        assert_eq!(report.exit_code(), 0, "{protocol}: {:?}", report.failed);
        assert_every_row_once(&harness, &received);
        for (body, time, observed, event_name) in received.records() {
            assert!(
                body.is_object() && body["call"].is_object(),
                "the body is a map, not a string"
            );
            let start =
                pstn_agent::time::Timestamp::parse(body["call"]["startDateTime"].as_str().unwrap())
                    .unwrap();
            assert_eq!(
                time,
                start.ticks() as u64 * 100,
                "Timestamp is the call's start"
            );
            assert_eq!(
                observed,
                at(NOW).ticks() as u64 * 100,
                "ObservedTimestamp is when it was read"
            );
            assert_eq!(event_name, "pstn.call");
            assert_eq!(body["source"], "tenant");
        }
        let exports = received.exports.lock().unwrap();
        let (headers, request) = &exports[0];
        assert_eq!(
            headers.get("authorization").map(String::as_str),
            Some("Bearer siem-token"),
            "{protocol}"
        );
        let resource = request.resource_logs[0].resource.as_ref().unwrap();
        let service = resource
            .attributes
            .iter()
            .find(|kv| kv.key == "service.name")
            .and_then(|kv| kv.value.as_ref())
            .map(to_json);
        assert_eq!(service, Some(serde_json::json!("pstn-agent")));
        assert!(
            resource
                .attributes
                .iter()
                .any(|kv| kv.key == "microsoft.tenant.id")
        );
    })
    .await;
}

#[tokio::test]
async fn a_receiver_refusing_the_first_exports_loses_nothing() {
    grpc_and_http(async |protocol, address, received| {
        received.refuse_next(3);
        start(protocol, address, received.clone()).await;
        let harness = Harness::start(options()).await;
        let otlp = format!("protocol = \"{protocol}\"\nendpoint = \"http://{address}\"");
        let report = harness.once(&config(&harness, &otlp, false)).await;
        assert_eq!(report.exit_code(), 0, "{protocol}: {:?}", report.failed);
        assert_eq!(received.refusals_left(), 0, "the refusals happened");
        assert_every_row_once(&harness, &received);
    })
    .await;
}

#[tokio::test]
async fn a_receiver_that_starts_after_the_agent_loses_nothing() {
    grpc_and_http(async |protocol, address, received| {
        let harness = Harness::start(options()).await;
        let otlp = format!("protocol = \"{protocol}\"\nendpoint = \"http://{address}\"");
        let config = config(&harness, &otlp, false);
        let patient = RetryPolicy {
            min_delay: Duration::from_millis(100),
            max_delay: Duration::from_millis(300),
            max_retries: 60,
            max_throttle_wait: Duration::from_secs(60),
            max_elapsed: None,
        };
        // The receiver starts once the agent has found it down twice (and so waits).
        let receiver = async {
            common::eventually(
                "two exports to the collector that is down",
                Duration::from_secs(30),
                async || failed_exports(&harness.metrics.encode()) >= 2.0,
            )
            .await;
            start(protocol, address, received.clone()).await;
        };
        let (report, ()) = tokio::join!(harness.once_with(&config, patient), receiver);
        assert_eq!(report.exit_code(), 0, "{protocol}: {:?}", report.failed);
        assert_every_row_once(&harness, &received);
    })
    .await;
}

/// Batches the OTLP sink `siem` failed to export, as the metrics count them.
fn failed_exports(metrics: &str) -> f64 {
    metrics
        .lines()
        .filter(|line| {
            line.starts_with("pstn_sink_batches_total{")
                && line.contains("outcome=\"failed\"")
                && line.contains("sink=\"siem\"")
        })
        .filter_map(|line| line.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

#[tokio::test]
async fn export_headers_from_the_environment_are_not_applied() {
    grpc_and_http(async |protocol, address, received| {
        start(protocol, address, received.clone()).await;
        let harness = Harness::start(options()).await;
        let path = harness.dir.path().join("agent.toml");
        std::fs::write(
            &path,
            format!(
                "data_dir = \"{}\"\n[sources.tenant]\ntype = \"pstn_calls\"\ntenant_id = \"t\"\nclient_id = \"11111111-1111-1111-1111-111111111111\"\nclient_secret = \"s\"\nauthority_url = \"{url}\"\ngraph_url = \"{url}\"\nlookback = \"1d\"\nrequests_per_minute = 60000\n[sinks.siem]\ntype = \"otlp\"\ninputs = [\"tenant\"]\nprotocol = \"{protocol}\"\nendpoint = \"http://{address}\"\n",
                harness.dir.path().join("state").display(),
                url = harness.simulator.url(),
            ),
        )
        .unwrap();
        let output = common::agent_once(&path, |command| {
            command
                .env("OTEL_EXPORTER_OTLP_HEADERS", "x-leak=from-env")
                .env("OTEL_EXPORTER_OTLP_LOGS_HEADERS", "x-leak-logs=from-env");
        })
        .await;
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(output.status.success(), "{protocol}: {stderr}");
        assert!(stderr.contains("OTEL_EXPORTER_OTLP_HEADERS"), "{stderr}");
        let exports = received.exports.lock().unwrap();
        assert!(!exports.is_empty(), "{protocol}: nothing exported");
        for (headers, _) in exports.iter() {
            assert!(
                !headers.keys().any(|name| name.starts_with("x-leak")),
                "{protocol}: {headers:?}"
            );
        }
    })
    .await;
}

#[tokio::test]
async fn sms_and_blocked_user_rows_are_records_named_for_their_kind_timed_by_their_field() {
    let address = free_address();
    let received = Arc::new(Received::default());
    start("grpc", address, received.clone()).await;
    for (kind, name) in [
        (LogKind::Sms, "pstn.sms"),
        (LogKind::PstnBlockedUser, "pstn.blocked_user"),
    ] {
        let harness = Harness::start(pstn_agent::simulate::SimulatorOptions {
            calls_per_day: 40_000.0,
            ..options()
        })
        .await;
        let before = received.records().len();
        let otlp = format!("protocol = \"grpc\"\nendpoint = \"http://{address}\"");
        let report = harness
            .once(&receiver::config_of(&harness, kind, &otlp, false))
            .await;
        assert_eq!(report.exit_code(), 0, "{kind}: {:?}", report.failed);
        let records = received.records();
        let records = &records[before..];
        assert!(!records.is_empty(), "{kind}");
        assert_eq!(
            records.len(),
            harness.events().len(),
            "{kind}: file and OTLP agree"
        );
        for (body, time, _, event_name) in records {
            assert_eq!(event_name, name);
            assert_eq!(body["kind"], kind.event_kind());
            let instant = body["call"][kind.timestamp_field()].as_str().unwrap();
            let instant = pstn_agent::time::Timestamp::parse(instant).unwrap();
            assert_eq!(
                *time,
                instant.ticks() as u64 * 100,
                "{kind}: Timestamp is the row's instant"
            );
        }
    }
}

/// A collector that is down: the failure names the endpoint the agent could not reach
/// (gRPC's and HTTP's `/v1/logs`), not only "network error".
#[tokio::test]
async fn a_collector_that_is_down_is_named_in_the_failure() {
    for (protocol, shown) in [("grpc", ""), ("http/protobuf", "/v1/logs")] {
        let harness = Harness::start(options()).await;
        let address = free_address();
        let otlp = format!(
            "protocol = \"{protocol}\"\nendpoint = \"http://{address}\"\nretry_max_duration = \"1s\""
        );
        let report = harness.once(&config(&harness, &otlp, false)).await;
        assert_eq!(report.exit_code(), 1, "{protocol}");
        let said = format!("{:?}", report.failed);
        assert!(
            said.contains(&format!("export to http://{address}{shown} (")),
            "{protocol}: {said}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dialout_report_rows_are_records_timed_by_their_day_with_the_day_in_the_body() {
    let address = free_address();
    let received = Arc::new(Received::default());
    start_grpc(address, received.clone());
    let harness = Harness::start(pstn_agent::simulate::SimulatorOptions {
        calls_per_day: 20_000.0,
        ..options()
    })
    .await;
    let otlp = format!("protocol = \"grpc\"\nendpoint = \"http://{address}\"");
    let config = receiver::config_of(&harness, LogKind::PstnDialoutReport, &otlp, false);
    assert_eq!(harness.once(&config).await.exit_code(), 0);
    let records = received.records();
    assert!(!records.is_empty());
    assert_eq!(records.len(), harness.events().len(), "file and OTLP agree");
    for (body, time, _, event_name) in &records {
        assert_eq!(event_name, "pstn.dialout_report");
        assert_eq!(body["kind"], "pstn_dialout_report");
        assert!(body["call"]["totalCalls"].is_number(), "{body}");
        let day = body["day"].as_str().unwrap();
        let start = pstn_agent::time::Timestamp::parse(&format!("{day}T00:00:00Z")).unwrap();
        assert_eq!(
            *time,
            start.ticks() as u64 * 100,
            "Timestamp is the day's start"
        );
    }
}

#[tokio::test]
async fn a_partial_success_is_counted_named_in_readiness_and_not_sent_again() {
    grpc_and_http(async |protocol, address, received| {
        *received.partial.lock().unwrap() = Some((2, "quota exceeded for tenant".into()));
        start(protocol, address, received.clone()).await;
        let harness = Harness::start(options()).await;
        let otlp = format!("protocol = \"{protocol}\"\nendpoint = \"http://{address}\"");
        let report = harness.once(&config(&harness, &otlp, false)).await;
        // Taken (in part): no retry, as OTLP says, and the run succeeds.
        assert_eq!(report.exit_code(), 0, "{protocol}: {:?}", report.failed);
        assert_every_row_once(&harness, &received);
        let exports = received.exports.lock().unwrap().len();
        assert!(exports > 1, "{protocol}: {exports}");
        let metrics = harness.metrics.encode();
        let expected = format!(
            "pstn_sink_rejected_events_total{{sink=\"siem\"}} {}",
            2 * exports
        );
        assert!(metrics.contains(&expected), "{protocol}: {metrics}");
        let readiness = harness.metrics.readiness();
        let why = readiness
            .problems
            .iter()
            .find(|(component, _)| component == "sinks.siem")
            .map(|(_, why)| why.clone());
        assert!(
            why.as_deref()
                .is_some_and(|why| why.contains("partial success")),
            "{protocol}: {readiness:?}"
        );
        // The collector's own words never reach /readyz (they go to the log).
        assert!(!readiness.to_json().contains("quota"), "{protocol}");
    })
    .await;
}

#[test]
fn readiness_names_a_sink_while_its_destination_rejects_and_clears_once_it_takes_all() {
    let metrics = pstn_agent::metrics::Metrics::new().unwrap();
    let sink = metrics.sink("siem");
    sink.rejected(3);
    assert!(!metrics.readiness().is_ready());
    sink.rejected(0);
    assert!(
        metrics
            .encode()
            .contains("pstn_sink_rejected_events_total{sink=\"siem\"} 3")
    );
    sink.taken_whole();
    assert!(metrics.readiness().is_ready(), "{:?}", metrics.readiness());
}

#[tokio::test]
async fn an_http_collectors_retry_after_holds_the_next_export_back_that_long() {
    let address = free_address();
    let received = Arc::new(Received::default());
    received.refuse_next(1);
    *received.retry_after.lock().unwrap() = Some(2);
    start("http/protobuf", address, received.clone()).await;
    let harness = Harness::start(options()).await;
    let otlp = format!("protocol = \"http/protobuf\"\nendpoint = \"http://{address}\"");
    // The source's own backoff is milliseconds here; the collector asked for 2 s.
    let report = harness.once(&config(&harness, &otlp, false)).await;
    assert_eq!(report.exit_code(), 0, "{:?}", report.failed);
    let arrivals = received.arrivals.lock().unwrap().clone();
    let waited = arrivals[1] - arrivals[0];
    assert!(waited >= Duration::from_secs(2), "{waited:?}");
    assert_every_row_once(&harness, &received);
}

mod redaction;
