//! The `pstn-agent` command line: parses, sets up logging and the runtime, and hands
//! each command to its module. Everything else lives in the library.

mod cli;
mod commands;
mod logging;
mod signals;

use clap::Parser;
use cli::{Cli, Command};
use signals::Signals;
use std::future::Future;
use std::process::ExitCode;
use std::time::Duration;

/// Export headers come only from the configuration file: the OpenTelemetry exporter
/// would add these to every export (in clear text over plain http) without a word.
const IGNORED_ENVIRONMENT: &[&str] = &[
    "OTEL_EXPORTER_OTLP_HEADERS",
    "OTEL_EXPORTER_OTLP_LOGS_HEADERS",
];

fn main() -> ExitCode {
    let ignored: Vec<&str> = IGNORED_ENVIRONMENT
        .iter()
        .copied()
        .filter(|name| std::env::var_os(name).is_some())
        .collect();
    for name in &ignored {
        // SAFETY: the process has one thread here: nothing else reads the environment.
        unsafe { std::env::remove_var(name) };
    }
    let cli = Cli::parse();
    logging::init(cli.log_format, cli.log_level);
    for name in ignored {
        tracing::warn!(
            variable = name,
            "ignored: OTLP export headers come only from the configuration file (sinks.NAME.headers)"
        );
    }
    match cli.command {
        Some(Command::Validate { config }) => commands::validate::run(&config),
        Some(Command::Healthcheck { config, ready }) => commands::healthcheck::run(&config, ready),
        #[cfg(feature = "simulator")]
        Some(Command::Demo {
            time_scale,
            calls_per_day,
            seed,
            sentinel,
        }) => {
            let options = pstn_agent::demo::DemoOptions {
                time_scale,
                calls_per_day,
                seed,
                sentinel,
            };
            in_runtime(|signals| commands::demo::run(options, signals))
        }
        #[cfg(feature = "simulator")]
        Some(Command::Simulate(args)) => {
            in_runtime(|signals| commands::simulate::run(*args, signals))
        }
        None => in_runtime(|signals| commands::run::run(cli.run, signals)),
    }
}

/// Runs an async command on a two-thread runtime, with the signal handlers installed.
fn in_runtime<F, Fut>(command: F) -> ExitCode
where
    F: FnOnce(Signals) -> Fut,
    Fut: Future<Output = ExitCode>,
{
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    let code = runtime.block_on(async { command(signals::watch()).await });
    runtime.shutdown_timeout(Duration::from_secs(1));
    code
}
