//! `pstn-agent --config FILE [--once]`: the agent itself.

use super::Workers;
use crate::cli::RunArgs;
use crate::config::Config;
use crate::metrics::Metrics;
use crate::retry::RetryPolicy;
use crate::signals::Signals;
use crate::time::SharedClock;
use crate::topology::{RunMode, RunOptions, run as run_topology};
use std::process::ExitCode;

/// What to say when `--config` is missing: the demo is the way in when it is built.
#[cfg(feature = "simulator")]
const MISSING_CONFIG: &str = "--config FILE is required (or try `pstn-agent demo`; see --help)";
#[cfg(not(feature = "simulator"))]
const MISSING_CONFIG: &str = "--config FILE is required (see --help)";

/// The agent as the command line and configuration file describe it, read before the
/// runtime starts: the runtime's size depends on the configuration.
pub(crate) struct Agent {
    /// The file, loaded and checked (exit 78 otherwise).
    config: Config,
    /// The real clock, or the one `--clock-start` and `--time-scale` ask for.
    clock: SharedClock,
    /// `--once`: one pass, then exit.
    once: bool,
    /// Threads for the runtime: one when the whole configuration reads one tenant.
    pub(super) workers: Workers,
}

/// Reads `--config` and the clock flags: the agent, or the exit code (78 for a bad
/// config, 2 for a missing `--config` or a bad clock flag).
pub(crate) fn prepare(args: RunArgs) -> Result<Agent, ExitCode> {
    let Some(path) = args.config else {
        eprintln!("{MISSING_CONFIG}");
        return Err(ExitCode::from(super::EXIT_USAGE));
    };
    let config = super::load(&path).map_err(|error| super::config_error(&error))?;
    super::nofile::check(&config);
    let clock = super::clock(args.clock_start.as_deref(), args.time_scale).map_err(|message| {
        eprintln!("{message}");
        ExitCode::from(super::EXIT_USAGE)
    })?;
    let workers = if config.reads_one_tenant() {
        Workers::One
    } else {
        Workers::Two
    };
    Ok(Agent {
        config,
        clock,
        once: args.once,
        workers,
    })
}

/// Runs until stopped (or once): the report's exit code.
pub(crate) async fn run(agent: Agent, signals: Signals) -> ExitCode {
    let metrics = match Metrics::new() {
        Ok(metrics) => metrics,
        Err(error) => {
            eprintln!("cannot start: {error}");
            return ExitCode::FAILURE;
        }
    };
    let options = RunOptions {
        mode: if agent.once {
            RunMode::Once
        } else {
            RunMode::Forever
        },
        clock: agent.clock,
        retry: RetryPolicy::default(),
        reopen: signals.reopen,
        metrics,
    };
    match run_topology(&agent.config, options, signals.shutdown).await {
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
