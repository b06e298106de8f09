//! The bodies of the command line's commands; `main` only parses and dispatches.

#[cfg(feature = "simulator")]
pub(crate) mod demo;
pub(crate) mod healthcheck;
pub(crate) mod run;
#[cfg(feature = "simulator")]
pub(crate) mod simulate;
pub(crate) mod validate;

use pstn_agent::config::ConfigError;
use pstn_agent::time::{Clock, ScaledClock, SharedClock, SystemClock, Timestamp};
use std::process::ExitCode;
use std::sync::Arc;

/// Exit status for a configuration that cannot be used (sysexits EX_CONFIG).
const EXIT_CONFIG: u8 = 78;

/// Exit status for a command line that cannot be used (as clap's own errors).
const EXIT_USAGE: u8 = 2;

/// A configuration that cannot be used: one line per problem on stderr, exit 78.
/// Reads and validates the configuration, and checks that this user can write where
/// it keeps state and events (a config that validates must also start).
fn load(path: &std::path::Path) -> Result<pstn_agent::config::Config, ConfigError> {
    let config =
        pstn_agent::config::Config::load(path, &pstn_agent::config::Environment::process())?;
    config.check_local_paths().map_err(ConfigError::Invalid)?;
    Ok(config)
}

fn config_error(error: &ConfigError) -> ExitCode {
    for line in error.lines() {
        eprintln!("{line}");
    }
    ExitCode::from(EXIT_CONFIG)
}

/// The clock of `--clock-start`/`--time-scale`: the system clock unless either is given.
fn clock(start: Option<&str>, scale: f64) -> Result<SharedClock, String> {
    match start {
        None if scale == 1.0 => Ok(Arc::new(SystemClock)),
        None => Ok(Arc::new(ScaledClock::new(SystemClock.now(), scale))),
        Some(text) => Timestamp::parse(text)
            .map(|start| Arc::new(ScaledClock::new(start, scale)) as SharedClock)
            .map_err(|error| format!("--clock-start: {error}")),
    }
}
