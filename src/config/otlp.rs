//! `type = "otlp"` sinks and the `redact` table every sink may carry.

use super::fields::{Fields, Problems};
use super::{Secret, resolve};
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

/// Privacy controls over the call's fields, per sink.
#[derive(Debug, Clone)]
pub struct RedactConfig {
    /// Call fields replaced by a keyed hash (HMAC-SHA256), so calls of one number
    /// still correlate without the number.
    pub hash: Vec<String>,
    /// Call fields removed.
    pub drop: Vec<String>,
    /// `keep`: when given, the only call fields that pass (hashed ones included);
    /// every other field of the row is removed, one Graph adds later too.
    pub keep: Option<Vec<String>>,
    /// The hash key (required when `hash` names fields).
    pub key: Option<Secret>,
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

pub(super) fn read(
    fields: &mut Fields<'_>,
    base: &Path,
    problems: &mut Problems,
) -> Option<OtlpSinkConfig> {
    let before = problems.0.len();
    let endpoint = fields
        .required_string("endpoint", problems)
        .and_then(|text| match Url::parse(&text) {
            Ok(url) if matches!(url.scheme(), "http" | "https") && url.host().is_some() => {
                Some(url)
            }
            _ => {
                problems.add(
                    &fields.key("endpoint"),
                    format!("{text:?} is not an http(s) URL like http://127.0.0.1:4317"),
                );
                None
            }
        });
    let protocol = match fields.string("protocol", problems).as_deref() {
        None | Some("grpc") => Some(OtlpProtocol::Grpc),
        Some("http/protobuf") => Some(OtlpProtocol::HttpProtobuf),
        Some(other) => {
            problems.add(
                &fields.key("protocol"),
                format!("{other:?} is not supported (use \"grpc\" or \"http/protobuf\")"),
            );
            None
        }
    };
    let headers: Vec<(String, Secret)> = fields
        .string_map("headers", problems)
        .unwrap_or_default()
        .into_iter()
        .map(|(name, value)| (name.to_ascii_lowercase(), Secret::new(value)))
        .collect();
    for (name, value) in &headers {
        // `Bearer $SIEM_TOKEN` would send the words themselves.
        if let Some(variable) = value
            .expose()
            .split_whitespace()
            .find_map(super::interpolate::bare_reference)
        {
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
    let insecure_plaintext = fields
        .boolean("insecure_plaintext", problems)
        .unwrap_or(false);
    if let Some(url) = &endpoint
        && url.scheme() == "http"
        && !is_loopback(url)
    {
        if !headers.is_empty() {
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
    let timeout = fields.duration("timeout", Duration::from_secs(10), problems);
    let gzip = read_compression(fields, problems);
    let ca_file = optional_file(fields, "ca_file", base, problems);
    let certificate = optional_file(fields, "client_certificate", base, problems);
    let key = optional_file(fields, "client_private_key", base, problems);
    let client_identity = match (certificate, key) {
        (Some(certificate), Some(key)) => Some((certificate, key)),
        (None, None) => None,
        _ => {
            problems.add(
                &fields.key("client_certificate"),
                "client_certificate and client_private_key go together (mutual TLS)",
            );
            None
        }
    };
    let service_name = fields
        .string("service_name", problems)
        .or_else(|| {
            fields
                .environment()
                .variable("OTEL_SERVICE_NAME")
                .filter(|name| !name.is_empty())
        })
        .unwrap_or_else(|| "pstn-agent".to_owned());
    if problems.0.len() != before {
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

/// A hash key shorter than this (HMAC-SHA256's block is 64 bytes, its output 32) makes
/// hashed phone numbers guessable by trying every number.
const MIN_REDACT_KEY_BYTES: usize = 32;

fn strong_enough(key: &str) -> bool {
    let mut bytes = key.bytes();
    let first = bytes.next();
    key.len() >= MIN_REDACT_KEY_BYTES && bytes.any(|byte| Some(byte) != first)
}

/// `compression`: `gzip` (the default) or `none`, for any sink that compresses.
pub(super) fn read_compression(fields: &mut Fields<'_>, problems: &mut Problems) -> bool {
    match fields.string("compression", problems).as_deref() {
        None | Some("gzip") => true,
        Some("none") => false,
        Some(other) => {
            problems.add(
                &fields.key("compression"),
                format!("{other:?}: use \"gzip\" or \"none\""),
            );
            false
        }
    }
}

pub(super) fn read_redact(
    fields: &mut Fields<'_>,
    problems: &mut Problems,
) -> Option<RedactConfig> {
    let table = fields.table("redact", problems)?;
    let mut redact = Fields::new(fields.key("redact"), table, fields.environment());
    let hash = redact.string_list("hash", problems).unwrap_or_default();
    let drop = redact.string_list("drop", problems).unwrap_or_default();
    let keep = redact
        .has("keep")
        .then(|| redact.string_list("keep", problems).unwrap_or_default());
    if keep.as_ref().is_some_and(Vec::is_empty) {
        problems.add(
            &redact.key("keep"),
            "an empty list would remove every field of the call: name the fields to keep, or leave keep out",
        );
    }
    let key = redact.string("key", problems).map(Secret::new);
    if let Some(variable) = key
        .as_ref()
        .and_then(|key| super::interpolate::bare_reference(key.expose()))
    {
        problems.add(
            &redact.key("key"),
            format!("${variable} is taken literally, not from the environment: write \"${{{variable}}}\""),
        );
    }
    if !hash.is_empty() && key.as_ref().is_none_or(|key| !strong_enough(key.expose())) {
        problems.add(&redact.key("key"), format!("required when hash names fields: at least {MIN_REDACT_KEY_BYTES} bytes, not one character repeated, from the environment (key = \"${{PSTN_REDACT_KEY}}\"; make one with `openssl rand -hex 32`)"));
    }
    for name in hash.iter().chain(&drop).chain(keep.iter().flatten()) {
        // `user.department`: a field of the event's `user` (directory attributes).
        let field = name.strip_prefix("user.").unwrap_or(name);
        if field.is_empty() || field.contains('.') {
            problems.add(
                &redact.key("hash"),
                format!("{name:?}: name a field of the call, like \"callerNumber\", or of the user, like \"user.department\""),
            );
        }
    }
    redact.finish(problems);
    Some(RedactConfig {
        hash,
        drop,
        keep,
        key,
    })
}
