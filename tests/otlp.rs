//! The OTLP sink against real receivers: a tonic LogsService (gRPC) and an HTTP
//! endpoint decoding ExportLogsServiceRequest at /v1/logs.

mod common;

use common::{Harness, NOW, at};
use opentelemetry_proto::tonic::collector::logs::v1::logs_service_server::{
    LogsService, LogsServiceServer,
};
use opentelemetry_proto::tonic::collector::logs::v1::{
    ExportLogsServiceRequest, ExportLogsServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::{AnyValue, any_value::Value};
use prost::Message;
use pstn_agent::config::{Config, Environment};
use pstn_agent::model::LogKind;
use pstn_agent::retry::RetryPolicy;
use pstn_agent::simulate::{Lateness, SimulatorOptions};
use std::collections::{HashMap, HashSet};
use std::io::Read;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

const REDACT_KEY: &str = "test-redaction-key-0123456789";

/// What a receiver got: each export's headers and request; it refuses the first N.
#[derive(Default)]
struct Received {
    exports: Mutex<Vec<(HashMap<String, String>, ExportLogsServiceRequest)>>,
    refuse: AtomicU64,
}

impl Received {
    fn take_refusal(&self) -> bool {
        self.refuse
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok()
    }

    /// Every log record's body as JSON, with its timestamps and event name.
    fn records(&self) -> Vec<(serde_json::Value, u64, u64, String)> {
        let exports = self.exports.lock().unwrap();
        let mut records = Vec::new();
        for (_, request) in exports.iter() {
            for resource in &request.resource_logs {
                for scope in &resource.scope_logs {
                    for record in &scope.log_records {
                        let body = record.body.as_ref().map(to_json).unwrap_or_default();
                        records.push((
                            body,
                            record.time_unix_nano,
                            record.observed_time_unix_nano,
                            record.event_name.clone(),
                        ));
                    }
                }
            }
        }
        records
    }
}

fn to_json(value: &AnyValue) -> serde_json::Value {
    match &value.value {
        Some(Value::StringValue(text)) => serde_json::Value::String(text.clone()),
        Some(Value::IntValue(number)) => serde_json::json!(number),
        Some(Value::DoubleValue(number)) => serde_json::json!(number),
        Some(Value::BoolValue(flag)) => serde_json::json!(flag),
        Some(Value::ArrayValue(list)) => {
            serde_json::Value::Array(list.values.iter().map(to_json).collect())
        }
        Some(Value::KvlistValue(map)) => serde_json::Value::Object(
            map.values
                .iter()
                .map(|kv| {
                    (
                        kv.key.clone(),
                        kv.value.as_ref().map(to_json).unwrap_or_default(),
                    )
                })
                .collect(),
        ),
        _ => serde_json::Value::Null,
    }
}

struct Grpc(Arc<Received>);

#[tonic::async_trait]
impl LogsService for Grpc {
    async fn export(
        &self,
        request: tonic::Request<ExportLogsServiceRequest>,
    ) -> Result<tonic::Response<ExportLogsServiceResponse>, tonic::Status> {
        if self.0.take_refusal() {
            return Err(tonic::Status::unavailable("collector not ready"));
        }
        let headers = request
            .metadata()
            .clone()
            .into_headers()
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or("").to_owned()))
            .collect();
        self.0
            .exports
            .lock()
            .unwrap()
            .push((headers, request.into_inner()));
        Ok(tonic::Response::new(ExportLogsServiceResponse::default()))
    }
}

fn free_address() -> SocketAddr {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
}

fn start_grpc(address: SocketAddr, received: Arc<Received>) {
    let service = LogsServiceServer::new(Grpc(received))
        .accept_compressed(tonic::codec::CompressionEncoding::Gzip);
    tokio::spawn(
        tonic::transport::Server::builder()
            .add_service(service)
            .serve(address),
    );
}

async fn start_http(address: SocketAddr, received: Arc<Received>) {
    use http_body_util::BodyExt;
    let listener = tokio::net::TcpListener::bind(address).await.unwrap();
    let handler = Arc::new(move |request: hyper::Request<hyper::body::Incoming>| {
        let received = received.clone();
        async move {
            let status = |code: u16| {
                let mut response = hyper::Response::new(pstn_agent::http_server::full(Vec::new()));
                *response.status_mut() = hyper::StatusCode::from_u16(code).unwrap();
                response
            };
            if request.uri().path() != "/v1/logs" {
                return status(404);
            }
            if received.take_refusal() {
                return status(503);
            }
            let headers: HashMap<String, String> = request
                .headers()
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or("").to_owned()))
                .collect();
            let mut body = request
                .into_body()
                .collect()
                .await
                .unwrap()
                .to_bytes()
                .to_vec();
            if headers.get("content-encoding").is_some_and(|e| e == "gzip") {
                let mut plain = Vec::new();
                flate2::read::GzDecoder::new(&body[..])
                    .read_to_end(&mut plain)
                    .unwrap();
                body = plain;
            }
            let Ok(export) = ExportLogsServiceRequest::decode(&body[..]) else {
                return status(400);
            };
            received.exports.lock().unwrap().push((headers, export));
            let mut response = status(200);
            let answer = ExportLogsServiceResponse::default().encode_to_vec();
            *response.body_mut() = pstn_agent::http_server::full(answer);
            response
        }
    });
    tokio::spawn(pstn_agent::http_server::serve(listener, handler));
}

fn options() -> SimulatorOptions {
    SimulatorOptions {
        calls_per_day: 1500.0,
        page_size: 400,
        lateness: Lateness::None,
        ..SimulatorOptions::default()
    }
}

/// A config with an OTLP sink (and, with `redact`, a redacting file sink beside it).
fn config(harness: &Harness, otlp: &str, redact: bool) -> Config {
    let redaction = if redact {
        format!(
            "redact = {{ hash = [\"callerNumber\", \"calleeNumber\"], drop = [\"userDisplayName\", \"userPrincipalName\"], key = \"{REDACT_KEY}\" }}\n"
        )
    } else {
        String::new()
    };
    let text = format!(
        "data_dir = \"{}\"\n[sources.tenant]\ntype = \"pstn_calls\"\ntenant_id = \"contoso.onmicrosoft.com\"\nclient_id = \"11111111-1111-1111-1111-111111111111\"\nclient_secret = \"s\"\nauthority_url = \"{url}\"\ngraph_url = \"{url}\"\nlookback = \"1d\"\n\
         [sinks.siem]\ntype = \"otlp\"\ninputs = [\"tenant\"]\n{otlp}\nheaders = {{ authorization = \"Bearer siem-token\" }}\n{redaction}\
         [sinks.archive]\ntype = \"file\"\npath = \"{}\"\ninputs = [\"tenant\"]\n{redaction}",
        harness.dir.path().join("state").display(),
        harness.output().display(),
        url = harness.simulator.url(),
    );
    Config::parse(&text, std::path::Path::new("/"), &Environment::fixed([]))
        .unwrap_or_else(|problems| panic!("{problems:?}"))
}

fn expected_ids(harness: &Harness) -> HashSet<String> {
    let now = at(NOW);
    harness
        .expected_ids(
            LogKind::Pstn,
            now.saturating_sub(Duration::from_secs(86_400)),
            now,
            now,
        )
        .into_iter()
        .collect()
}

fn assert_every_row_once(harness: &Harness, received: &Received) {
    let records = received.records();
    let ids: Vec<String> = records
        .iter()
        .map(|(body, ..)| body["call"]["id"].as_str().unwrap().to_owned())
        .collect();
    let unique: HashSet<String> = ids.iter().cloned().collect();
    assert_eq!(unique.len(), ids.len(), "a record arrived twice");
    assert_eq!(unique, expected_ids(harness));
}

async fn grpc_and_http(check: impl AsyncFn(&str, SocketAddr, Arc<Received>)) {
    for protocol in ["grpc", "http/protobuf"] {
        let address = free_address();
        check(protocol, address, Arc::new(Received::default())).await;
    }
}

async fn start(protocol: &str, address: SocketAddr, received: Arc<Received>) {
    if protocol == "grpc" {
        start_grpc(address, received)
    } else {
        start_http(address, received).await
    }
}

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
async fn tls_with_ca_file_and_client_certificates_is_verified_both_ways() {
    let pki = tempfile::tempdir().unwrap();
    common::make_pki(pki.path());
    let read = |name: &str| std::fs::read(pki.path().join(name)).unwrap();
    let address = free_address();
    let received = Arc::new(Received::default());
    let tls = tonic::transport::ServerTlsConfig::new()
        .identity(tonic::transport::Identity::from_pem(
            read("server.pem"),
            read("server.key"),
        ))
        .client_ca_root(tonic::transport::Certificate::from_pem(read("ca.pem")));
    let service = LogsServiceServer::new(Grpc(received.clone()))
        .accept_compressed(tonic::codec::CompressionEncoding::Gzip);
    let server = tonic::transport::Server::builder()
        .tls_config(tls)
        .unwrap()
        .add_service(service)
        .serve(address);
    tokio::spawn(server);
    let path = |name: &str| pki.path().join(name).display().to_string();
    let endpoint = format!("endpoint = \"https://localhost:{}\"", address.port());

    // Without our CA the server's certificate is not trusted; without a client
    // certificate the server refuses us. Neither delivers anything.
    for otlp in [
        format!(
            "{endpoint}\nclient_certificate = \"{}\"\nclient_private_key = \"{}\"",
            path("client.pem"),
            path("client.key")
        ),
        format!("{endpoint}\nca_file = \"{}\"", path("ca.pem")),
    ] {
        let harness = Harness::start(options()).await;
        let report = harness.once(&config(&harness, &otlp, false)).await;
        assert_eq!(report.exit_code(), 1, "{otlp}");
        assert!(received.records().is_empty());
    }

    let harness = Harness::start(options()).await;
    let otlp = format!(
        "{endpoint}\nca_file = \"{}\"\nclient_certificate = \"{}\"\nclient_private_key = \"{}\"",
        path("ca.pem"),
        path("client.pem"),
        path("client.key")
    );
    let report = harness.once(&config(&harness, &otlp, false)).await;
    assert_eq!(report.exit_code(), 0, "{:?}", report.failed);
    assert_every_row_once(&harness, &received);
}
