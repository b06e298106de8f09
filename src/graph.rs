//! Microsoft Graph's call-log functions and the directory (`/users/delta`): tokens, the HTTP client, retries and paging.
//! graph only fetches: it hands out pages and reports what happened through
//! [`GraphEvents`]; it knows nothing of plans, state, sinks or metrics.

mod client;
mod directory;
mod endpoint;
mod error;
mod events;
mod pace;
mod page;
mod paging;

#[cfg(any(test, feature = "__internals"))]
pub use crate::entra::{AssertionAlgorithm, check_certificate_file, check_private_key_file};
pub use crate::entra::{AuthError, TokenSource};
pub use client::{GraphClient, GraphClientOptions};
pub use endpoint::GraphEndpoint;
pub use error::GraphError;
#[cfg(any(test, feature = "__internals"))]
pub use error::error_chain;
#[cfg(any(test, feature = "__internals"))]
pub use events::IgnoreEvents;
pub use events::{FailureReason, GraphEvent, GraphEvents};
pub use pace::{PaceBook, PaceMember};
pub use page::{Page, PageError};
pub use paging::{ChainPage, MAX_PAGES_PER_WINDOW};
#[cfg(any(test, feature = "__internals"))]
pub use paging::{PageChain, request_edges};

/// Counts Graph's token requests as [`GraphEvent::TokenRequested`] events.
#[derive(Debug, Clone)]
pub struct GraphTokenEvents(pub std::sync::Arc<dyn GraphEvents>);

impl crate::entra::TokenEvents for GraphTokenEvents {
    fn token_requested(&self, succeeded: bool) {
        self.0.emit(GraphEvent::TokenRequested { succeeded });
    }
}
