//! `[sinks.NAME]`: where events go, and which sources feed each sink. Each kind of
//! sink reads its own keys beside its code (`otlp/config.rs`, `azure_logs/config.rs`;
//! `redact/config.rs` for the table every sink may carry); this reads what all sinks
//! share and hands each table to its kind.

use crate::model::{DirectoryAttribute, LogKind};
use crate::settings::{Fields, Problems, resolve};
use std::path::{Path, PathBuf};
use std::time::Duration;

pub use super::azure_logs::AzureLogsIngestionConfig;
#[cfg(any(test, feature = "__internals", feature = "simulator"))]
pub use super::azure_logs::DEFAULT_MONITOR_SCOPE;
#[cfg(any(test, feature = "__internals"))]
pub use super::azure_logs::{default_stream, default_table};
pub use super::otlp::{OtlpProtocol, OtlpSinkConfig};
pub use super::redact::RedactConfig;

/// How long `--once` keeps offering a batch to a sink that refuses it, by default.
pub const DEFAULT_RETRY_MAX_DURATION: Duration = Duration::from_secs(3 * 60);

/// What a sink is.
#[derive(Debug, Clone)]
pub enum SinkKind {
    /// One JSON event per line on stdout.
    Console,
    /// One JSON event per line appended to a file (reopened on SIGHUP).
    File {
        /// The file.
        path: PathBuf,
    },
    /// OTLP logs to a collector or SIEM.
    Otlp(Box<OtlpSinkConfig>),
    /// Microsoft Sentinel / Log Analytics through the Logs Ingestion API.
    AzureLogsIngestion(Box<AzureLogsIngestionConfig>),
}

/// One validated `[sinks.NAME]` table.
#[derive(Debug, Clone)]
pub struct SinkConfig {
    /// The table name.
    pub name: String,
    /// Names of the sources whose events this sink takes.
    pub inputs: Vec<String>,
    /// What kind of sink.
    pub kind: SinkKind,
    /// Fields hashed or dropped before this sink sees the event.
    pub redact: Option<RedactConfig>,
    /// `retry_max_duration`: how long `--once` keeps offering a batch this sink
    /// refuses before it gives up and exits 1 (a long-running agent never gives up).
    pub retry_max_duration: Duration,
}

/// What a sink's checks need of a source it may take (its kind of log: the fields
/// `redact` may name, the streams; its directory: the `user.*` it may name), handed
/// over by `config` so that sinks need not know the source.
#[derive(Debug, Clone, Copy)]
pub struct Input<'a> {
    /// The source's name, as `inputs` names it.
    pub name: &'a str,
    /// Its kind of log.
    pub kind: LogKind,
    /// The attributes of its `directory`, `None` without one.
    pub directory: Option<&'a [DirectoryAttribute]>,
}

/// One `[sinks.NAME]`; `sources` are the valid sources, for the checks that need the
/// kinds of the inputs (redacted fields, streams), made even when another key of the
/// sink has a problem, so every problem of the sink is said at once.
pub fn read(
    name: &str,
    mut fields: Fields<'_>,
    base: &Path,
    sources: &[Input<'_>],
    problems: &mut Problems,
) -> Option<SinkConfig> {
    let before = problems.len();
    let inputs = match fields.string_list("inputs", problems) {
        Some(inputs) if inputs.is_empty() => {
            problems.add(&fields.key("inputs"), "must name at least one source");
            None
        }
        Some(inputs) => Some(inputs),
        None => {
            if !problems.any_under(&fields.key("inputs")) {
                problems.add(
                    &fields.key("inputs"),
                    "missing (required): the sources this sink takes, e.g. [\"contoso_pstn\"]",
                );
            }
            None
        }
    };
    // The sources this sink takes (those valid so far), and their kinds of log.
    let fed: Vec<Input<'_>> = sources
        .iter()
        .filter(|source| {
            inputs
                .as_ref()
                .is_some_and(|inputs| inputs.iter().any(|input| input == source.name))
        })
        .copied()
        .collect();
    let kinds: Vec<LogKind> = fed.iter().map(|source| source.kind).collect();
    let kind = match fields.required_string("type", problems).as_deref() {
        Some("console") => Some(SinkKind::Console),
        Some("file") => fields
            .required_string("path", problems)
            .map(|path| SinkKind::File {
                path: resolve(base, &path),
            }),
        Some("otlp") => super::otlp::read_config(&mut fields, base, problems)
            .map(|otlp| SinkKind::Otlp(Box::new(otlp))),
        Some("azure_logs_ingestion") => {
            super::azure_logs::read_config(&mut fields, base, &kinds, problems)
                .map(|azure| SinkKind::AzureLogsIngestion(Box::new(azure)))
        }
        Some(other) => {
            problems.add(
                &fields.key("type"),
                format!("{other:?} is not a sink type (use \"console\", \"file\", \"otlp\" or \"azure_logs_ingestion\")"),
            );
            None
        }
        None => None,
    };
    let redact = super::redact::read_config(&mut fields, problems);
    if let Some(redact) = &redact {
        super::redact::check_config(name, redact, &fed, problems);
    }
    let retry_max_duration =
        fields.duration("retry_max_duration", DEFAULT_RETRY_MAX_DURATION, problems);
    fields.finish(problems);
    if problems.len() != before {
        return None;
    }
    Some(SinkConfig {
        name: name.to_owned(),
        inputs: inputs?,
        kind: kind?,
        redact,
        retry_max_duration: retry_max_duration?,
    })
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
