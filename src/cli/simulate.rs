//! `pstn-agent simulate`'s flags: the simulated tenant's options, beside the rest of
//! the command line's shape (`commands/simulate.rs` runs them).

use crate::config::parse_duration;
use crate::simulate::{DEFAULT_DIRECTORY_PAGE_SIZE, DEFAULT_DIRECTORY_USERS, Lateness};
use clap::Args;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

// `simulate`'s flags: the simulated tenant's options. (Plain comment: a doc comment
// would become help text.)
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
    /// How late rows appear: none, default, microsoft (most 24-48 h), or uniform:DURATION.
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
    /// Users in the simulated directory (/users/delta, /users/{id}).
    #[arg(long, default_value_t = DEFAULT_DIRECTORY_USERS)]
    pub directory_users: usize,
    /// Users per /users/delta page.
    #[arg(long, default_value_t = DEFAULT_DIRECTORY_PAGE_SIZE)]
    pub directory_page_size: usize,
    /// Answer 403 to directory requests, as Graph does without User.Read.All.
    #[arg(long)]
    pub directory_forbidden: bool,
    /// Serve call-log requests beyond Graph's published limits (50 per 60 s per
    /// function and tenant, 200 per application, 1,000 per tenant), for load tests.
    #[arg(long)]
    pub no_graph_limits: bool,
}
