//! The OTLP sink against real receivers (gRPC and HTTP/protobuf): every row once, as
//! a structured record; refusals and late receivers lose nothing; redaction.

mod common;
#[path = "common/otlp.rs"]
mod receiver;

use common::{Harness, NOW, at};
use pstn_agent::model::LogKind;
use pstn_agent::retry::RetryPolicy;
use receiver::*;
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;
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
        received.refuse.store(3, Ordering::SeqCst);
        start(protocol, address, received.clone()).await;
        let harness = Harness::start(options()).await;
        let otlp = format!("protocol = \"{protocol}\"\nendpoint = \"http://{address}\"");
        let report = harness.once(&config(&harness, &otlp, false)).await;
        assert_eq!(report.exit_code(), 0, "{protocol}: {:?}", report.failed);
        assert_eq!(
            received.refuse.load(Ordering::SeqCst),
            0,
            "the refusals happened"
        );
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
        let late = received.clone();
        let protocol_owned = protocol.to_owned();
        let receiver = tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(1500)).await;
            start(&protocol_owned, address, late).await;
        });
        let report = harness.once_with(&config, patient).await;
        receiver.await.unwrap();
        assert_eq!(report.exit_code(), 0, "{protocol}: {:?}", report.failed);
        assert_every_row_once(&harness, &received);
    })
    .await;
}

#[tokio::test]
async fn hashed_fields_are_hashed_and_dropped_fields_absent_in_every_sink() {
    let address = free_address();
    let received = Arc::new(Received::default());
    start_grpc(address, received.clone());
    let harness = Harness::start(options()).await;
    let otlp = format!("endpoint = \"http://{address}\"");
    assert_eq!(
        harness
            .once(&config(&harness, &otlp, true))
            .await
            .exit_code(),
        0
    );
    // The simulator's own rows, to compute what the hashes must be.
    let originals: HashMap<String, serde_json::Value> = {
        let generator = &harness.simulator.generator;
        let now = at(NOW);
        generator
            .visible_calls(
                LogKind::Pstn,
                now.saturating_sub(Duration::from_secs(86_400)),
                now,
                false,
                now,
            )
            .map(|call| {
                let mut row = String::new();
                generator.write_row(
                    LogKind::Pstn,
                    pstn_agent::model::ApiVersion::V1,
                    &call,
                    &mut row,
                );
                let value: serde_json::Value = serde_json::from_str(&row).unwrap();
                (value["id"].as_str().unwrap().to_owned(), value)
            })
            .collect()
    };
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, REDACT_KEY.as_bytes());
    let expected_hash = |text: &str| {
        let tag = ring::hmac::sign(&key, text.as_bytes());
        format!(
            "hmac-sha256:{}",
            tag.as_ref()
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect::<String>()
        )
    };
    let file_calls: Vec<serde_json::Value> = harness
        .events()
        .into_iter()
        .map(|(_, event)| event["call"].clone())
        .collect();
    let otlp_calls: Vec<serde_json::Value> = received
        .records()
        .into_iter()
        .map(|(body, ..)| body["call"].clone())
        .collect();
    assert_eq!(file_calls.len(), otlp_calls.len());
    for call in file_calls.iter().chain(&otlp_calls) {
        let original = &originals[call["id"].as_str().unwrap()];
        for field in ["callerNumber", "calleeNumber"] {
            assert_eq!(
                call[field].as_str().unwrap(),
                expected_hash(original[field].as_str().unwrap()),
                "{field}"
            );
        }
        assert!(call.get("userDisplayName").is_none() && call.get("userPrincipalName").is_none());
        assert_eq!(
            call["callType"], original["callType"],
            "other fields are untouched"
        );
    }
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
