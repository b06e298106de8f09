//! `type = "otlp"` sinks: the collector, its transport and TLS, the headers.

use crate::model::Secret;
use crate::settings::{Fields, Problems, bare_reference, resolve};
use std::path::{Path, PathBuf};
use std::time::Duration;
use url::Url;

/// OTLP transport.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OtlpProtocol {
    /// OTLP/gRPC (port 4317 usually).
    Grpc,
    /// OTLP/HTTP with protobuf bodies (port 4318 usually; `/v1/logs`).
    HttpProtobuf,
}

/// One validated OTLP sink.
#[derive(Debug, Clone)]
pub struct OtlpSinkConfig {
    /// Collector endpoint; for HTTP without a path, `/v1/logs` is added.
    pub endpoint: Url,
    /// gRPC or HTTP/protobuf.
    pub protocol: OtlpProtocol,
    /// Headers (gRPC metadata) sent with every export; values are secrets.
    pub headers: Vec<(String, Secret)>,
    /// Timeout of one export.
    pub timeout: Duration,
    /// gzip the exports.
    pub gzip: bool,
    /// CA certificate (PEM) to trust instead of the system roots.
    pub ca_file: Option<PathBuf>,
    /// Client certificate and key (PEM) for mutual TLS.
    pub client_identity: Option<(PathBuf, PathBuf)>,
    /// `service.name` of the resource.
    pub service_name: String,
}

fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(domain)) => domain == "localhost",
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

fn optional_file(
    fields: &mut Fields<'_>,
    key: &str,
    base: &Path,
    problems: &mut Problems,
) -> Option<PathBuf> {
    let path = resolve(base, &fields.string(key, problems)?);
    if !path.is_file() {
        problems.add(
            &fields.key(key),
            format!("{}: no such file", path.display()),
        );
    }
    Some(path)
}

/// Reads the keys of a `type = "otlp"` sink table.
pub(in crate::sinks) fn read(
    fields: &mut Fields<'_>,
    base: &Path,
    problems: &mut Problems,
) -> Option<OtlpSinkConfig> {
    let before = problems.len();
    let endpoint = read_endpoint(fields, problems);
    let protocol = read_protocol(fields, problems);
    let headers = read_headers(fields, problems);
    let insecure_plaintext = fields
        .boolean("insecure_plaintext", problems)
        .unwrap_or(false);
    if let Some(url) = &endpoint {
        check_plaintext(
            fields,
            url,
            !headers.is_empty(),
            insecure_plaintext,
            problems,
        );
    }
    let timeout = fields.duration("timeout", Duration::from_secs(10), problems);
    let gzip = crate::sinks::config::read_compression(fields, problems);
    let ca_file = optional_file(fields, "ca_file", base, problems);
    let client_identity = read_client_identity(fields, base, problems);
    let service_name = fields
        .string("service_name", problems)
        .or_else(|| {
            fields
                .environment()
                .variable("OTEL_SERVICE_NAME")
                .filter(|name| !name.is_empty())
        })
        .unwrap_or_else(|| "pstn-agent".to_owned());
    if problems.len() != before {
        return None;
    }
    Some(OtlpSinkConfig {
        endpoint: endpoint?,
        protocol: protocol?,
        headers,
        timeout: timeout?,
        gzip,
        ca_file,
        client_identity,
        service_name,
    })
}

/// `endpoint` (required): an http(s) URL with a host.
fn read_endpoint(fields: &mut Fields<'_>, problems: &mut Problems) -> Option<Url> {
    let text = fields.required_string("endpoint", problems)?;
    match Url::parse(&text) {
        Ok(url) if matches!(url.scheme(), "http" | "https") && url.host().is_some() => Some(url),
        _ => {
            problems.add(
                &fields.key("endpoint"),
                format!("{text:?} is not an http(s) URL like http://127.0.0.1:4317"),
            );
            None
        }
    }
}

/// `protocol`: `grpc` (the default) or `http/protobuf`.
fn read_protocol(fields: &mut Fields<'_>, problems: &mut Problems) -> Option<OtlpProtocol> {
    match fields.string("protocol", problems).as_deref() {
        None | Some("grpc") => Some(OtlpProtocol::Grpc),
        Some("http/protobuf") => Some(OtlpProtocol::HttpProtobuf),
        Some(other) => {
            problems.add(
                &fields.key("protocol"),
                format!("{other:?} is not supported (use \"grpc\" or \"http/protobuf\")"),
            );
            None
        }
    }
}

/// `headers`: names lower-cased and checked, values kept as secrets.
fn read_headers(fields: &mut Fields<'_>, problems: &mut Problems) -> Vec<(String, Secret)> {
    let headers: Vec<(String, Secret)> = fields
        .string_map("headers", problems)
        .unwrap_or_default()
        .into_iter()
        .map(|(name, value)| (name.to_ascii_lowercase(), Secret::new(value)))
        .collect();
    for (name, value) in &headers {
        // `Bearer $SIEM_TOKEN` would send the words themselves.
        if let Some(variable) = value.expose().split_whitespace().find_map(bare_reference) {
            problems.add(
                &format!("{}.{name}", fields.key("headers")),
                format!("${variable} is taken literally, not from the environment: write ${{{variable}}}"),
            );
        }
        if name.is_empty()
            || !name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            problems.add(
                &format!("{}.{name}", fields.key("headers")),
                "not a valid header name",
            );
        }
    }
    headers
}

/// Plain http off loopback carries every call record, and any header, in clear text:
/// refused for headers, and without `insecure_plaintext = true` for the records.
fn check_plaintext(
    fields: &Fields<'_>,
    url: &Url,
    has_headers: bool,
    insecure_plaintext: bool,
    problems: &mut Problems,
) {
    if url.scheme() != "http" || is_loopback(url) {
        return;
    }
    if has_headers {
        problems.add(
            &fields.key("headers"),
            "would be sent in clear text: use an https endpoint (plain http only to loopback)",
        );
    } else if !insecure_plaintext {
        problems.add(
            &fields.key("endpoint"),
            "plain http would carry every call record in clear text: use https, or say insecure_plaintext = true for this sink",
        );
    }
}

/// `client_certificate` and `client_private_key` (mutual TLS): both or neither.
fn read_client_identity(
    fields: &mut Fields<'_>,
    base: &Path,
    problems: &mut Problems,
) -> Option<(PathBuf, PathBuf)> {
    let certificate = optional_file(fields, "client_certificate", base, problems);
    let key = optional_file(fields, "client_private_key", base, problems);
    match (certificate, key) {
        (Some(certificate), Some(key)) => Some((certificate, key)),
        (None, None) => None,
        _ => {
            problems.add(
                &fields.key("client_certificate"),
                "client_certificate and client_private_key go together (mutual TLS)",
            );
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::settings::read_table;

    fn read_otlp(text: &str) -> (Option<OtlpSinkConfig>, Vec<String>) {
        read_table("sinks.siem", text, |fields, problems| {
            read(fields, Path::new("/etc"), problems)
        })
    }

    #[test]
    fn an_otlp_table_is_read_beside_the_sink_with_its_defaults_and_keyed_problems() {
        let (config, problems) = read_otlp(
            "endpoint = \"https://otel.example.com:4318\"\nprotocol = \"http/protobuf\"\ncompression = \"none\"",
        );
        assert_eq!(problems, Vec::<String>::new());
        let config = config.expect("a valid OTLP table");
        assert_eq!(config.protocol, OtlpProtocol::HttpProtobuf);
        assert!(!config.gzip);
        assert_eq!(config.timeout, Duration::from_secs(10));
        assert_eq!(config.service_name, "pstn-agent");
        let (config, problems) =
            read_otlp("endpoint = \"ftp://x\"\ncompression = \"zstd\"\ntimeot = \"5s\"");
        assert!(config.is_none());
        assert_eq!(
            problems,
            [
                "sinks.siem.endpoint: \"ftp://x\" is not an http(s) URL like http://127.0.0.1:4317",
                "sinks.siem.compression: \"zstd\": use \"gzip\" or \"none\"",
                "sinks.siem.timeot: unknown key; did you mean \"timeout\"?",
            ]
        );
    }
}
