//! pstn-agent: reads Microsoft Graph's PSTN and Direct Routing call logs and delivers
//! every call, once, to log sinks, with Prometheus metrics.
#![forbid(unsafe_code)]
#![warn(missing_docs, missing_debug_implementations, clippy::unwrap_used)]

pub mod api;
pub mod config;
#[cfg(feature = "simulator")]
pub mod demo;
pub mod enrich;
pub mod entra;
pub mod event;
pub mod graph;
pub mod http_client;
pub mod http_server;
pub mod metrics;
pub mod model;
pub mod planner;
pub mod retry;
pub mod shutdown;
#[cfg(feature = "simulator")]
pub mod simulate;
pub mod sinks;
pub mod source;
pub mod state;
pub mod time;
pub mod topology;
