//! `type = "otlp"`: each event as an OTLP log record, one export per batch through the
//! sink's own client (`export`: gRPC or HTTP/protobuf), so the sink accepts a batch only
//! once the collector acknowledged it. Retries are the source's: a collector that is
//! down stalls the source instead of dropping.
//!
//! A collector's partial success (`rejected_log_records`, `error_message`: quota,
//! validation) is not retried, as the OTLP specification says; the rejected records are
//! counted (`pstn_sink_rejected_events_total{sink}`), its message logged as a warning (at
//! most once a minute per sink), and `/readyz` names the sink until an export is taken
//! whole.
//!
//! The record: body = the event as a structured map, Timestamp = the call's start,
//! ObservedTimestamp = when the agent read it, event name `pstn.call` or
//! `pstn.direct_routing_call`, a few flat attributes, and a resource with
//! `service.name`, `service.version` and the tenant.

mod config;
mod export;

use super::{Batch, DeliveryFuture, Progress, Sink, SinkError, any_value};
use crate::metrics::SinkTelemetry;
use crate::time::Timestamp;
pub(super) use config::read as read_config;
pub use config::{OtlpProtocol, OtlpSinkConfig};
use export::{Exporter, PartialSuccess};
use opentelemetry::logs::{AnyValue, LogRecord, Logger, LoggerProvider, Severity};
use opentelemetry::{InstrumentationScope, Key, KeyValue, StringValue};
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::transform::common::tonic::ResourceAttributesWithSchema;
use opentelemetry_proto::transform::logs::tonic::group_logs_by_resource_and_scope;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::logs::{LogBatch, SdkLogger, SdkLoggerProvider};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// How often a sink warns about partial successes (the counter counts every one).
const WARN_EVERY: Duration = Duration::from_secs(60);

/// Lets a warning through at most once per [`WARN_EVERY`].
#[derive(Debug, Default)]
struct WarnLimit {
    last: Option<tokio::time::Instant>,
}

impl WarnLimit {
    /// Whether to warn now (and, if so, not again for a minute).
    fn allow(&mut self) -> bool {
        let now = tokio::time::Instant::now();
        let allowed = self
            .last
            .is_none_or(|at| now.duration_since(at) >= WARN_EVERY);
        if allowed {
            self.last = Some(now);
        }
        allowed
    }
}

/// Exports events as OTLP logs and waits for the collector's answer.
pub struct OtlpSink {
    name: Arc<str>,
    exporter: Exporter,
    resource: ResourceAttributesWithSchema,
    telemetry: SinkTelemetry,
    /// Partial-success warnings, at most one a minute.
    warnings: WarnLimit,
    /// Only makes empty records (it has no processor): the SDK builds records this way.
    logger: SdkLogger,
    _provider: SdkLoggerProvider,
    scope: InstrumentationScope,
    /// Where exports go, as said in errors: a collector that is down is named.
    destination: String,
}

/// The URL exports go to, for messages: gRPC's endpoint, or HTTP's `/v1/logs` URL,
/// without any userinfo (a credential must not reach a log line).
fn destination(config: &OtlpSinkConfig) -> String {
    let mut url = config.endpoint.clone();
    let _ = url.set_username("");
    let _ = url.set_password(None);
    match config.protocol {
        OtlpProtocol::Grpc => format!("{} (gRPC)", url.as_str().trim_end_matches('/')),
        OtlpProtocol::HttpProtobuf => format!("{} (HTTP)", http_logs_url(&url)),
    }
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

/// Where HTTP exports go: the endpoint as given, or `/v1/logs` when it has no path
/// (as the OTLP specification does for its base endpoint).
pub fn http_logs_url(endpoint: &url::Url) -> String {
    if endpoint.path().is_empty() || endpoint.path() == "/" {
        format!("{}/v1/logs", endpoint.as_str().trim_end_matches('/'))
    } else {
        endpoint.as_str().to_owned()
    }
}

impl OtlpSink {
    /// An OTLP sink; `tenants` are the tenant ids of its inputs (one goes on the
    /// resource); `telemetry` counts what the collector rejects.
    pub fn new(
        name: &str,
        config: &OtlpSinkConfig,
        tenants: &[String],
        telemetry: SinkTelemetry,
    ) -> Result<Self, SinkError> {
        let exporter = Exporter::new(config)
            .map_err(|message| SinkError::permanent(name, "cannot set up the exporter", message))?;
        let mut attributes = vec![
            KeyValue::new("service.name", config.service_name.clone()),
            KeyValue::new("service.version", env!("CARGO_PKG_VERSION")),
        ];
        if let [tenant] = tenants {
            attributes.push(KeyValue::new("microsoft.tenant.id", tenant.clone()));
        }
        let resource = Resource::builder_empty()
            .with_attributes(attributes)
            .build();
        let provider = SdkLoggerProvider::builder().build();
        let scope = InstrumentationScope::builder("pstn-agent")
            .with_version(env!("CARGO_PKG_VERSION"))
            .build();
        Ok(OtlpSink {
            name: name.into(),
            logger: provider.logger_with_scope(scope.clone()),
            _provider: provider,
            exporter,
            resource: (&resource).into(),
            telemetry,
            warnings: WarnLimit::default(),
            scope,
            destination: destination(config),
        })
    }

    /// Counts and reports what the collector rejected of an export it took.
    fn partial_success(&mut self, partial: Option<PartialSuccess>) {
        let Some(PartialSuccess { rejected, message }) = partial else {
            self.telemetry.taken_whole();
            return;
        };
        self.telemetry.rejected(rejected);
        if self.warnings.allow() {
            tracing::warn!(sink = %self.name, rejected, collector_says = %message,
                "the collector took the export but rejected part of it (partial success); not sent again, as OTLP says: see pstn_sink_rejected_events_total");
        }
    }

    fn record(
        &self,
        batch: &Batch,
        index: usize,
    ) -> Result<opentelemetry_sdk::logs::SdkLogRecord, SinkError> {
        let span = &batch.events[index];
        let envelope = &span.envelope;
        let mut record = self.logger.create_log_record();
        record.set_event_name(envelope.kind.otlp_event_name());
        record.set_timestamp(system_time(envelope.call_start));
        record.set_observed_timestamp(system_time(envelope.observed));
        record.set_severity_number(Severity::Info);
        record.set_severity_text("INFO");
        record.add_attribute("pstn.source", envelope.source.to_string());
        if let Some(id) = &envelope.call_id {
            record.add_attribute("pstn.call.id", id.to_string());
        }
        if let Some(call_type) = &envelope.call_type {
            record.add_attribute("pstn.call.type", call_type.to_string());
        }
        record.add_attribute("microsoft.tenant.id", envelope.tenant_id.to_string());
        record.set_body(body(batch, index).map_err(|error| {
            SinkError::permanent(
                &self.name,
                format!("event {index} cannot be encoded as an OTLP log record"),
                error,
            )
            .for_event(index)
        })?);
        Ok(record)
    }
}

/// The record body: the event as a map, built from the typed envelope; only the raw
/// row and the enrichment beside it are read, once, straight into `AnyValue`.
fn body(batch: &Batch, index: usize) -> Result<AnyValue, serde_json::Error> {
    let envelope = &batch.events[index].envelope;
    let text = |text: String| AnyValue::String(StringValue::from(text));
    let mut map = HashMap::with_capacity(6);
    map.insert(
        Key::from("timestamp"),
        text(batch.timestamp_text(index).into_owned()),
    );
    map.insert(
        Key::from("observed_timestamp"),
        text(envelope.observed.to_string()),
    );
    map.insert(Key::from("source"), text(envelope.source.to_string()));
    map.insert(Key::from("tenant_id"), text(envelope.tenant_id.to_string()));
    map.insert(
        Key::from("kind"),
        text(envelope.kind.event_kind().to_owned()),
    );
    if envelope.kind.is_report() {
        // A report's row is one day's totals: the day is the event's `day`.
        map.insert(
            Key::from("day"),
            text(crate::model::day_text(envelope.call_start)),
        );
    }
    if let Some(call) = any_value::from_json(batch.call(index))? {
        map.insert(Key::from("call"), call);
    }
    // The enrichment as the line carries it: a redaction may have hashed some of it,
    // which the typed envelope cannot hold.
    if let Some(object) = super::redact::enrichment_object(batch, index) {
        let members: super::redact::Members<'_> = serde_json::from_slice(&object)?;
        for (key, value) in members.0 {
            if let Some(value) = any_value::from_json(value.get().as_bytes())? {
                map.insert(Key::from(key.into_owned()), value);
            }
        }
    }
    Ok(AnyValue::Map(Box::new(map)))
}

impl Sink for OtlpSink {
    fn deliver<'a>(&'a mut self, batch: &'a Batch, _: &'a mut Progress) -> DeliveryFuture<'a> {
        Box::pin(async move {
            let records = (0..batch.events.len())
                .map(|index| self.record(batch, index))
                .collect::<Result<Vec<_>, _>>()?;
            let pairs: Vec<_> = records.iter().map(|record| (record, &self.scope)).collect();
            let request = ExportLogsServiceRequest {
                resource_logs: group_logs_by_resource_and_scope(
                    &LogBatch::new(&pairs),
                    &self.resource,
                ),
            };
            match self.exporter.export(request).await {
                Ok(partial) => {
                    self.partial_success(partial);
                    Ok(())
                }
                Err(error) => {
                    let wait = error.retry_after();
                    let error = SinkError::retryable(
                        &self.name,
                        format!("export to {} failed", self.destination),
                        error,
                    );
                    Err(match wait {
                        Some(wait) => error.retry_after(wait),
                        None => error,
                    })
                }
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn partial_success_warnings_come_at_most_once_a_minute() {
        let mut limit = WarnLimit::default();
        assert!(limit.allow());
        tokio::time::advance(Duration::from_secs(59)).await;
        assert!(!limit.allow());
        tokio::time::advance(Duration::from_secs(1)).await;
        assert!(limit.allow());
        assert!(!limit.allow());
    }

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
    fn the_body_is_the_event_map_built_from_the_envelope_and_the_row() {
        let batch = crate::sinks::batch_of(&[
            r#"{"id":"a","startDateTime":"2024-05-01T08:15:03.7730000Z","callType":"user_in","gone":null,"n":[1,2.5]}"#,
        ]);
        let Ok(AnyValue::Map(map)) = body(&batch, 0) else {
            panic!("not a map")
        };
        let get = |key: &str| map.get(&Key::from(key.to_owned())).cloned();
        assert_eq!(
            get("timestamp"),
            Some(AnyValue::String("2024-05-01T08:15:03.7730000Z".into()))
        );
        assert_eq!(
            get("observed_timestamp"),
            Some(AnyValue::String(
                batch.events[0].envelope.observed.to_string().into()
            ))
        );
        assert_eq!(get("source"), Some(AnyValue::String("tenant".into())));
        assert_eq!(get("tenant_id"), Some(AnyValue::String("t-1".into())));
        assert_eq!(get("kind"), Some(AnyValue::String("pstn_call".into())));
        let Some(AnyValue::Map(call)) = get("call") else {
            panic!("the call is not a map")
        };
        assert!(!call.contains_key(&Key::from("gone")));
        assert_eq!(
            call.get(&Key::from("n")),
            Some(&AnyValue::ListAny(Box::new(vec![
                AnyValue::Int(1),
                AnyValue::Double(2.5)
            ])))
        );
    }
}
