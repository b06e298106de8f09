//! The `pstn-agent` command line. Everything else lives in the library.

use clap::{Args, Parser, Subcommand, ValueEnum};
use pstn_agent::config::{Config, ConfigError, Environment, parse_duration};
use pstn_agent::retry::RetryPolicy;
use pstn_agent::shutdown::{ShutdownTrigger, shutdown_pair};
use pstn_agent::simulate::{Lateness, SimulatorOptions};
use pstn_agent::sinks::ReopenSignal;
use pstn_agent::time::{Clock, ScaledClock, SharedClock, SystemClock, Timestamp};
use pstn_agent::topology::{RunOptions, run};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

/// Exit status for a configuration that cannot be used (sysexits EX_CONFIG).
const EXIT_CONFIG: u8 = 78;

#[derive(Parser, Debug)]
#[command(
    name = "pstn-agent",
    version,
    about = "Reads Microsoft Graph's PSTN and Direct Routing call logs and delivers every call once to log sinks.",
    after_help = "Examples:\n  pstn-agent demo                                      try it on a simulated tenant, no set-up\n  pstn-agent validate --config /etc/pstn-agent.toml    check a config without touching the network\n  pstn-agent --config /etc/pstn-agent.toml --once      poll every source once, then exit (0 = all ok)\n  pstn-agent --config /etc/pstn-agent.toml             run until SIGTERM/SIGINT\n  pstn-agent simulate --address 127.0.0.1:8080         a stand-in for Entra ID and Graph\n\nEvents go to stdout (console sinks) and files; diagnostics go to stderr.\nSIGHUP reopens file sinks (for logrotate)."
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    run: RunArgs,
    /// Diagnostics format on stderr.
    #[arg(long, value_enum, default_value_t = LogFormat::Text, global = true)]
    log_format: LogFormat,
    /// Diagnostics level: error, warn, info, debug or trace.
    #[arg(long, default_value = "info", global = true)]
    log_level: tracing::Level,
}

#[derive(Args, Debug)]
struct RunArgs {
    /// The configuration file (TOML).
    #[arg(long, short, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Poll every source once over all its due windows, deliver, save state, exit.
    #[arg(long)]
    once: bool,
    /// Run against a simulated clock starting at this instant (with --time-scale); for tests and benchmarks.
    #[arg(long, hide = true, value_name = "RFC3339")]
    clock_start: Option<String>,
    /// Simulated seconds per real second (with --clock-start).
    #[arg(long, hide = true, default_value_t = 1.0)]
    time_scale: f64,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Check a configuration file without touching the network: exit 0, or 78 with one line per problem.
    #[command(after_help = "Example:\n  pstn-agent validate --config /etc/pstn-agent.toml")]
    Validate {
        /// The configuration file (TOML).
        #[arg(long, short, value_name = "FILE")]
        config: PathBuf,
    },
    /// Ask the agent running with this config whether it is alive (or ready): exit 0 or 1.
    #[command(
        after_help = "For container health checks in images without curl:\n  HEALTHCHECK CMD [\"pstn-agent\", \"healthcheck\", \"--config\", \"/etc/pstn-agent/pstn-agent.toml\"]"
    )]
    Healthcheck {
        /// The configuration file the agent runs with (its api.address is asked).
        #[arg(long, short, value_name = "FILE")]
        config: PathBuf,
        /// Ask /readyz (every source progressing, no sink failing) instead of /healthz.
        #[arg(long)]
        ready: bool,
    },
    /// A simulated tenant plus the agent polling it over loopback; events on stdout.
    #[command(
        after_help = "Example:\n  pstn-agent demo | jq -c '{type: .call.callType, start: .timestamp}'"
    )]
    Demo {
        /// Simulated seconds per real second.
        #[arg(long, default_value_t = 60.0)]
        time_scale: f64,
        /// Calls per day of each kind.
        #[arg(long, default_value_t = 1000.0)]
        calls_per_day: f64,
        /// Seed of the simulated tenant.
        #[arg(long, default_value_t = 1)]
        seed: u64,
    },
    /// A stand-in for Entra ID and Graph's call-log functions (for tests, demos and load).
    #[command(
        after_help = "Example:\n  pstn-agent simulate --address 127.0.0.1:8080 --calls-per-day 100000 --throttle-budget 50\n  then set authority_url and graph_url to http://127.0.0.1:8080 in a source."
    )]
    Simulate(Box<SimulateArgs>),
}

#[derive(Args, Debug)]
struct SimulateArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8080")]
    address: SocketAddr,
    /// Seed: the same seed gives the same calls.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Average calls per day of each kind.
    #[arg(long, default_value_t = 2000.0)]
    calls_per_day: f64,
    /// Rows per page.
    #[arg(long, default_value_t = 1000)]
    page_size: usize,
    /// How late rows appear: none, default, or uniform:DURATION.
    #[arg(long, default_value = "default", value_parser = Lateness::parse)]
    lateness: Lateness,
    /// Lifetime of issued tokens.
    #[arg(long, default_value = "1h", value_parser = parse_duration)]
    token_ttl: Duration,
    /// Accept only this client id.
    #[arg(long)]
    client_id: Option<String>,
    /// Accept only this client secret.
    #[arg(long)]
    client_secret: Option<String>,
    /// Graph requests allowed per 20 s before answering 429 (0 = never).
    #[arg(long, default_value_t = 0)]
    throttle_budget: u64,
    /// Seconds announced in Retry-After (0 = until the 20 s window ends).
    #[arg(long, default_value_t = 0)]
    retry_after: u64,
    /// Share of Graph requests answered 500/503, per mille.
    #[arg(long, default_value_t = 0)]
    error_per_mille: u64,
    /// Extra latency per Graph request.
    #[arg(long, default_value = "0ms", value_parser = parse_duration)]
    latency: Duration,
    /// Simulated seconds per real second.
    #[arg(long, default_value_t = 1.0)]
    time_scale: f64,
    /// The simulated clock's start (default: now).
    #[arg(long, value_name = "RFC3339")]
    clock_start: Option<String>,
    /// Base URL written into @odata.nextLink (default: http://ADDRESS).
    #[arg(long)]
    public_url: Option<String>,
    /// Verify certificate client assertions against this certificate (PEM).
    #[arg(long, value_name = "PEM")]
    client_certificate: Option<PathBuf>,
    /// Serve HTTPS with this certificate chain (PEM; with --tls-key).
    #[arg(long, value_name = "PEM", requires = "tls_key")]
    tls_certificate: Option<PathBuf>,
    /// The key of --tls-certificate (PEM).
    #[arg(long, value_name = "PEM", requires = "tls_certificate")]
    tls_key: Option<PathBuf>,
}

#[derive(ValueEnum, Clone, Copy, Debug)]
enum LogFormat {
    Text,
    Json,
}

fn init_logging(format: LogFormat, level: tracing::Level) {
    let filter = tracing_subscriber::filter::Targets::new()
        .with_default(level)
        .with_target("hyper", tracing::Level::WARN)
        .with_target("reqwest", tracing::Level::WARN)
        .with_target("rustls", tracing::Level::WARN)
        .with_target("h2", tracing::Level::WARN)
        .with_target("tonic", tracing::Level::WARN)
        .with_target("tower", tracing::Level::WARN)
        .with_target("opentelemetry", tracing::Level::WARN)
        .with_target("opentelemetry_sdk", tracing::Level::WARN)
        .with_target("opentelemetry_otlp", tracing::Level::WARN);
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    let registry = tracing_subscriber::registry().with(filter);
    let _ = match format {
        LogFormat::Text => registry
            .with(tracing_subscriber::fmt::layer().with_writer(std::io::stderr))
            .try_init(),
        LogFormat::Json => registry
            .with(
                tracing_subscriber::fmt::layer()
                    .json()
                    .with_writer(std::io::stderr),
            )
            .try_init(),
    };
}

fn print_config_error(error: &ConfigError) {
    for line in error.lines() {
        eprintln!("{line}");
    }
}

fn clock(start: Option<&str>, scale: f64) -> Result<SharedClock, String> {
    match start {
        None if scale == 1.0 => Ok(Arc::new(SystemClock)),
        None => Ok(Arc::new(ScaledClock::new(SystemClock.now(), scale))),
        Some(text) => Timestamp::parse(text)
            .map(|start| Arc::new(ScaledClock::new(start, scale)) as SharedClock)
            .map_err(|error| format!("--clock-start: {error}")),
    }
}

/// SIGTERM/SIGINT stop the agent; SIGHUP reopens file sinks.
fn watch_signals(trigger: ShutdownTrigger, reopen: ReopenSignal) {
    use tokio::signal::unix::{SignalKind, signal};
    tokio::spawn(async move {
        let (Ok(mut term), Ok(mut int), Ok(mut hup)) = (
            signal(SignalKind::terminate()),
            signal(SignalKind::interrupt()),
            signal(SignalKind::hangup()),
        ) else {
            tracing::error!("cannot install signal handlers");
            return;
        };
        loop {
            tokio::select! {
                _ = term.recv() => break,
                _ = int.recv() => break,
                _ = hup.recv() => { tracing::info!("SIGHUP: reopening file sinks"); reopen.trigger(); }
            }
        }
        tracing::info!("stopping: finishing the batch in flight, then saving state");
        trigger.trigger();
        // The contract: exit within 10 s of the signal, whatever is still in flight.
        tokio::time::sleep(Duration::from_secs(9)).await;
        tracing::warn!("shutdown took too long; exiting (state holds everything acknowledged)");
        std::process::exit(0);
    });
}

/// `healthcheck`: 0 when the agent answered 200, 1 otherwise, 78 for a bad config.
fn healthcheck(config_path: &std::path::Path, ready: bool) -> ExitCode {
    let config = match Config::load(config_path, &Environment::process()) {
        Ok(config) => config,
        Err(error) => {
            print_config_error(&error);
            return ExitCode::from(EXIT_CONFIG);
        }
    };
    let question = if ready {
        pstn_agent::api::Probe::Ready
    } else {
        pstn_agent::api::Probe::Alive
    };
    match pstn_agent::api::probe(config.api_address, question, Duration::from_secs(3)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("{error}");
            ExitCode::FAILURE
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(cli.log_format, cli.log_level);
    if let Some(Command::Validate {
        config: config_path,
    }) = &cli.command
    {
        return match Config::load(config_path, &Environment::process()) {
            Ok(config) => {
                eprintln!(
                    "{}: ok ({} sources, {} sinks)",
                    config_path.display(),
                    config.sources.len(),
                    config.sinks.len()
                );
                ExitCode::SUCCESS
            }
            Err(error) => {
                print_config_error(&error);
                ExitCode::from(EXIT_CONFIG)
            }
        };
    }
    if let Some(Command::Healthcheck { config, ready }) = &cli.command {
        return healthcheck(config, *ready);
    }
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
    let code = runtime.block_on(async_main(cli));
    runtime.shutdown_timeout(Duration::from_secs(1));
    code
}

async fn async_main(cli: Cli) -> ExitCode {
    let (trigger, shutdown) = shutdown_pair();
    let reopen = ReopenSignal::default();
    watch_signals(trigger, reopen.clone());
    match cli.command {
        Some(Command::Validate { .. } | Command::Healthcheck { .. }) => ExitCode::SUCCESS,
        Some(Command::Demo {
            time_scale,
            calls_per_day,
            seed,
        }) => {
            let options = pstn_agent::demo::DemoOptions {
                time_scale,
                calls_per_day,
                seed,
            };
            match pstn_agent::demo::demo(options, shutdown).await {
                Ok(code) => ExitCode::from(code as u8),
                Err(error) => {
                    eprintln!("{error}");
                    ExitCode::FAILURE
                }
            }
        }
        Some(Command::Simulate(args)) => simulate(*args, shutdown).await,
        None => {
            let Some(path) = cli.run.config else {
                eprintln!("--config FILE is required (or try `pstn-agent demo`; see --help)");
                return ExitCode::from(2);
            };
            let config = match Config::load(&path, &Environment::process()) {
                Ok(config) => config,
                Err(error) => {
                    print_config_error(&error);
                    return ExitCode::from(EXIT_CONFIG);
                }
            };
            let clock = match clock(cli.run.clock_start.as_deref(), cli.run.time_scale) {
                Ok(clock) => clock,
                Err(message) => {
                    eprintln!("{message}");
                    return ExitCode::from(2);
                }
            };
            let metrics = match pstn_agent::metrics::Metrics::new() {
                Ok(metrics) => metrics,
                Err(error) => {
                    eprintln!("cannot start: {error}");
                    return ExitCode::FAILURE;
                }
            };
            let options = RunOptions {
                once: cli.run.once,
                clock,
                retry: RetryPolicy::default(),
                reopen,
                metrics,
            };
            match run(&config, options, shutdown).await {
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
    }
}

async fn simulate(args: SimulateArgs, mut shutdown: pstn_agent::shutdown::Shutdown) -> ExitCode {
    let clock = match clock(args.clock_start.as_deref(), args.time_scale) {
        Ok(clock) => clock,
        Err(message) => {
            eprintln!("{message}");
            return ExitCode::from(2);
        }
    };
    let options = SimulatorOptions {
        seed: args.seed,
        calls_per_day: args.calls_per_day,
        page_size: args.page_size,
        lateness: args.lateness,
        token_ttl: args.token_ttl,
        client_id: args.client_id,
        client_secret: args.client_secret,
        public_url: args.public_url,
        client_certificate: args.client_certificate,
        tls: args.tls_certificate.zip(args.tls_key),
    };
    let handle = match pstn_agent::simulate::start(args.address, options, clock).await {
        Ok(handle) => handle,
        Err(error) => {
            eprintln!("cannot listen on {}: {error}", args.address);
            return ExitCode::FAILURE;
        }
    };
    use std::sync::atomic::Ordering;
    handle
        .faults
        .throttle_budget
        .store(args.throttle_budget, Ordering::SeqCst);
    handle
        .faults
        .retry_after_seconds
        .store(args.retry_after, Ordering::SeqCst);
    handle
        .faults
        .error_per_mille
        .store(args.error_per_mille, Ordering::SeqCst);
    handle
        .faults
        .latency_ms
        .store(args.latency.as_millis() as u64, Ordering::SeqCst);
    tracing::info!(url = %handle.url(), "simulated tenant listening: use this URL as both authority_url and graph_url");
    shutdown.triggered().await;
    ExitCode::SUCCESS
}
