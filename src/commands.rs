//! The bodies of the command line's commands; `main` only parses and dispatches.

#[cfg(feature = "simulator")]
pub(crate) mod demo;
pub(crate) mod healthcheck;
mod nofile;
pub(crate) mod run;
#[cfg(feature = "simulator")]
pub(crate) mod simulate;
pub(crate) mod state;
pub(crate) mod validate;

use crate::cli::{Cli, Command, StateCommand};
use crate::config::ConfigError;
use crate::signals::Signals;
use crate::time::{Clock, ScaledClock, SharedClock, SystemClock, Timestamp};
use clap::Parser;
use std::future::Future;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

/// Exit status for a configuration that cannot be used (sysexits EX_CONFIG).
const EXIT_CONFIG: u8 = 78;

/// Exit status for a command line that cannot be used (as clap's own errors).
const EXIT_USAGE: u8 = 2;

/// Environment variables the agent ignores, which `main` removes before any thread
/// starts: export headers come only from the configuration file, and the OpenTelemetry
/// exporter would add these to every export (in clear text over plain http) without a word.
pub const IGNORED_ENVIRONMENT: &[&str] = &[
    "OTEL_EXPORTER_OTLP_HEADERS",
    "OTEL_EXPORTER_OTLP_LOGS_HEADERS",
];

/// The `pstn-agent` program, whole: reads the command line, sets up diagnostics and
/// the runtime, and runs the command. The binary (src/main.rs) is this one call;
/// `removed` names the [`IGNORED_ENVIRONMENT`] variables it found and removed, which
/// are warned about once diagnostics are set up.
pub fn run_command_line(removed: &[&'static str]) -> ExitCode {
    let cli = Cli::parse();
    crate::logging::init(cli.log_format, cli.log_level);
    for &name in removed {
        tracing::warn!(
            variable = name,
            "ignored: OTLP export headers come only from the configuration file (sinks.NAME.headers)"
        );
    }
    match cli.command {
        Some(Command::Validate {
            config,
            no_local_checks,
        }) => validate::run(&config, !no_local_checks),
        Some(Command::Healthcheck { config, ready }) => healthcheck::run(&config, ready),
        Some(Command::State {
            command: StateCommand::Copy { config, force },
        }) => in_runtime(Workers::Two, |_| async move {
            state::copy(&config, force).await
        }),
        #[cfg(feature = "simulator")]
        Some(Command::Demo {
            time_scale,
            calls_per_day,
            seed,
            sentinel,
        }) => {
            let options = crate::demo::DemoOptions {
                time_scale,
                calls_per_day,
                seed,
                sentinel,
            };
            in_runtime(Workers::Two, |signals| demo::run(options, signals))
        }
        #[cfg(feature = "simulator")]
        Some(Command::Simulate(args)) => {
            in_runtime(Workers::Two, |signals| simulate::run(*args, signals))
        }
        None => match run::prepare(cli.run) {
            Ok(agent) => in_runtime(agent.workers, |signals| run::run(agent, signals)),
            Err(code) => code,
        },
    }
}

/// How many threads run the async work (the blocking pool is apart).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Workers {
    /// One tenant's work: Graph's limits for a tenant (at most 1,000 requests a minute)
    /// are a few thousand rows a second, and one thread reads about 100,000. A second
    /// worker took no wall time off a `--once` and cost about 3 MB of a 34 MB process:
    /// its own malloc arena and its own caches of the phone-number regexes (BENCHMARKS,
    /// "Session 13").
    One,
    /// Several tenants, the simulator, the demo and `state copy`: work side by side on
    /// two cores.
    Two,
}

/// Runs an async command on a runtime of `workers`, with the signal handlers installed.
fn in_runtime<F, Fut>(workers: Workers, command: F) -> ExitCode
where
    F: FnOnce(Signals) -> Fut,
    Fut: Future<Output = ExitCode>,
{
    let threads = match workers {
        Workers::One => 1,
        Workers::Two => 2,
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads)
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    let code = runtime.block_on(async { command(crate::signals::watch()).await });
    runtime.shutdown_timeout(Duration::from_secs(1));
    code
}

/// A configuration that cannot be used: one line per problem on stderr, exit 78.
/// Reads and validates the configuration, and checks that this user can write where
/// it keeps state and events (a config that validates must also start).
fn load(path: &std::path::Path) -> Result<crate::config::Config, ConfigError> {
    let config = crate::config::Config::load(path, &crate::config::Environment::process())?;
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
