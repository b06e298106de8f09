//! OTLP receivers for the OTLP sink's tests: a tonic LogsService (gRPC) and an HTTP
//! endpoint decoding ExportLogsServiceRequest at /v1/logs, each recording what it got
//! and able to refuse the first exports. The OTLP test files name it
//! `use crate::common::otlp as receiver;`.

use crate::common::{Harness, NOW, at};
use opentelemetry_proto::tonic::collector::logs::v1::logs_service_server::{
    LogsService, LogsServiceServer,
};
use opentelemetry_proto::tonic::collector::logs::v1::{
    ExportLogsPartialSuccess, ExportLogsServiceRequest, ExportLogsServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::{AnyValue, any_value::Value};
use prost::Message;
use pstn_agent::config::{Config, Environment};
use pstn_agent::model::LogKind;
use pstn_agent::simulate::{Lateness, SimulatorOptions};
use std::collections::{HashMap, HashSet};
use std::io::Read;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

pub const REDACT_KEY: &str = "test-redaction-key-0123456789abcdef";

/// What a receiver got: each export's headers and request; it refuses the first N, and
/// the exports whose numbers (1-based) are in `refuse_exports`; it answers with
/// `partial_success` while `partial` holds (rejected count, message).
#[derive(Default)]
pub struct Received {
    pub exports: Mutex<Vec<(HashMap<String, String>, ExportLogsServiceRequest)>>,
    refuse: AtomicU64,
    pub refuse_exports: Mutex<HashSet<u64>>,
    pub partial: Mutex<Option<(i64, String)>>,
    /// HTTP refusals come with `Retry-After: N` (seconds) when set.
    pub retry_after: Mutex<Option<u64>>,
    /// When each export arrived, refused or not.
    pub arrivals: Mutex<Vec<std::time::Instant>>,
    count: AtomicU64,
}

impl Received {
    /// Refuses the next `count` exports.
    pub fn refuse_next(&self, count: u64) {
        self.refuse.store(count, Ordering::SeqCst);
    }

    /// Refusals asked for by [`Received::refuse_next`] not yet made.
    pub fn refusals_left(&self) -> u64 {
        self.refuse.load(Ordering::SeqCst)
    }

    fn take_refusal(&self) -> bool {
        self.arrivals
            .lock()
            .unwrap()
            .push(std::time::Instant::now());
        let number = self.count.fetch_add(1, Ordering::SeqCst) + 1;
        self.refuse
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok()
            || self.refuse_exports.lock().unwrap().contains(&number)
    }

    /// The answer to an accepted export: empty, or a partial success.
    fn answer(&self) -> ExportLogsServiceResponse {
        let partial = self.partial.lock().unwrap().clone();
        ExportLogsServiceResponse {
            partial_success: partial.map(|(rejected, message)| ExportLogsPartialSuccess {
                rejected_log_records: rejected,
                error_message: message,
            }),
        }
    }

    /// Every log record's body as JSON, with its timestamps and event name.
    pub fn records(&self) -> Vec<(serde_json::Value, u64, u64, String)> {
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

pub fn to_json(value: &AnyValue) -> serde_json::Value {
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

pub struct Grpc(pub Arc<Received>);

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
        Ok(tonic::Response::new(self.0.answer()))
    }
}

pub fn free_address() -> SocketAddr {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
}

pub fn start_grpc(address: SocketAddr, received: Arc<Received>) {
    let service = LogsServiceServer::new(Grpc(received))
        .accept_compressed(tonic::codec::CompressionEncoding::Gzip);
    tokio::spawn(
        tonic::transport::Server::builder()
            .add_service(service)
            .serve(address),
    );
}

pub async fn start_http(address: SocketAddr, received: Arc<Received>) {
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
                let mut refusal = status(503);
                if let Some(seconds) = *received.retry_after.lock().unwrap() {
                    refusal
                        .headers_mut()
                        .insert(hyper::header::RETRY_AFTER, seconds.into());
                }
                return refusal;
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
            let answer = received.answer().encode_to_vec();
            *response.body_mut() = pstn_agent::http_server::full(answer);
            response
        }
    });
    tokio::spawn(pstn_agent::http_server::serve(listener, handler));
}

pub fn options() -> SimulatorOptions {
    SimulatorOptions {
        calls_per_day: 1500.0,
        page_size: 400,
        lateness: Lateness::None,
        ..SimulatorOptions::default()
    }
}

/// A config with an OTLP sink (and, with `redact`, a redacting file sink beside it).
pub fn config(harness: &Harness, otlp: &str, redact: bool) -> Config {
    config_of(harness, LogKind::Pstn, otlp, redact)
}

/// [`config`] with a source of `kind`.
pub fn config_of(harness: &Harness, kind: LogKind, otlp: &str, redact: bool) -> Config {
    let redaction = if redact {
        format!(
            "redact = {{ hash = [\"callerNumber\", \"calleeNumber\"], drop = [\"userDisplayName\", \"userPrincipalName\"], key = \"{REDACT_KEY}\" }}\n"
        )
    } else {
        String::new()
    };
    config_redacting(harness, kind, otlp, &redaction)
}

/// [`config_of`] with `redaction` (a `redact = ...` line, or nothing) on both sinks.
pub fn config_redacting(harness: &Harness, kind: LogKind, otlp: &str, redaction: &str) -> Config {
    let text = format!(
        "data_dir = \"{}\"\n[sources.tenant]\ntype = \"{kind}\"\ntenant_id = \"contoso.onmicrosoft.com\"\nclient_id = \"11111111-1111-1111-1111-111111111111\"\nclient_secret = \"s\"\nauthority_url = \"{url}\"\ngraph_url = \"{url}\"\nlookback = \"1d\"\nrequests_per_minute = 60000\n\
         [sinks.siem]\ntype = \"otlp\"\ninputs = [\"tenant\"]\n{otlp}\nheaders = {{ authorization = \"Bearer siem-token\" }}\n{redaction}\
         [sinks.archive]\ntype = \"file\"\npath = \"{}\"\ninputs = [\"tenant\"]\n{redaction}",
        harness.dir.path().join("state").display(),
        harness.output().display(),
        url = harness.simulator.url(),
        kind = kind.source_type(),
    );
    Config::parse(&text, std::path::Path::new("/"), &Environment::fixed([]))
        .unwrap_or_else(|problems| panic!("{problems:?}"))
}

pub fn expected_ids(harness: &Harness) -> HashSet<String> {
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

pub fn assert_every_row_once(harness: &Harness, received: &Received) {
    let records = received.records();
    let ids: Vec<String> = records
        .iter()
        .map(|(body, ..)| body["call"]["id"].as_str().unwrap().to_owned())
        .collect();
    let unique: HashSet<String> = ids.iter().cloned().collect();
    assert_eq!(unique.len(), ids.len(), "a record arrived twice");
    assert_eq!(unique, expected_ids(harness));
}

pub async fn grpc_and_http(check: impl AsyncFn(&str, SocketAddr, Arc<Received>)) {
    for protocol in ["grpc", "http/protobuf"] {
        let address = free_address();
        check(protocol, address, Arc::new(Received::default())).await;
    }
}

pub async fn start(protocol: &str, address: SocketAddr, received: Arc<Received>) {
    if protocol == "grpc" {
        start_grpc(address, received)
    } else {
        start_http(address, received).await
    }
}
