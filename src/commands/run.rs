//! `pstn-agent --config FILE [--once]`: the agent itself.

use crate::cli::RunArgs;
use crate::metrics::Metrics;
use crate::retry::RetryPolicy;
use crate::signals::Signals;
use crate::topology::{RunMode, RunOptions, run as run_topology};
use std::process::ExitCode;

/// What to say when `--config` is missing: the demo is the way in when it is built.
#[cfg(feature = "simulator")]
const MISSING_CONFIG: &str = "--config FILE is required (or try `pstn-agent demo`; see --help)";
#[cfg(not(feature = "simulator"))]
const MISSING_CONFIG: &str = "--config FILE is required (see --help)";

/// Runs until stopped (or once): the report's exit code, 78 for a bad config, 2 for a
/// missing `--config`.
pub(crate) async fn run(args: RunArgs, signals: Signals) -> ExitCode {
    let Some(path) = args.config else {
        eprintln!("{MISSING_CONFIG}");
        return ExitCode::from(super::EXIT_USAGE);
    };
    let config = match super::load(&path) {
        Ok(config) => config,
        Err(error) => return super::config_error(&error),
    };
    super::nofile::check(&config);
    let clock = match super::clock(args.clock_start.as_deref(), args.time_scale) {
        Ok(clock) => clock,
        Err(message) => {
            eprintln!("{message}");
            return ExitCode::from(super::EXIT_USAGE);
        }
    };
    let metrics = match Metrics::new() {
        Ok(metrics) => metrics,
        Err(error) => {
            eprintln!("cannot start: {error}");
            return ExitCode::FAILURE;
        }
    };
    let options = RunOptions {
        mode: if args.once {
            RunMode::Once
        } else {
            RunMode::Forever
        },
        clock,
        retry: RetryPolicy::default(),
        reopen: signals.reopen,
        metrics,
    };
    match run_topology(&config, options, signals.shutdown).await {
        Ok(report) => {
            for (source, message) in &report.failed {
                eprintln!("source {source} failed: {message}");
            }
            ExitCode::from(report.exit_code() as u8)
        }
        Err(error) => {
            eprintln!("cannot start: {error}");
            ExitCode::FAILURE
        }
    }
}
