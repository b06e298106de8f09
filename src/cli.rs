//! The command line's shape (clap): what users type, its help texts and defaults.

#[cfg(feature = "simulator")]
mod simulate;

use clap::{Args, Parser, Subcommand, ValueEnum};
#[cfg(feature = "simulator")]
pub(crate) use simulate::SimulateArgs;
use std::path::PathBuf;

/// `--help`'s closing examples; without the simulator there is no `demo` or
/// `simulate` to teach.
#[cfg(feature = "simulator")]
const AFTER_HELP: &str = "Examples:\n  pstn-agent demo                              try it on a simulated tenant, no set-up\n  pstn-agent validate --config pstn-agent.toml check a config without touching the network\n  pstn-agent --config pstn-agent.toml --once   poll every source once, then exit (0 = all ok;\n                                               with [state] postgres_url: each unit whose\n                                               lease comes within lease_ttl)\n  pstn-agent --config pstn-agent.toml          run until SIGTERM/SIGINT\n  pstn-agent simulate --address 127.0.0.1:8080 a stand-in for Entra ID and Graph\n\nEvents go to stdout (console sinks) and files; diagnostics go to stderr.\nSIGHUP reopens file sinks (for logrotate) and re-reads tenants_file\n(added tenants start, removed ones stop and keep their state).\n\nExit codes: 0 ok; 1 a source or sink failed, or the agent could not start;\n2 usage error; 78 the configuration has problems (one line each, naming the key).";
#[cfg(not(feature = "simulator"))]
const AFTER_HELP: &str = "Examples:\n  pstn-agent validate --config pstn-agent.toml check a config without touching the network\n  pstn-agent --config pstn-agent.toml --once   poll every source once, then exit (0 = all ok;\n                                               with [state] postgres_url: each unit whose\n                                               lease comes within lease_ttl)\n  pstn-agent --config pstn-agent.toml          run until SIGTERM/SIGINT\n\nEvents go to stdout (console sinks) and files; diagnostics go to stderr.\nSIGHUP reopens file sinks (for logrotate) and re-reads tenants_file\n(added tenants start, removed ones stop and keep their state).\n\nExit codes: 0 ok; 1 a source or sink failed, or the agent could not start;\n2 usage error; 78 the configuration has problems (one line each, naming the key).";

// Everything `pstn-agent` accepts. (Plain comments on the clap types: a doc comment
// would become help text.)
#[derive(Parser, Debug)]
#[command(
    name = "pstn-agent",
    version,
    about = "Reads Microsoft Graph's Teams phone logs (PSTN calls, Direct Routing calls, SMS, users blocked from PSTN calling, the audio-conferencing dial-out report: source types pstn_calls, direct_routing_calls, sms_log, pstn_blocked_users, pstn_dialout_report) and delivers every row once to log sinks.",
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
    #[command(
        after_help = "Besides the file, what the agent checks at start on this machine as this user (data_dir and file sinks writable) is checked too, so `ExecStartPre=pstn-agent validate` stops a start that would fail.\n\nExample:\n  pstn-agent validate --config pstn-agent.toml\n  pstn-agent validate --no-local-checks --config image/pstn-agent.toml   a file for a container or another host"
    )]
    Validate {
        /// The configuration file (TOML).
        #[arg(long, short, value_name = "FILE")]
        config: PathBuf,
        /// Check the file alone, not whether this machine and user could start with it (for a file meant for a container or another host).
        #[arg(long)]
        no_local_checks: bool,
    },
    /// Ask the agent running with this config whether it is alive (or ready): exit 0 (yes), 1 (no answer or not ready) or 78 (bad config).
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
    /// The agent's state: `state copy` moves SQLite state into PostgreSQL.
    State {
        #[command(subcommand)]
        command: StateCommand,
    },
    /// A simulated tenant plus the agent polling it over loopback; events on stdout.
    #[cfg(feature = "simulator")]
    #[command(
        after_help = "Example:\n  pstn-agent demo | jq -c '{type: .call.callType, start: .timestamp}'"
    )]
    Demo {
        /// Simulated seconds per real second.
        #[arg(long, default_value_t = 60.0, value_parser = positive_number)]
        time_scale: f64,
        /// Calls per day of each kind.
        #[arg(long, default_value_t = 1000.0)]
        calls_per_day: f64,
        /// Seed of the simulated tenant.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Also deliver to Microsoft Sentinel's Logs Ingestion API, here the simulator's
        /// stand-in, and log what it received.
        #[arg(long)]
        sentinel: bool,
    },
    /// A stand-in for Entra ID and Graph's call-log functions (for tests, demos and load).
    #[cfg(feature = "simulator")]
    #[command(
        after_help = "Example:\n  pstn-agent simulate --address 127.0.0.1:8080 --calls-per-day 100000 --throttle-budget 50\n  then set authority_url and graph_url to http://127.0.0.1:8080 in a source."
    )]
    Simulate(Box<SimulateArgs>),
}

// What `pstn-agent state` does.
#[derive(Subcommand, Debug)]
pub(crate) enum StateCommand {
    /// Copy every source's SQLite state (data_dir) into the PostgreSQL of [state] postgres_url: keys, cursors, ledgers, directory, deltaLinks, dial-out totals.
    #[command(
        after_help = "Stop the agent first: the copy takes data_dir's lock. Each source is copied in one transaction; one that already has state in PostgreSQL is refused (nothing of it written) unless --force, which replaces it. Afterwards agents with the same config and [state] postgres_url read nothing twice.

Example:
  pstn-agent state copy --config pstn-agent.toml"
    )]
    Copy {
        /// The configuration file: its data_dir holds the SQLite state, its [state] postgres_url names the database.
        #[arg(long, short, value_name = "FILE")]
        config: PathBuf,
        /// Replace the state a source already has in PostgreSQL (without it, such a source is refused).
        #[arg(long)]
        force: bool,
    },
}

/// A number above zero: a demo clock scaled by 0 would never move.
#[cfg(feature = "simulator")]
fn positive_number(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(number) if number.is_finite() && number > 0.0 => Ok(number),
        _ => Err(format!(
            "{text:?} is not a number above zero (60 shows an hour a minute)"
        )),
    }
}

// How diagnostics on stderr are written.
#[derive(ValueEnum, Clone, Copy, Debug)]
pub(crate) enum LogFormat {
    Text,
    Json,
}
