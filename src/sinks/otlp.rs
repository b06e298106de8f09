//! `type = "otlp"`: each event as an OTLP log record, exported straight through
//! opentelemetry-otlp's exporter (no batch processor), so the sink accepts a batch
//! only once the collector acknowledged it. Retries are the source's: the exporter's
//! own are off, so a collector that is down stalls the source instead of dropping.
//!
//! The record: body = the event as a structured map, Timestamp = the call's start,
//! ObservedTimestamp = when the agent read it, event name `pstn.call` or
//! `pstn.direct_routing_call`, a few flat attributes, and a resource with
//! `service.name`, `service.version` and the tenant.

use super::{Batch, DeliveryFuture, Sink, SinkError};
use crate::config::{OtlpProtocol, OtlpSinkConfig};
use crate::model::LogKind;
use crate::time::Timestamp;
use opentelemetry::logs::{AnyValue, LogRecord, Logger, LoggerProvider, Severity};
use opentelemetry::{InstrumentationScope, Key, KeyValue, StringValue};
use opentelemetry_otlp::tonic_types::metadata::MetadataMap;
use opentelemetry_otlp::tonic_types::transport::{Certificate, ClientTlsConfig, Identity};
use opentelemetry_otlp::{
    Compression, LogExporter, RetryPolicy, WithExportConfig, WithHttpConfig, WithTonicConfig,
};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::logs::{LogBatch, LogExporter as _, SdkLogger, SdkLoggerProvider};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Exports events as OTLP logs and waits for the collector's answer.
pub struct OtlpSink {
    name: Arc<str>,
    exporter: LogExporter,
    /// Only makes empty records (it has no processor): the SDK builds records this way.
    logger: SdkLogger,
    _provider: SdkLoggerProvider,
    scope: InstrumentationScope,
}

impl std::fmt::Debug for OtlpSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OtlpSink")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

fn system_time(timestamp: Timestamp) -> SystemTime {
    UNIX_EPOCH + Duration::from_nanos(timestamp.ticks().max(0) as u64 * 100)
}

/// A JSON value as an OTLP `AnyValue`; nulls have no OTLP form and are left out of maps.
fn any_value(value: serde_json::Value) -> Option<AnyValue> {
    Some(match value {
        serde_json::Value::Null => return None,
        serde_json::Value::Bool(flag) => AnyValue::Boolean(flag),
        serde_json::Value::Number(number) => match number.as_i64() {
            Some(integer) => AnyValue::Int(integer),
            None => AnyValue::Double(number.as_f64().unwrap_or(f64::NAN)),
        },
        serde_json::Value::String(text) => AnyValue::String(StringValue::from(text)),
        serde_json::Value::Array(items) => {
            AnyValue::ListAny(Box::new(items.into_iter().filter_map(any_value).collect()))
        }
        serde_json::Value::Object(map) => AnyValue::Map(Box::new(
            map.into_iter()
                .filter_map(|(key, value)| Some((Key::from(key), any_value(value)?)))
                .collect(),
        )),
    })
}

fn read_pem(path: &std::path::Path) -> Result<Vec<u8>, String> {
    std::fs::read(path).map_err(|error| format!("{}: {error}", path.display()))
}

/// Where HTTP exports go: the endpoint as given, or `/v1/logs` when it has no path
/// (as the OTLP specification does for its base endpoint).
pub fn http_logs_url(endpoint: &url::Url) -> String {
    if endpoint.path().is_empty() || endpoint.path() == "/" {
        format!("{}/v1/logs", endpoint.as_str().trim_end_matches('/'))
    } else {
        endpoint.as_str().to_owned()
    }
}

fn build_exporter(config: &OtlpSinkConfig) -> Result<LogExporter, String> {
    let https = config.endpoint.scheme() == "https";
    match config.protocol {
        OtlpProtocol::Grpc => {
            let mut headers = reqwest::header::HeaderMap::new();
            for (name, value) in &config.headers {
                let name = reqwest::header::HeaderName::from_bytes(name.as_bytes())
                    .map_err(|_| format!("header {name:?} is not a valid name"))?;
                let value = reqwest::header::HeaderValue::from_str(value.expose())
                    .map_err(|_| format!("header {name} has an invalid value"))?;
                headers.insert(name, value);
            }
            let mut builder = LogExporter::builder()
                .with_tonic()
                .with_endpoint(config.endpoint.as_str().trim_end_matches('/'))
                .with_timeout(config.timeout)
                .with_metadata(MetadataMap::from_headers(headers))
                .with_retry_policy(RetryPolicy::disabled());
            if config.gzip {
                builder = builder.with_compression(Compression::Gzip);
            }
            if https {
                let mut tls = ClientTlsConfig::new().with_native_roots();
                if let Some(ca_file) = &config.ca_file {
                    tls = tls.ca_certificate(Certificate::from_pem(read_pem(ca_file)?));
                }
                if let Some((certificate, key)) = &config.client_identity {
                    tls = tls.identity(Identity::from_pem(read_pem(certificate)?, read_pem(key)?));
                }
                builder = builder.with_tls_config(tls);
            }
            builder.build().map_err(|error| error.to_string())
        }
        OtlpProtocol::HttpProtobuf => {
            let _ = rustls::crypto::ring::default_provider().install_default();
            let mut client = reqwest::Client::builder()
                .user_agent(concat!("pstn-agent/", env!("CARGO_PKG_VERSION")))
                .redirect(reqwest::redirect::Policy::none())
                .timeout(config.timeout);
            if let Some(ca_file) = &config.ca_file {
                let certificate = reqwest::Certificate::from_pem(&read_pem(ca_file)?)
                    .map_err(|error| format!("ca_file: {error}"))?;
                client = client.add_root_certificate(certificate);
            }
            if let Some((certificate, key)) = &config.client_identity {
                let mut pem = read_pem(certificate)?;
                pem.extend_from_slice(&read_pem(key)?);
                client = client.identity(
                    reqwest::Identity::from_pem(&pem)
                        .map_err(|error| format!("client certificate: {error}"))?,
                );
            }
            let client = client.build().map_err(|error| error.to_string())?;
            let headers: HashMap<String, String> = config
                .headers
                .iter()
                .map(|(name, value)| (name.clone(), value.expose().to_owned()))
                .collect();
            let mut builder = LogExporter::builder()
                .with_http()
                .with_endpoint(http_logs_url(&config.endpoint))
                .with_timeout(config.timeout)
                .with_http_client(client)
                .with_headers(headers)
                .with_retry_policy(RetryPolicy::disabled());
            if config.gzip {
                builder = builder.with_compression(Compression::Gzip);
            }
            builder.build().map_err(|error| error.to_string())
        }
    }
}

impl OtlpSink {
    /// An OTLP sink; `tenants` are the tenant ids of its inputs (one goes on the resource).
    pub fn new(name: &str, config: &OtlpSinkConfig, tenants: &[String]) -> Result<Self, SinkError> {
        let failed = |message: String| SinkError {
            sink: name.into(),
            message,
        };
        let mut exporter = build_exporter(config).map_err(failed)?;
        let mut attributes = vec![
            KeyValue::new("service.name", config.service_name.clone()),
            KeyValue::new("service.version", env!("CARGO_PKG_VERSION")),
        ];
        if let [tenant] = tenants {
            attributes.push(KeyValue::new("microsoft.tenant.id", tenant.clone()));
        }
        exporter.set_resource(
            &Resource::builder_empty()
                .with_attributes(attributes)
                .build(),
        );
        let provider = SdkLoggerProvider::builder().build();
        let scope = InstrumentationScope::builder("pstn-agent")
            .with_version(env!("CARGO_PKG_VERSION"))
            .build();
        Ok(OtlpSink {
            name: name.into(),
            logger: provider.logger_with_scope(scope.clone()),
            _provider: provider,
            exporter,
            scope,
        })
    }

    fn record(
        &self,
        batch: &Batch,
        index: usize,
    ) -> Result<opentelemetry_sdk::logs::SdkLogRecord, String> {
        let span = &batch.events[index];
        let event: serde_json::Value = serde_json::from_slice(&batch.lines[span.line.clone()])
            .map_err(|error| error.to_string())?;
        let call = &event["call"];
        let mut record = self.logger.create_log_record();
        record.set_event_name(match batch.kind {
            LogKind::Pstn => "pstn.call",
            LogKind::DirectRouting => "pstn.direct_routing_call",
        });
        record.set_timestamp(system_time(span.call_start));
        record.set_observed_timestamp(system_time(span.observed));
        record.set_severity_number(Severity::Info);
        record.set_severity_text("INFO");
        record.add_attribute("pstn.source", batch.source.to_string());
        for (attribute, field) in [("pstn.call.id", "id"), ("pstn.call.type", "callType")] {
            if let Some(text) = call[field].as_str() {
                record.add_attribute(attribute, text.to_owned());
            }
        }
        if let Some(tenant) = event["tenant_id"].as_str() {
            record.add_attribute("microsoft.tenant.id", tenant.to_owned());
        }
        if let Some(body) = any_value(event) {
            record.set_body(body);
        }
        Ok(record)
    }
}

impl Sink for OtlpSink {
    fn deliver<'a>(&'a mut self, batch: &'a Batch) -> DeliveryFuture<'a> {
        Box::pin(async move {
            let failed = |message: String| SinkError {
                sink: self.name.clone(),
                message,
            };
            let records = (0..batch.events.len())
                .map(|index| self.record(batch, index))
                .collect::<Result<Vec<_>, _>>()
                .map_err(failed)?;
            let pairs: Vec<_> = records.iter().map(|record| (record, &self.scope)).collect();
            self.exporter
                .export(LogBatch::new(&pairs))
                .await
                .map_err(|error| failed(format!("export failed: {error}")))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn http_endpoints_without_a_path_get_v1_logs() {
        let base = url::Url::parse("http://127.0.0.1:4318").unwrap();
        assert_eq!(http_logs_url(&base), "http://127.0.0.1:4318/v1/logs");
        let custom = url::Url::parse("https://siem.example.com/ingest/otlp").unwrap();
        assert_eq!(
            http_logs_url(&custom),
            "https://siem.example.com/ingest/otlp"
        );
    }

    #[test]
    fn json_becomes_a_structured_map_without_nulls() {
        let value = serde_json::json!({"charge": "0.10", "duration": 219, "rate": 0.5, "ok": true, "gone": null, "list": [1, null]});
        let Some(AnyValue::Map(map)) = any_value(value) else {
            panic!("not a map")
        };
        assert_eq!(
            map.get(&Key::from("charge")),
            Some(&AnyValue::String("0.10".into()))
        );
        assert_eq!(map.get(&Key::from("duration")), Some(&AnyValue::Int(219)));
        assert_eq!(map.get(&Key::from("rate")), Some(&AnyValue::Double(0.5)));
        assert!(!map.contains_key(&Key::from("gone")));
        assert_eq!(
            map.get(&Key::from("list")),
            Some(&AnyValue::ListAny(Box::new(vec![AnyValue::Int(1)])))
        );
    }
}
