//! The OTLP sink's own export over gRPC (tonic's `LogsService` client) or HTTP
//! (protobuf over reqwest), so that the collector's answer is read: its
//! `partial_success { rejected_log_records, error_message }` comes back to the sink
//! (opentelemetry-otlp's exporter only logs it, and only with its internal logs on).
//! No retries here: the source's backoff offers the batch again; an HTTP 429 or 503
//! with `Retry-After` says how long at least.

use super::{OtlpProtocol, OtlpSinkConfig};
use opentelemetry_proto::tonic::collector::logs::v1::logs_service_client::LogsServiceClient;
use opentelemetry_proto::tonic::collector::logs::v1::{
    ExportLogsServiceRequest, ExportLogsServiceResponse,
};
use prost::Message;
use std::io::Write;
use std::time::Duration;
use tonic::codec::CompressionEncoding;
use tonic::metadata::MetadataMap;
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Endpoint, Identity};

/// What a collector rejected of an export it took.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct PartialSuccess {
    /// How many log records it rejected.
    pub(super) rejected: u64,
    /// Why, in its words.
    pub(super) message: String,
}

/// Why an export did not go through.
#[derive(Debug, thiserror::Error)]
pub(super) enum ExportError {
    /// The gRPC call failed (the collector's status, or the connection).
    #[error("gRPC status {code:?}: {message}")]
    Grpc {
        /// The status code.
        code: tonic::Code,
        /// Its message.
        message: String,
    },
    /// The HTTP request failed before an answer.
    #[error("{0}")]
    Network(String),
    /// The collector answered HTTP with a failure status.
    #[error("HTTP {status}{detail}")]
    Status {
        /// The status.
        status: u16,
        /// Its `Retry-After`, when it gave one.
        #[source]
        wait: Option<RetryAfter>,
        /// The start of its body.
        detail: String,
    },
}

/// A `Retry-After` that came with a failure.
#[derive(Debug, thiserror::Error)]
#[error("retry after {0:?}")]
pub(super) struct RetryAfter(pub(super) Duration);

impl ExportError {
    /// How long the collector asked to wait, when it said.
    pub(super) fn retry_after(&self) -> Option<Duration> {
        match self {
            ExportError::Status {
                wait: Some(RetryAfter(wait)),
                ..
            } => Some(*wait),
            _ => None,
        }
    }
}

/// Sends export requests to one collector, and scrubs the configured header values
/// from what it says back (a collector echoing a token must not get it logged).
pub(super) struct Exporter {
    transport: Transport,
    secrets: Vec<String>,
}

/// The protocol's client.
enum Transport {
    /// OTLP/gRPC.
    Grpc {
        client: LogsServiceClient<Channel>,
        metadata: MetadataMap,
    },
    /// OTLP/HTTP with protobuf bodies.
    Http {
        client: reqwest::Client,
        url: String,
        headers: reqwest::header::HeaderMap,
        gzip: bool,
    },
}

fn read_pem(path: &std::path::Path) -> Result<Vec<u8>, String> {
    std::fs::read(path).map_err(|error| format!("{}: {error}", path.display()))
}

fn header_map(config: &OtlpSinkConfig) -> Result<reqwest::header::HeaderMap, String> {
    let mut headers = reqwest::header::HeaderMap::new();
    for (name, value) in &config.headers {
        let name = reqwest::header::HeaderName::from_bytes(name.as_bytes())
            .map_err(|_| format!("header {name:?} is not a valid name"))?;
        let mut value = reqwest::header::HeaderValue::from_str(value.expose())
            .map_err(|_| format!("header {name} has an invalid value"))?;
        value.set_sensitive(true);
        headers.insert(name, value);
    }
    Ok(headers)
}

impl Exporter {
    /// The exporter `config` asks for; nothing is connected yet.
    pub(super) fn new(config: &OtlpSinkConfig) -> Result<Self, String> {
        let transport = match config.protocol {
            OtlpProtocol::Grpc => Self::grpc(config)?,
            OtlpProtocol::HttpProtobuf => Self::http(config)?,
        };
        let secrets = config
            .headers
            .iter()
            .map(|(_, value)| value.expose().to_owned())
            .filter(|value| value.len() >= 4)
            .collect();
        Ok(Exporter { transport, secrets })
    }

    /// `text` cut to 300 characters, without any configured header value.
    fn scrub(&self, text: &str) -> String {
        scrub(&self.secrets, text)
    }

    fn grpc(config: &OtlpSinkConfig) -> Result<Transport, String> {
        let address = config.endpoint.as_str().trim_end_matches('/').to_owned();
        let mut endpoint = Endpoint::from_shared(address)
            .map_err(|error| format!("endpoint: {error}"))?
            .timeout(config.timeout)
            .connect_timeout(config.timeout);
        if config.endpoint.scheme() == "https" {
            let mut tls = ClientTlsConfig::new().with_native_roots();
            if let Some(ca_file) = &config.ca_file {
                tls = tls.ca_certificate(Certificate::from_pem(read_pem(ca_file)?));
            }
            if let Some((certificate, key)) = &config.client_identity {
                tls = tls.identity(Identity::from_pem(read_pem(certificate)?, read_pem(key)?));
            }
            endpoint = endpoint
                .tls_config(tls)
                .map_err(|error| format!("tls: {error}"))?;
        }
        let mut client = LogsServiceClient::new(endpoint.connect_lazy());
        if config.gzip {
            client = client.send_compressed(CompressionEncoding::Gzip);
        }
        client = client.accept_compressed(CompressionEncoding::Gzip);
        Ok(Transport::Grpc {
            client,
            metadata: MetadataMap::from_headers(header_map(config)?),
        })
    }

    fn http(config: &OtlpSinkConfig) -> Result<Transport, String> {
        let mut client = crate::http_client::builder()?.timeout(config.timeout);
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
        Ok(Transport::Http {
            client: client.build().map_err(|error| error.to_string())?,
            url: super::http_logs_url(&config.endpoint),
            headers: header_map(config)?,
            gzip: config.gzip,
        })
    }

    /// Sends one export; what the collector rejected of it, if anything.
    pub(super) async fn export(
        &mut self,
        request: ExportLogsServiceRequest,
    ) -> Result<Option<PartialSuccess>, ExportError> {
        let response = match &mut self.transport {
            Transport::Grpc { client, metadata } => {
                let mut call = tonic::Request::new(request);
                *call.metadata_mut() = metadata.clone();
                match client.export(call).await {
                    Ok(response) => Ok(response.into_inner()),
                    Err(status) => Err(ExportError::Grpc {
                        code: status.code(),
                        message: status.message().to_owned(),
                    }),
                }
            }
            Transport::Http {
                client,
                url,
                headers,
                gzip,
            } => post(client, url, headers, *gzip, &request).await,
        };
        let response = response.map_err(|error| match error {
            ExportError::Grpc { code, message } => ExportError::Grpc {
                code,
                message: self.scrub(&message),
            },
            ExportError::Status {
                status,
                wait,
                detail,
            } => ExportError::Status {
                status,
                wait,
                detail: self.scrub(&detail),
            },
            other => other,
        })?;
        Ok(response.partial_success.and_then(|partial| {
            let rejected = u64::try_from(partial.rejected_log_records).unwrap_or(0);
            (rejected > 0 || !partial.error_message.is_empty()).then(|| PartialSuccess {
                rejected,
                message: self.scrub(&partial.error_message),
            })
        }))
    }
}

/// `text` without any of `secrets`, cut to 300 characters.
fn scrub(secrets: &[String], text: &str) -> String {
    let mut text = text.to_owned();
    for secret in secrets {
        text = text.replace(secret.as_str(), "[redacted]");
    }
    text.chars().take(300).collect()
}

/// The most of an answer read: an export response is a few bytes.
const MAX_ANSWER_BYTES: usize = 64 * 1024;

/// The answer's body, cut at [`MAX_ANSWER_BYTES`].
async fn read_capped(mut response: reqwest::Response) -> Result<Vec<u8>, ExportError> {
    let mut body = Vec::new();
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|error| ExportError::Network(crate::entra::error_chain(&error.without_url())))?
    {
        let room = MAX_ANSWER_BYTES.saturating_sub(body.len());
        body.extend_from_slice(&chunk[..chunk.len().min(room)]);
        if body.len() >= MAX_ANSWER_BYTES {
            break;
        }
    }
    Ok(body)
}

/// One OTLP/HTTP protobuf export.
async fn post(
    client: &reqwest::Client,
    url: &str,
    headers: &reqwest::header::HeaderMap,
    gzip: bool,
    request: &ExportLogsServiceRequest,
) -> Result<ExportLogsServiceResponse, ExportError> {
    let mut body = request.encode_to_vec();
    let mut call = client
        .post(url)
        .headers(headers.clone())
        .header(reqwest::header::CONTENT_TYPE, "application/x-protobuf");
    if gzip {
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        body = encoder
            .write_all(&body)
            .and_then(|()| encoder.finish())
            .map_err(|error| ExportError::Network(format!("gzip: {error}")))?;
        call = call.header(reqwest::header::CONTENT_ENCODING, "gzip");
    }
    let response =
        call.body(body).send().await.map_err(|error| {
            ExportError::Network(crate::entra::error_chain(&error.without_url()))
        })?;
    let status = response.status();
    let wait =
        crate::http_client::retry_after(response.headers(), crate::http_client::MAX_RETRY_AFTER)
            .map(RetryAfter);
    let answer = read_capped(response).await?;
    if !status.is_success() {
        let text: String = String::from_utf8_lossy(&answer)
            .chars()
            .take(2000)
            .collect();
        let detail = match text.trim() {
            "" => String::new(),
            text => format!(": {text}"),
        };
        return Err(ExportError::Status {
            status: status.as_u16(),
            wait,
            detail,
        });
    }
    // An empty body is an empty answer (protobuf's encoding of the default message).
    ExportLogsServiceResponse::decode(&answer[..])
        .map_err(|error| ExportError::Network(format!("unreadable export response: {error}")))
}

#[cfg(test)]
mod tests {
    #[test]
    fn what_a_collector_says_back_never_carries_a_header_value() {
        let secrets = vec!["Bearer siem-token".to_owned()];
        let echoed = format!("quota exceeded for Bearer siem-token {}", "x".repeat(400));
        let scrubbed = super::scrub(&secrets, &echoed);
        assert!(scrubbed.starts_with("quota exceeded for [redacted] x"));
        assert!(!scrubbed.contains("siem-token"));
        assert_eq!(scrubbed.chars().count(), 300);
    }
}
