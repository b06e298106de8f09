//! The configuration file: TOML shaped like Vector's, `${VAR}` interpolation,
//! durations like `5m`, and validation that names the key of every problem.

mod azure_logs;
mod directory;
mod duration;
mod fields;
mod interpolate;
mod otlp;
mod paths;
mod sink;
mod budget;
mod sink_checks;
mod source;
mod suggest;

pub use crate::model::Secret;
pub use azure_logs::{AzureLogsIngestionConfig, pascal_case};
#[cfg(any(test, feature = "__internals", feature = "simulator"))]
pub use azure_logs::DEFAULT_MONITOR_SCOPE;
#[cfg(any(test, feature = "__internals"))]
pub use azure_logs::{default_stream, default_table};
pub use duration::format_duration;
#[cfg(any(test, feature = "__internals", feature = "simulator"))]
pub use duration::parse_duration;
pub use directory::DirectoryConfig;
pub use fields::Problems;
pub use interpolate::Environment;
#[cfg(any(test, feature = "__internals"))]
pub use interpolate::{InterpolationError, interpolate};
pub use otlp::{OtlpProtocol, OtlpSinkConfig, RedactConfig};
pub use sink::{SinkConfig, SinkKind};
pub use source::{Credential, SourceConfig};
#[cfg(any(test, feature = "__internals", feature = "simulator"))]
pub use sink::DEFAULT_RETRY_MAX_DURATION;
#[cfg(any(test, feature = "__internals", feature = "simulator"))]
pub use source::DEFAULT_ONCE_RETRY_MAX_DURATION;

pub(crate) use fields::Fields;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

#[cfg(any(test, feature = "__internals"))]
/// The default listener for /metrics, /healthz and /readyz: loopback only.
pub const DEFAULT_API_ADDRESS: &str = "127.0.0.1:9464";
/// The same address as parts, so it needs no parsing.
const DEFAULT_API_SOCKET: ([u8; 4], u16) = ([127, 0, 0, 1], 9464);
/// Where state lives when `data_dir` is not given.
pub const DEFAULT_DATA_DIR: &str = "/var/lib/pstn-agent";

/// A whole, validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// Directory holding the state database.
    pub data_dir: PathBuf,
    /// The HTTP listener for metrics and health.
    pub api_address: SocketAddr,
    /// Sources in name order.
    pub sources: Vec<SourceConfig>,
    /// Sinks in name order.
    pub sinks: Vec<SinkConfig>,
    /// `[state]`: SQLite in `data_dir` (the default) or PostgreSQL shared by replicas.
    pub state: crate::state::StateConfig,
}

/// Why a configuration could not be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The file could not be read at all.
    #[error("{path}: cannot read: {source}")]
    Unreadable {
        /// The file.
        path: PathBuf,
        /// What the operating system said.
        source: std::io::Error,
    },
    /// The file was read and has these problems, one line each.
    #[error("{}", .0.0.join("\n"))]
    Invalid(Problems),
}

impl ConfigError {
    /// One line per problem, each naming its key.
    pub fn lines(&self) -> Vec<String> {
        match self {
            ConfigError::Invalid(problems) => problems.0.clone(),
            other => vec![other.to_string()],
        }
    }
}

impl Config {
    /// Reads and validates a configuration file.
    pub fn load(path: &Path, environment: &Environment) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Unreadable {
            path: path.to_owned(),
            source,
        })?;
        let base = path.parent().unwrap_or(Path::new("."));
        Config::parse(&text, base, environment).map_err(ConfigError::Invalid)
    }

    /// Validates configuration text; relative file paths are taken from `base`.
    pub fn parse(text: &str, base: &Path, environment: &Environment) -> Result<Config, Problems> {
        let mut problems = Problems::default();
        let table: toml::Table = match text.parse() {
            Ok(table) => table,
            Err(error) => {
                let message = error.message().to_owned();
                let location = error
                    .span()
                    .map(|span| {
                        let line = text[..span.start].matches('\n').count() + 1;
                        format!("line {line}")
                    })
                    .unwrap_or_else(|| "file".to_owned());
                problems.add(&location, format!("not valid TOML: {message}"));
                return Err(problems);
            }
        };
        let declared_sources: Vec<String> = match table.get("sources") {
            Some(toml::Value::Table(sources)) => sources.keys().cloned().collect(),
            _ => Vec::new(),
        };
        let mut top = Fields::new("", &table, environment);
        let data_dir = top
            .string("data_dir", &mut problems)
            .map(|dir| resolve(base, &dir))
            .unwrap_or_else(|| PathBuf::from(DEFAULT_DATA_DIR));
        let api_address = read_api(&mut top, &mut problems);
        let state = crate::state::config::read(&mut top, &mut problems);
        let sources = read_named(
            &mut top,
            "sources",
            &mut problems,
            |name, fields, problems| source::read(name, fields, base, problems),
        );
        let sinks = read_named(
            &mut top,
            "sinks",
            &mut problems,
            |name, fields, problems| sink::read(name, fields, base, &sources, problems),
        );
        top.finish(&mut problems);
        if sources.is_empty() && !problems.0.iter().any(|p| p.starts_with("sources")) {
            problems.add(
                "sources",
                "no source configured (add a [sources.NAME] table)",
            );
        }
        if sinks.is_empty() && !problems.0.iter().any(|p| p.starts_with("sinks")) {
            problems.add("sinks", "no sink configured (add a [sinks.NAME] table)");
        }
        sink::check_inputs(&sinks, &declared_sources, &mut problems);
        sink_checks::check(&sinks, &data_dir, &mut problems);
        let problems = one_line_per_missing_variable(problems);
        if problems.0.is_empty() {
            Ok(Config {
                data_dir,
                api_address,
                sources,
                sinks,
                state,
            })
        } else {
            Err(quote_the_file(problems, text, environment))
        }
    }

    /// The sinks that take `source` in their `inputs`.
    pub fn sinks_of<'a>(&'a self, source: &'a str) -> impl Iterator<Item = &'a SinkConfig> + 'a {
        self.sinks
            .iter()
            .filter(move |sink| sink.inputs.iter().any(|input| input == source))
    }
}

/// A variable that is not set is one problem, however many keys name it: the first
/// key's line stays and names the others.
fn one_line_per_missing_variable(problems: Problems) -> Problems {
    const MISSING: &str = ": environment variable ";
    let variable = |line: &str| {
        let (key, rest) = line.split_once(MISSING)?;
        let (name, _) = rest.split_once(" is not set")?;
        Some((key.to_owned(), name.to_owned()))
    };
    let mut lines: Vec<String> = Vec::with_capacity(problems.0.len());
    let mut first_of: Vec<(String, usize, Vec<String>)> = Vec::new();
    for line in problems.0 {
        match variable(&line) {
            Some((key, name)) => match first_of.iter_mut().find(|(n, _, _)| *n == name) {
                Some((_, _, also)) => also.push(key),
                None => {
                    first_of.push((name, lines.len(), Vec::new()));
                    lines.push(line);
                }
            },
            None => lines.push(line),
        }
    }
    for (_, index, also) in first_of.into_iter().filter(|(_, _, also)| !also.is_empty()) {
        lines[index].push_str(&format!("; also named by {}", also.join(", ")));
    }
    Problems(lines)
}

fn resolve(base: &Path, path: &str) -> PathBuf {
    let path = Path::new(path);
    if path.is_absolute() {
        path.to_owned()
    } else {
        base.join(path)
    }
}

/// Problems quote the file's own text, never what `${VAR}` became: a secret put in the
/// wrong key (`poll_interval = "${GRAPH_CLIENT_SECRET}"`) must not be printed. Every
/// value of a variable the file names (four characters or more) is written back as
/// `${NAME}`.
fn quote_the_file(problems: Problems, text: &str, environment: &Environment) -> Problems {
    let mut names: Vec<&str> = text
        .match_indices("${")
        .filter_map(|(at, _)| {
            let rest = &text[at + 2..];
            let end = rest.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))?;
            Some(&rest[..end]).filter(|name| !name.is_empty())
        })
        .collect();
    names.sort_unstable();
    names.dedup();
    let values: Vec<(String, &str)> = names
        .into_iter()
        .filter_map(|name| Some((environment.variable(name)?, name)))
        .filter(|(value, _)| value.chars().count() >= 4)
        .collect();
    Problems(
        problems
            .0
            .into_iter()
            .map(|mut line| {
                for (value, name) in &values {
                    line = line.replace(value.as_str(), &format!("${{{name}}}"));
                }
                line
            })
            .collect(),
    )
}

fn read_api(top: &mut Fields<'_>, problems: &mut Problems) -> SocketAddr {
    let default = SocketAddr::from(DEFAULT_API_SOCKET);
    let Some(table) = top.table("api", problems) else {
        return default;
    };
    let mut api = Fields::new("api", table, top.environment());
    let address = match api.string("address", problems) {
        Some(text) => match text.parse::<SocketAddr>() {
            Ok(address) => address,
            Err(_) => {
                problems.add(
                    "api.address",
                    format!("{text:?} is not an address like 127.0.0.1:9464"),
                );
                default
            }
        },
        None => default,
    };
    api.finish(problems);
    address
}

/// Whether a name is safe as a metrics label value and in file and log lines.
fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

fn read_named<'a, T>(
    top: &mut Fields<'a>,
    section: &str,
    problems: &mut Problems,
    read_one: impl Fn(&str, Fields<'a>, &mut Problems) -> Option<T>,
) -> Vec<T> {
    let Some(table) = top.table(section, problems) else {
        return Vec::new();
    };
    let mut items = Vec::new();
    for (name, value) in table {
        let path = format!("{section}.{name}");
        if !valid_name(name) {
            problems.add(
                &path,
                "names may use only letters, digits, '_' and '-' (at most 64)",
            );
            continue;
        }
        let toml::Value::Table(inner) = value else {
            problems.add(
                &path,
                format!("expected a table, found {}", value.type_str()),
            );
            continue;
        };
        if let Some(item) = read_one(name, Fields::new(path, inner, top.environment()), problems) {
            items.push(item);
        }
    }
    items
}

#[cfg(test)]
mod directory_tests;
#[cfg(test)]
mod first_hour_tests;
#[cfg(test)]
mod max_delay_tests;
#[cfg(test)]
mod minimal_config;
#[cfg(test)]
mod redact_tests;
#[cfg(test)]
mod report_tests;
#[cfg(test)]
mod tests;
