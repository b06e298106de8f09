//! Every integration test of the crate, in one binary: one link instead of one per
//! file, and the harness in `common` compiled once. A file here is a module, so a test
//! is run by its path: `cargo test --test it faults::` or
//! `cargo test --test it process::killed`.
//!
//! Nothing here may rely on having the process to itself: no test sets environment
//! variables or the current directory of the process (child processes get their own),
//! and what is process-wide (rustls' crypto provider, the count of skipped checks) is
//! set the same way by whichever test comes first.

// These need no simulated tenant: they also run with `--no-default-features`, the
// production build (the command line without `demo` and `simulate`, the layering,
// what the feature pulls in, the metrics listener's limits).
mod api_limits;
mod architecture;
mod cli;
mod features;

// The rest drive the agent against the simulated tenant (`common` starts it).
#[cfg(feature = "simulator")]
mod auth;
#[cfg(feature = "simulator")]
mod chargeback;
#[cfg(feature = "simulator")]
mod common;
#[cfg(feature = "simulator")]
mod dashboard;
#[cfg(feature = "simulator")]
mod delivery;
#[cfg(feature = "simulator")]
mod deploy;
#[cfg(feature = "simulator")]
mod dialout;
#[cfg(feature = "simulator")]
mod directory;
#[cfg(feature = "simulator")]
mod embed;
#[cfg(feature = "simulator")]
mod faults;
#[cfg(feature = "simulator")]
mod first_hour;
#[cfg(feature = "simulator")]
mod fuzz;
#[cfg(feature = "simulator")]
mod hostile_entra;
#[cfg(feature = "simulator")]
mod lateness;
#[cfg(feature = "simulator")]
mod leases;
#[cfg(feature = "simulator")]
mod logs;
#[cfg(feature = "simulator")]
mod metrics;
#[cfg(feature = "simulator")]
mod migration;
#[cfg(feature = "simulator")]
mod otlp;
#[cfg(feature = "simulator")]
mod otlp_tls;
#[cfg(feature = "simulator")]
mod paging;
#[cfg(feature = "simulator")]
mod process;
#[cfg(feature = "simulator")]
mod prometheus;
#[cfg(feature = "simulator")]
mod proxy;
#[cfg(feature = "simulator")]
mod replicas;
#[cfg(feature = "simulator")]
mod secrets;
#[cfg(feature = "simulator")]
mod sentinel;
#[cfg(feature = "simulator")]
mod sentinel_deploy;
#[cfg(feature = "simulator")]
mod sentinel_stand_in;
#[cfg(feature = "simulator")]
mod simulator;
#[cfg(feature = "simulator")]
mod sink_failures;
#[cfg(feature = "simulator")]
mod state_store;
#[cfg(feature = "simulator")]
mod storage;
#[cfg(feature = "simulator")]
mod tenants;
#[cfg(feature = "simulator")]
mod tls;
