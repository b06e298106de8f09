//! The command line's shape (clap): what users type, its help texts and defaults.

use clap::{Args, Parser, Subcommand, ValueEnum};
#[cfg(feature = "simulator")]
use pstn_agent::config::parse_duration;
#[cfg(feature = "simulator")]
use pstn_agent::simulate::Lateness;
#[cfg(feature = "simulator")]
use std::net::SocketAddr;
use std::path::PathBuf;
#[cfg(feature = "simulator")]
use std::time::Duration;

/// `--help`'s closing examples; without the simulator there is no `demo` or
/// `simulate` to teach.
#[cfg(feature = "simulator")]
const AFTER_HELP: &str = "Examples:\n  pstn-agent demo                                      try it on a simulated tenant, no set-up\n  pstn-agent validate --config /etc/pstn-agent.toml    check a config without touching the network\n  pstn-agent --config /etc/pstn-agent.toml --once      poll every source once, then exit (0 = all ok)\n  pstn-agent --config /etc/pstn-agent.toml             run until SIGTERM/SIGINT\n  pstn-agent simulate --address 127.0.0.1:8080         a stand-in for Entra ID and Graph\n\nEvents go to stdout (console sinks) and files; diagnostics go to stderr.\nSIGHUP reopens file sinks (for logrotate).";
#[cfg(not(feature = "simulator"))]
const AFTER_HELP: &str = "Examples:\n  pstn-agent validate --config /etc/pstn-agent.toml    check a config without touching the network\n  pstn-agent --config /etc/pstn-agent.toml --once      poll every source once, then exit (0 = all ok)\n  pstn-agent --config /etc/pstn-agent.toml             run until SIGTERM/SIGINT\n\nEvents go to stdout (console sinks) and files; diagnostics go to stderr.\nSIGHUP reopens file sinks (for logrotate).";

// Everything `pstn-agent` accepts. (Plain comments on the clap types: a doc comment
// would become help text.)
#[derive(Parser, Debug)]
#[command(
    name = "pstn-agent",
    version,
    about = "Reads Microsoft Graph's PSTN and Direct Routing call logs and delivers every call once to log sinks.",
    after_help = AFTER_HELP
)]
pub(crate) struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    #[command(flatten)]
    pub run: RunArgs,
    /// Diagnostics format on stderr.
    #[arg(long, value_enum, default_value_t = LogFormat::Text, global = true)]
    pub log_format: LogFormat,
    /// Diagnostics level: error, warn, info, debug or trace.
    #[arg(long, default_value = "info", global = true)]
    pub log_level: tracing::Level,
}

// The flags of the agent itself (no subcommand).
#[derive(Args, Debug)]
pub(crate) struct RunArgs {
    /// The configuration file (TOML).
    #[arg(long, short, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Poll every source once over all its due windows, deliver, save state, exit.
    #[arg(long)]
    pub once: bool,
    /// Run against a simulated clock starting at this instant (with --time-scale); for tests and benchmarks.
    #[arg(long, hide = true, value_name = "RFC3339")]
    pub clock_start: Option<String>,
    /// Simulated seconds per real second (with --clock-start).
    #[arg(long, hide = true, default_value_t = 1.0)]
    pub time_scale: f64,
}

// The subcommands.
#[derive(Subcommand, Debug)]
pub(crate) enum Command {
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
    #[cfg(feature = "simulator")]
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
    #[cfg(feature = "simulator")]
    #[command(
        after_help = "Example:\n  pstn-agent simulate --address 127.0.0.1:8080 --calls-per-day 100000 --throttle-budget 50\n  then set authority_url and graph_url to http://127.0.0.1:8080 in a source."
    )]
    Simulate(Box<SimulateArgs>),
}

// `simulate`'s flags: the simulated tenant's options.
#[cfg(feature = "simulator")]
#[derive(Args, Debug)]
pub(crate) struct SimulateArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub address: SocketAddr,
    /// Seed: the same seed gives the same calls.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Average calls per day of each kind.
    #[arg(long, default_value_t = 2000.0)]
    pub calls_per_day: f64,
    /// Rows per page.
    #[arg(long, default_value_t = 1000)]
    pub page_size: usize,
    /// How late rows appear: none, default, or uniform:DURATION.
    #[arg(long, default_value = "default", value_parser = Lateness::parse)]
    pub lateness: Lateness,
    /// Lifetime of issued tokens.
    #[arg(long, default_value = "1h", value_parser = parse_duration)]
    pub token_ttl: Duration,
    /// Accept only this client id.
    #[arg(long)]
    pub client_id: Option<String>,
    /// Accept only this client secret.
    #[arg(long)]
    pub client_secret: Option<String>,
    /// Graph requests allowed per 20 s before answering 429 (0 = never).
    #[arg(long, default_value_t = 0)]
    pub throttle_budget: u64,
    /// Seconds announced in Retry-After (0 = until the 20 s window ends).
    #[arg(long, default_value_t = 0)]
    pub retry_after: u64,
    /// Share of Graph requests answered 500/503, per mille.
    #[arg(long, default_value_t = 0)]
    pub error_per_mille: u64,
    /// Extra latency per Graph request.
    #[arg(long, default_value = "0ms", value_parser = parse_duration)]
    pub latency: Duration,
    /// Simulated seconds per real second.
    #[arg(long, default_value_t = 1.0)]
    pub time_scale: f64,
    /// The simulated clock's start (default: now).
    #[arg(long, value_name = "RFC3339")]
    pub clock_start: Option<String>,
    /// Base URL written into @odata.nextLink (default: http://ADDRESS).
    #[arg(long)]
    pub public_url: Option<String>,
    /// Verify certificate client assertions against this certificate (PEM).
    #[arg(long, value_name = "PEM")]
    pub client_certificate: Option<PathBuf>,
    /// Serve HTTPS with this certificate chain (PEM; with --tls-key).
    #[arg(long, value_name = "PEM", requires = "tls_key")]
    pub tls_certificate: Option<PathBuf>,
    /// The key of --tls-certificate (PEM).
    #[arg(long, value_name = "PEM", requires = "tls_certificate")]
    pub tls_key: Option<PathBuf>,
}

// How diagnostics on stderr are written.
#[derive(ValueEnum, Clone, Copy, Debug)]
pub(crate) enum LogFormat {
    Text,
    Json,
}
