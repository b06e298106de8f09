//! `type = "azure_logs_ingestion"` sinks: Microsoft Sentinel / Log Analytics through the
//! Azure Monitor Logs Ingestion API and a data collection rule (DCR).

use crate::model::LogKind;
use crate::settings::{
    Credential, DEFAULT_AUTHORITY_URL, Fields, Problems, check_tenant, is_guid, read_credential,
    read_url,
};
use std::path::Path;
use std::time::Duration;
use url::Url;

/// Azure Monitor's token scope in the public cloud.
pub const DEFAULT_MONITOR_SCOPE: &str = "https://monitor.azure.com//.default";

/// One validated Logs Ingestion sink.
#[derive(Debug, Clone)]
pub struct AzureLogsIngestionConfig {
    /// The data collection endpoint, or the DCR's own logs ingestion endpoint.
    pub endpoint: Url,
    /// The DCR's immutable id (`dcr-` and 32 hex digits).
    pub dcr_immutable_id: String,
    /// `stream_name`: the one stream of a sink whose inputs are all of one kind.
    pub stream_name: Option<String>,
    /// `streams = { pstn_call = "Custom-PstnCalls", ... }`: the stream of each event kind.
    pub streams: Vec<(String, String)>,
    /// Entra tenant of the application that writes to the DCR.
    pub tenant_id: String,
    /// Its application (client) id.
    pub client_id: String,
    /// Its secret or certificate.
    pub credential: Credential,
    /// The Entra authority (a national cloud changes it).
    pub authority_url: Url,
    /// The token's scope (`https://monitor.azure.com//.default` by default).
    pub token_scope: String,
    /// Timeout of one request (token or upload).
    pub timeout: Duration,
    /// gzip request bodies (`compression = "gzip"`, the default, or `"none"`).
    pub gzip: bool,
}

/// The stream a kind goes to when the sink names none: `Custom-` and the source type
/// in Pascal case (`pstn_calls` → `Custom-PstnCalls`), as `deploy/sentinel` declares.
pub fn default_stream(kind: LogKind) -> String {
    format!("Custom-{}", pascal_case(kind.source_type()))
}

#[cfg(any(test, feature = "__internals"))]
/// The custom table a kind's stream fills in `deploy/sentinel` (`PstnCalls_CL`).
pub fn default_table(kind: LogKind) -> String {
    format!("{}_CL", pascal_case(kind.source_type()))
}

/// `snake_case` → `PascalCase`: stream, table and column names from the agent's own.
pub fn pascal_case(snake: &str) -> String {
    snake
        .split('_')
        .map(|part| {
            let mut chars = part.chars();
            chars
                .next()
                .map(|first| first.to_ascii_uppercase().to_string() + chars.as_str())
                .unwrap_or_default()
        })
        .collect()
}

impl AzureLogsIngestionConfig {
    /// The stream events of `kind` go to: `streams`, else `stream_name`, else the default.
    pub fn stream_for(&self, kind: LogKind) -> String {
        self.streams
            .iter()
            .find(|(event_kind, _)| event_kind == kind.event_kind())
            .map(|(_, stream)| stream.clone())
            .or_else(|| self.stream_name.clone())
            .unwrap_or_else(|| default_stream(kind))
    }
}

fn valid_stream(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 100
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

fn valid_dcr_id(id: &str) -> bool {
    id.strip_prefix("dcr-")
        .is_some_and(|hex| hex.len() == 32 && hex.chars().all(|c| c.is_ascii_hexdigit()))
}

/// One Logs Ingestion sink; `kinds` are the kinds of log its inputs read.
pub(in crate::sinks) fn read(
    fields: &mut Fields<'_>,
    base: &Path,
    kinds: &[LogKind],
    problems: &mut Problems,
) -> Option<AzureLogsIngestionConfig> {
    let before = problems.len();
    let endpoint = if fields.has("endpoint") {
        read_url(fields, "endpoint", "", problems)
    } else {
        problems.add(
            &fields.key("endpoint"),
            "missing (required): the DCE or the DCR's logs ingestion endpoint, like https://my-dce.westeurope-1.ingest.monitor.azure.com",
        );
        None
    };
    let dcr_immutable_id = read_dcr_id(fields, problems);
    let (stream_name, streams) = read_streams(fields, kinds, problems);
    let tenant_id = fields
        .required_string("tenant_id", problems)
        .filter(|tenant| check_tenant(&fields.key("tenant_id"), tenant, problems));
    let client_id = fields.required_string("client_id", problems).filter(|id| {
        let ok = is_guid(id);
        if !ok {
            problems.add(
                &fields.key("client_id"),
                "expected the application (client) id, a GUID",
            );
        }
        ok
    });
    let credential = read_credential(fields, base, problems);
    let authority_url = read_url(fields, "authority_url", DEFAULT_AUTHORITY_URL, problems);
    let token_scope = read_token_scope(fields, problems);
    let timeout = fields
        .duration("timeout", Duration::from_secs(30), problems)
        .filter(|timeout| {
            let ok = !timeout.is_zero();
            if !ok {
                problems.add(&fields.key("timeout"), "must be longer than zero");
            }
            ok
        });
    let gzip = crate::sinks::config::read_compression(fields, problems);
    if problems.len() != before {
        return None;
    }
    Some(AzureLogsIngestionConfig {
        endpoint: endpoint?,
        dcr_immutable_id: dcr_immutable_id?,
        stream_name,
        streams,
        tenant_id: tenant_id?,
        client_id: client_id?,
        credential: credential?,
        authority_url: authority_url?,
        token_scope,
        timeout: timeout?,
        gzip,
    })
}

/// `dcr_immutable_id` (required): `dcr-` and 32 hex digits.
fn read_dcr_id(fields: &mut Fields<'_>, problems: &mut Problems) -> Option<String> {
    let id = fields.required_string("dcr_immutable_id", problems)?;
    if !valid_dcr_id(&id) {
        problems.add(
            &fields.key("dcr_immutable_id"),
            "expected the DCR's immutableId, \"dcr-\" and 32 hex digits (the DCR's JSON view shows it)",
        );
        return None;
    }
    Some(id)
}

/// `stream_name` and `streams`: valid names, known event kinds, and one stream for
/// each kind the inputs carry.
fn read_streams(
    fields: &mut Fields<'_>,
    kinds: &[LogKind],
    problems: &mut Problems,
) -> (Option<String>, Vec<(String, String)>) {
    let stream_name = fields.string("stream_name", problems).filter(|name| {
        let ok = valid_stream(name);
        if !ok {
            problems.add(
                &fields.key("stream_name"),
                format!("{name:?} is not a stream name like \"Custom-PstnCalls\""),
            );
        }
        ok
    });
    let streams = fields.string_map("streams", problems).unwrap_or_default();
    for (kind, stream) in &streams {
        let key = format!("{}.{kind}", fields.key("streams"));
        if !LogKind::ALL.iter().any(|known| known.event_kind() == kind) {
            let kinds: Vec<&str> = LogKind::ALL.iter().map(|k| k.event_kind()).collect();
            problems.add(
                &key,
                format!("not an event kind (use {})", kinds.join(", ")),
            );
        } else if !valid_stream(stream) {
            problems.add(
                &key,
                format!("{stream:?} is not a stream name like \"Custom-PstnCalls\""),
            );
        }
    }
    if stream_name.is_some() {
        check_streams(&fields.key("stream_name"), &streams, kinds, problems);
    }
    (stream_name, streams)
}

/// `token_scope`: Azure Monitor's by default; client credentials need a `.default`.
fn read_token_scope(fields: &mut Fields<'_>, problems: &mut Problems) -> String {
    let token_scope = fields
        .string("token_scope", problems)
        .unwrap_or_else(|| DEFAULT_MONITOR_SCOPE.to_owned());
    if !token_scope.ends_with("/.default") {
        problems.add(
            &fields.key("token_scope"),
            "client credentials need a \".default\" scope, like https://monitor.azure.com//.default",
        );
    }
    token_scope
}

/// One stream per kind of log: a sink whose inputs carry several kinds cannot send
/// them all to one `stream_name` (each stream declares one kind's columns).
fn check_streams(
    key: &str,
    streams: &[(String, String)],
    kinds: &[LogKind],
    problems: &mut Problems,
) {
    let mut kinds = kinds.to_vec();
    kinds.sort_by_key(|kind| kind.event_kind());
    kinds.dedup();
    let unmapped: Vec<LogKind> = kinds
        .into_iter()
        .filter(|kind| !streams.iter().any(|(k, _)| k == kind.event_kind()))
        .collect();
    if unmapped.len() > 1 {
        problems.add(
            key,
            format!(
                "the inputs carry {} events and one stream takes one kind: give streams = {{ {} }} instead",
                unmapped
                    .iter()
                    .map(|kind| kind.event_kind())
                    .collect::<Vec<_>>()
                    .join(" and "),
                unmapped
                    .iter()
                    .map(|kind| format!("{} = \"{}\"", kind.event_kind(), default_stream(*kind)))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_kind_has_a_default_stream_and_table_named_after_its_source_type() {
        assert_eq!(default_stream(LogKind::Pstn), "Custom-PstnCalls");
        assert_eq!(
            default_stream(LogKind::DirectRouting),
            "Custom-DirectRoutingCalls"
        );
        assert_eq!(default_table(LogKind::Pstn), "PstnCalls_CL");
        assert!(valid_dcr_id("dcr-0123456789abcdef0123456789ABCDEF"));
        assert!(!valid_dcr_id("dcr-0123"));
    }
}
