//! `pstn-agent healthcheck --config FILE [--ready]`: asks the running agent, for
//! container health checks in images without curl.

use crate::api::{Probe, probe};
use crate::config::{Config, Environment};
use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

/// How long the agent has to answer before it counts as unhealthy.
const PROBE_TIMEOUT: Duration = Duration::from_secs(3);

/// 0 when the agent answered 200, 1 otherwise, 78 for a bad config.
pub(crate) fn run(config_path: &Path, ready: bool) -> ExitCode {
    let config = match Config::load(config_path, &Environment::process()) {
        Ok(config) => config,
        Err(error) => return super::config_error(&error),
    };
    let question = if ready { Probe::Ready } else { Probe::Alive };
    match probe(config.api_address, question, PROBE_TIMEOUT) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("{error}");
            ExitCode::FAILURE
        }
    }
}
