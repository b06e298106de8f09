//! How a poll or a source ends when it does not succeed, and what follows from it.

use crate::graph::GraphError;
use crate::state::StateError;

/// Why a poll of a source ended early.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SourceError {
    /// Graph could not be read (after retries).
    #[error(transparent)]
    Graph(#[from] GraphError),
    /// State could not be read or written.
    #[error("state: {0}")]
    State(#[from] StateError),
    /// A sink kept refusing a batch (only when retries are bounded, as with --once).
    #[error(transparent)]
    Sink(#[from] crate::sinks::SinkError),
    /// Shutdown was asked for; nothing half-done was committed.
    #[error("interrupted by shutdown")]
    Interrupted,
    /// A fetch or delivery task died.
    #[error("internal: {0}")]
    Internal(String),
}

impl SourceError {
    /// A fixed text for the unauthenticated `/readyz`: never a peer's words, a host
    /// or a path (those go to the log).
    pub fn readiness_reason(&self) -> String {
        let reason = match self {
            SourceError::Graph(error) => error.reason().as_str(),
            SourceError::State(_) => "state",
            SourceError::Sink(_) => "sink",
            SourceError::Interrupted => "interrupted",
            SourceError::Internal(_) => "internal",
        };
        format!("last poll failed: {reason}")
    }

    /// Whether a write was refused because the unit's lease moved on: this replica
    /// no longer holds the unit, and stops reading it (not an error of the agent).
    /// PostgreSQL failing to answer the check is not this (`StateError::FenceUnchecked`:
    /// a state error like any other, retried next poll).
    pub fn is_fenced(&self) -> bool {
        matches!(self, SourceError::State(StateError::Fenced(_)))
    }

    /// Whether the source should stop instead of trying again next poll: the
    /// credentials are wrong, or a sink can never take a batch again (its stdout was
    /// closed: like other Unix tools, the agent ends, with what was delivered committed).
    pub fn stops_source(&self) -> bool {
        match self {
            SourceError::Graph(error) => error.stops_source(),
            SourceError::Sink(error) => {
                !error.is_retryable() && error.scope == crate::sinks::Scope::Batch
            }
            _ => false,
        }
    }
}
