//! pstn-agent: reads Microsoft Graph's PSTN and Direct Routing call logs and delivers
//! every call, once, to log sinks, with Prometheus metrics.
//!
//! # Use it as a library
//!
//! The library's API is [`embed`]: the agent's source as a component of another Rust
//! pipeline. [`EmbeddedSource`](embed::EmbeddedSource) yields batches of new rows; the
//! program acknowledges each one, and progress is committed (in SQLite, under
//! `data_dir`) only on [`accept`](embed::Delivery::accept). A batch rejected or
//! dropped unanswered is offered again, so every row reaches the program, once.
//!
//! ```no_run
//! use pstn_agent::embed::{EmbeddedSource, Environment};
//! use std::path::Path;
//!
//! # async fn embed() -> Result<(), Box<dyn std::error::Error>> {
//! let text = r#"
//!     data_dir = "/var/lib/my-pipeline/pstn"
//!     [sources.pstn_calls]
//!     type = "pstn_calls"
//!     tenant_id = "contoso.onmicrosoft.com"
//!     client_id = "11111111-1111-1111-1111-111111111111"
//!     client_secret = "${GRAPH_CLIENT_SECRET}"
//! "#;
//! let builder =
//!     EmbeddedSource::from_toml(text, "pstn_calls", Path::new("."), &Environment::process())?;
//! let mut source = builder.start().await?;
//! while let Some(delivery) = source.next_batch().await {
//!     let delivery = delivery?;
//!     for event in delivery.events() {
//!         // Hand the event on: its JSON line, the raw Graph row, the typed envelope.
//!         println!("{}", String::from_utf8_lossy(event.call()));
//!     }
//!     delivery.accept(); // commits; dropping `delivery` instead offers it again
//! }
//! # Ok(())
//! # }
//! ```
//!
//! A complete program, run against the simulated tenant (cargo feature `simulator`):
#![cfg_attr(feature = "simulator", doc = "```")]
#![cfg_attr(not(feature = "simulator"), doc = "```ignore")]
//! use pstn_agent::embed::{EmbeddedSource, Environment, ManualClock, SharedClock, Timestamp};
//! use std::sync::Arc;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let clock: SharedClock = Arc::new(ManualClock::new(Timestamp::parse("2024-05-20T12:00:00Z")?));
//! let options = pstn_agent::simulate::SimulatorOptions::default();
//! let tenant = pstn_agent::simulate::start(([127, 0, 0, 1], 0).into(), options, clock.clone()).await?;
//! let data_dir = tempfile::tempdir()?;
//! let text = format!(
//!     r#"
//!     data_dir = "{data_dir}"
//!     [sources.pstn_calls]
//!     type = "pstn_calls"
//!     tenant_id = "contoso.onmicrosoft.com"
//!     client_id = "11111111-1111-1111-1111-111111111111"
//!     client_secret = "secret"
//!     authority_url = "{url}"
//!     graph_url = "{url}"
//!     lookback = "1h"
//!     "#,
//!     data_dir = data_dir.path().display(),
//!     url = tenant.url(),
//! );
//! let mut source = EmbeddedSource::from_toml(&text, "pstn_calls", data_dir.path(), &Environment::fixed([]))?
//!     .clock(clock)
//!     .once()
//!     .start()
//!     .await?;
//! let mut events = 0;
//! while let Some(delivery) = source.next_batch().await {
//!     let delivery = delivery?;
//!     events += delivery.len();
//!     delivery.accept();
//! }
//! assert!(events > 0);
//! # Ok(())
//! # }
//! ```
//!
//! Every other module is public only for the `pstn-agent` binary and the crate's own
//! tests: it is hidden from this documentation and is not part of the library's API.
#![forbid(unsafe_code)]
#![warn(missing_docs, missing_debug_implementations, clippy::unwrap_used)]

pub mod embed;

// Not part of the library's API: public only for the binary (src/main.rs,
// src/commands) and the integration tests, hidden from the documentation. Use `embed`.
#[doc(hidden)]
pub mod api;
#[doc(hidden)]
pub mod config;
#[cfg(feature = "simulator")]
#[doc(hidden)]
pub mod demo;
#[doc(hidden)]
pub mod enrich;
#[doc(hidden)]
pub mod entra;
#[doc(hidden)]
pub mod event;
#[doc(hidden)]
pub mod graph;
#[doc(hidden)]
pub mod http_client;
#[doc(hidden)]
pub mod http_server;
#[doc(hidden)]
pub mod metrics;
#[doc(hidden)]
pub mod model;
#[doc(hidden)]
pub mod planner;
#[doc(hidden)]
pub mod retry;
#[doc(hidden)]
pub mod shutdown;
/// The simulated tenant (cargo feature `simulator`): Graph and Entra ID on loopback,
/// for examples and tests of an embedding program.
#[cfg(feature = "simulator")]
pub mod simulate;
#[doc(hidden)]
pub mod sinks;
#[doc(hidden)]
pub mod source;
#[doc(hidden)]
pub mod state;
#[doc(hidden)]
pub mod time;
#[doc(hidden)]
pub mod topology;
