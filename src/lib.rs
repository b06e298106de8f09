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
//! Nothing else is public: the crate's other modules are its own (`pub(crate)`).
#![forbid(unsafe_code)]
#![warn(missing_docs, missing_debug_implementations, clippy::unwrap_used)]

pub mod embed;
/// The simulated tenant (cargo feature `simulator`): Graph and Entra ID on loopback,
/// for examples and tests of an embedding program.
#[cfg(feature = "simulator")]
pub mod simulate;

// The binary itself (src/main.rs), not an API: hidden from the documentation. Its
// caller must first remove `IGNORED_ENVIRONMENT` from the environment, single-threaded.
#[doc(hidden)]
pub use commands::{IGNORED_ENVIRONMENT, run_command_line};

/// Declares the crate's internal modules: `pub(crate)`, except when the crate's own
/// tests and benches build it with the `__internals` feature (Cargo.toml enables it
/// for them through a dev-dependency on this crate). That feature is not an API: no
/// program should enable it, and nothing behind it is kept stable.
macro_rules! internal_modules {
    ($($(#[$attribute:meta])* $name:ident),* $(,)?) => {$(
        $(#[$attribute])*
        #[cfg(feature = "__internals")]
        #[doc(hidden)]
        pub mod $name;
        $(#[$attribute])*
        #[cfg(not(feature = "__internals"))]
        pub(crate) mod $name;
    )*};
}

internal_modules! {
    api,
    config,
    #[cfg(feature = "simulator")]
    demo,
    enrich,
    entra,
    event,
    facts,
    graph,
    http_client,
    http_server,
    lease,
    metrics,
    model,
    planner,
    retry,
    settings,
    shutdown,
    sinks,
    source,
    state,
    time,
    topology,
}

// The `pstn-agent` command line (src/main.rs calls `run_command_line`).
mod cli;
mod commands;
mod logging;
mod signals;
