//! `pstn-agent simulate`: a stand-in for Entra ID and Graph until stopped.

use crate::cli::SimulateArgs;
use crate::signals::Signals;
use crate::simulate::{FaultSettings, SimulatorOptions, start};
use std::process::ExitCode;

/// Serves the simulated tenant until stopped; 1 when it cannot listen, 2 for a bad
/// `--clock-start`.
pub(crate) async fn run(args: SimulateArgs, mut signals: Signals) -> ExitCode {
    let clock = match super::clock(args.clock_start.as_deref(), args.time_scale) {
        Ok(clock) => clock,
        Err(message) => {
            eprintln!("{message}");
            return ExitCode::from(super::EXIT_USAGE);
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
        faults: FaultSettings {
            throttle_budget: args.throttle_budget,
            retry_after_seconds: args.retry_after,
            error_per_mille: args.error_per_mille,
            latency: args.latency,
        },
        directory_users: args.directory_users,
        directory_page_size: args.directory_page_size,
        directory_forbidden: args.directory_forbidden,
        graph_limits: !args.no_graph_limits,
        sign_in_refusal: None,
        unconsented_tenants: Vec::new(),
        calls_per_tenant: false,
    };
    let handle = match start(args.address, options, clock).await {
        Ok(handle) => handle,
        Err(error) => {
            eprintln!("cannot listen on {}: {error}", args.address);
            return ExitCode::FAILURE;
        }
    };
    tracing::info!(url = %handle.url(), "simulated tenant listening: use this URL as both authority_url and graph_url");
    signals.shutdown.triggered().await;
    tracing::info!("simulated tenant stopped");
    ExitCode::SUCCESS
}
