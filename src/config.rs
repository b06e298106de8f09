//! The configuration file: TOML shaped like Vector's, `${VAR}` interpolation,
//! durations like `5m`, and validation that names the key of every problem.
//!
//! This room reads the file and its top level, hands each `[sources.x]` to the
//! source's reader (`source::config`) and each `[sinks.y]` to the sinks' (`sinks::config`),
//! and checks what no one table can see alone (inputs, file paths, scopes). Every
//! reader uses the field kit of `settings`.

mod inputs;
mod paths;
mod quote;
mod sink_checks;

pub use crate::model::Secret;
#[cfg(any(test, feature = "__internals", feature = "simulator"))]
pub use crate::settings::parse_duration;
pub use crate::settings::{Credential, Environment, Problem, Problems, format_duration};
#[cfg(any(test, feature = "__internals"))]
pub use crate::settings::{InterpolationError, interpolate};
pub use crate::sinks::config::{
    AzureLogsIngestionConfig, OtlpProtocol, OtlpSinkConfig, RedactConfig, SinkConfig, SinkKind,
};
#[cfg(any(test, feature = "__internals", feature = "simulator"))]
pub use crate::sinks::config::{DEFAULT_MONITOR_SCOPE, DEFAULT_RETRY_MAX_DURATION};
#[cfg(any(test, feature = "__internals"))]
pub use crate::sinks::config::{default_stream, default_table};
#[cfg(any(test, feature = "__internals", feature = "simulator"))]
pub use crate::source::config::DEFAULT_ONCE_RETRY_MAX_DURATION;
pub use crate::source::config::Tenancy;
pub use crate::source::{DirectoryConfig, SourceConfig};

use crate::settings::{Fields, resolve};
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
    #[error("{0}")]
    Invalid(Problems),
}

impl ConfigError {
    /// One line per problem, each naming its key.
    pub fn lines(&self) -> Vec<String> {
        match self {
            ConfigError::Invalid(problems) => problems.lines(),
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
        let table = read_toml(text)?;
        let mut problems = Problems::default();
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
            |name, fields, problems| crate::source::config::read(name, fields, base, problems),
        );
        let facts = inputs::of(&sources);
        let sinks = read_named(
            &mut top,
            "sinks",
            &mut problems,
            |name, fields, problems| {
                crate::sinks::config::read(name, fields, base, &facts, problems)
            },
        );
        top.finish(&mut problems);
        if sources.is_empty() && !problems.any_under("sources") {
            problems.add(
                "sources",
                "no source configured (add a [sources.NAME] table)",
            );
        }
        if sinks.is_empty() && !problems.any_under("sinks") {
            problems.add("sinks", "no sink configured (add a [sinks.NAME] table)");
        }
        inputs::check(&sinks, &declared_sources, &mut problems);
        sink_checks::check(&sinks, &data_dir, &mut problems);
        let problems = quote::one_line_per_missing_variable(problems);
        if problems.is_empty() {
            Ok(Config {
                data_dir,
                api_address,
                sources,
                sinks,
                state,
            })
        } else {
            Err(quote::quote_the_file(problems, text, environment))
        }
    }

    /// Whether every source reads one and the same tenant, named in the file (no
    /// `tenants_file`, which a SIGHUP may grow): Graph then holds all the agent's work
    /// to that one tenant's limits. Tenants are compared as written, ignoring ASCII
    /// case (as duplicates are found); a domain and its GUID count as two, which costs
    /// only a second runtime thread.
    pub fn reads_one_tenant(&self) -> bool {
        let mut named = self.sources.iter().map(|source| match source.tenancy {
            Tenancy::File(_) => None,
            Tenancy::Single | Tenancy::Listed => Some(&source.tenants[..]),
        });
        let Some(Some([first])) = named.next() else {
            return false;
        };
        named.all(|tenants| matches!(tenants, Some([other]) if other.eq_ignore_ascii_case(first)))
    }

    /// The sinks that take `source` in their `inputs`.
    pub fn sinks_of<'a>(&'a self, source: &'a str) -> impl Iterator<Item = &'a SinkConfig> + 'a {
        self.sinks
            .iter()
            .filter(move |sink| sink.inputs.iter().any(|input| input == source))
    }
}

/// The file as a TOML table, or the one problem that it is not TOML (with its line).
fn read_toml(text: &str) -> Result<toml::Table, Problems> {
    text.parse().map_err(|error: toml::de::Error| {
        let location = error
            .span()
            .map(|span| {
                let line = text[..span.start].matches('\n').count() + 1;
                format!("line {line}")
            })
            .unwrap_or_else(|| "file".to_owned());
        let mut problems = Problems::default();
        problems.add(&location, format!("not valid TOML: {}", error.message()));
        problems
    })
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
mod azure_logs_tests;
#[cfg(test)]
mod directory_tests;
#[cfg(test)]
mod first_hour_tests;
#[cfg(test)]
mod max_delay_tests;
#[cfg(test)]
mod minimal_config;
#[cfg(test)]
mod one_tenant_tests;
#[cfg(test)]
mod redact_tests;
#[cfg(test)]
mod report_tests;
#[cfg(test)]
mod sink_tests;
#[cfg(test)]
mod state_tests;
#[cfg(test)]
mod tests;
