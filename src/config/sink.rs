//! `[sinks.NAME]`: where events go, and which sources feed each sink.

use super::azure_logs::AzureLogsIngestionConfig;
use super::fields::{Fields, Problems};
use super::otlp::{OtlpSinkConfig, RedactConfig};
use super::resolve;
use std::path::{Path, PathBuf};
use std::time::Duration;

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

/// One `[sinks.NAME]`; `sources` are the valid sources, for the checks that need the
/// kinds of the inputs (redacted fields, streams), made even when another key of the
/// sink has a problem, so every problem of the sink is said at once.
pub(super) fn read(
    name: &str,
    mut fields: Fields<'_>,
    base: &Path,
    sources: &[super::SourceConfig],
    problems: &mut Problems,
) -> Option<SinkConfig> {
    let before = problems.0.len();
    let inputs = match fields.string_list("inputs", problems) {
        Some(inputs) if inputs.is_empty() => {
            problems.add(&fields.key("inputs"), "must name at least one source");
            None
        }
        Some(inputs) => Some(inputs),
        None => {
            if !problems
                .0
                .iter()
                .any(|p| p.starts_with(&fields.key("inputs")))
            {
                problems.add(
                    &fields.key("inputs"),
                    "missing (required): the sources this sink takes, e.g. [\"contoso_pstn\"]",
                );
            }
            None
        }
    };
    // The sources this sink takes (those valid so far), and their kinds of log.
    let fed: Vec<&super::SourceConfig> = sources
        .iter()
        .filter(|source| inputs.as_ref().is_some_and(|inputs| inputs.contains(&source.name)))
        .collect();
    let kinds: Vec<crate::model::LogKind> = fed.iter().map(|source| source.kind).collect();
    let kind = match fields.required_string("type", problems).as_deref() {
        Some("console") => Some(SinkKind::Console),
        Some("file") => fields
            .required_string("path", problems)
            .map(|path| SinkKind::File {
                path: resolve(base, &path),
            }),
        Some("otlp") => super::otlp::read(&mut fields, base, problems)
            .map(|otlp| SinkKind::Otlp(Box::new(otlp))),
        Some("azure_logs_ingestion") => super::azure_logs::read(&mut fields, base, &kinds, problems)
            .map(|azure| SinkKind::AzureLogsIngestion(Box::new(azure))),
        Some(other) => {
            problems.add(
                &fields.key("type"),
                format!("{other:?} is not a sink type (use \"console\", \"file\", \"otlp\" or \"azure_logs_ingestion\")"),
            );
            None
        }
        None => None,
    };
    let redact = super::otlp::read_redact(&mut fields, problems);
    if let Some(redact) = &redact {
        check_redaction(name, redact, &fed, problems);
    }
    let retry_max_duration =
        fields.duration("retry_max_duration", DEFAULT_RETRY_MAX_DURATION, problems);
    fields.finish(problems);
    if problems.0.len() != before {
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

/// Every input must name a source, and every source must feed at least one sink
/// (a source nobody takes would mark rows done without delivering them anywhere).
pub(super) fn check_inputs(sinks: &[SinkConfig], sources: &[String], problems: &mut Problems) {
    for sink in sinks {
        for (index, input) in sink.inputs.iter().enumerate() {
            if !sources.contains(input) {
                problems.add(
                    &format!("sinks.{}.inputs[{index}]", sink.name),
                    format!("{input:?} names no source (sources: {})", names(sources)),
                );
            }
        }
    }
    for source in sources {
        if !sinks.iter().any(|sink| sink.inputs.contains(source)) && !sinks.is_empty() {
            problems.add(
                &format!("sources.{source}"),
                "no sink takes this source in its inputs",
            );
        }
    }
}

/// Each field a sink's `redact` names must be a documented field of the rows its
/// inputs read: a misspelt name (`CallerNumber`) would otherwise ship every number raw.
fn check_redaction(
    sink: &str,
    redact: &RedactConfig,
    fed: &[&super::SourceConfig],
    problems: &mut Problems,
) {
    let mut known: Vec<&str> = fed
        .iter()
        .flat_map(|source| source.kind.row_fields().iter().copied())
        .collect();
    known.sort_unstable();
    known.dedup();
    if known.is_empty() {
        return;
    }
    // `user` and `user.KEY` name the directory attributes beside the call.
    let user_keys: Vec<String> = fed
        .iter()
        .filter_map(|source| source.directory.as_ref())
        .flat_map(|directory| directory.attributes.iter())
        .map(|attribute| format!("user.{}", attribute.key()))
        .collect();
    for (list, names) in [("hash", &redact.hash), ("drop", &redact.drop)] {
        for (index, name) in names.iter().enumerate() {
            let key = format!("sinks.{sink}.redact.{list}[{index}]");
            if name == OTHER_PARTY_COUNTRY {
                continue;
            }
            if name == "user" || name.starts_with("user.") {
                if user_keys.is_empty() {
                    problems.add(&key, format!("{name:?}: no source of this sink has a [sources.NAME.directory], so events carry no user"));
                } else if name == "user" && list == "hash" {
                    problems.add(&key, "\"user\" is an object: hash its fields (\"user.department\") or drop it whole");
                } else if name != "user" && !user_keys.contains(name) {
                    problems.add(
                        &key,
                        format!(
                            "{name:?} is not an attribute the directory of this sink's sources reads{}",
                            super::suggest::did_you_mean(name, user_keys.iter().map(String::as_str))
                        ),
                    );
                }
                continue;
            }
            if !known.contains(&name.as_str()) {
                problems.add(
                    &key,
                    format!(
                        "{name:?} is not a field of the rows this sink takes{}",
                        super::suggest::did_you_mean(name, known.iter().copied())
                    ),
                );
            }
        }
    }
    check_keep(sink, redact, &known, problems);
}

/// The enrichment field beside the call that `hash` and `drop` may name.
const OTHER_PARTY_COUNTRY: &str = "other_party_country";

/// `keep` names fields of the rows (enrichment is kept unless `hash` or `drop` names
/// it), and agrees with the other lists: a field hashed must be kept, one kept must
/// not be dropped.
fn check_keep(sink: &str, redact: &RedactConfig, known: &[&str], problems: &mut Problems) {
    let Some(keep) = &redact.keep else {
        return;
    };
    for (index, name) in keep.iter().enumerate() {
        let key = format!("sinks.{sink}.redact.keep[{index}]");
        if name == OTHER_PARTY_COUNTRY || name == "user" || name.starts_with("user.") {
            problems.add(&key, format!("{name:?}: keep names fields of the call; enrichment beside it stays unless hash or drop names it"));
        } else if !known.contains(&name.as_str()) {
            problems.add(
                &key,
                format!(
                    "{name:?} is not a field of the rows this sink takes{}",
                    super::suggest::did_you_mean(name, known.iter().copied())
                ),
            );
        } else if let Some(at) = redact.drop.iter().position(|dropped| dropped == name) {
            problems.add(
                &format!("sinks.{sink}.redact.drop[{at}]"),
                format!("{name:?} is also in keep: a field is kept or dropped, not both"),
            );
        }
    }
    for (index, name) in redact.hash.iter().enumerate() {
        let row_field = known.contains(&name.as_str());
        if row_field && !keep.contains(name) {
            problems.add(
                &format!("sinks.{sink}.redact.hash[{index}]"),
                format!("{name:?} is not in keep, so it would be removed, not hashed: add it to keep"),
            );
        }
    }
}

fn names(sources: &[String]) -> String {
    if sources.is_empty() {
        "none".into()
    } else {
        sources.join(", ")
    }
}
