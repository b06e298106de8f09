//! Where events go. A sink takes a batch and answers only when the batch is safe
//! (console: written and flushed; file: written and fsynced; OTLP: acknowledged by the
//! collector; Logs Ingestion: every request answered 204): the source commits its progress only after every sink of the batch
//! said so. A sink's error says whether to try again and whether it is about the whole
//! batch or one event; an event a sink can never take goes to its dead letters.
//!
//! Sinks reach no graph, state, planner or source: they see batches, nothing else.

mod any_value;
mod azure_logs;
pub mod config;
mod console;
mod dead_letter;
mod error;
mod file;
mod handle;
mod otlp;
mod progress;
mod redact;

pub use azure_logs::AzureLogsSink;
#[cfg(any(test, feature = "__internals"))]
pub use azure_logs::{
    ENVELOPE_COLUMNS, IngestionError, MAX_REQUEST_BYTES, RESERVED_COLUMNS, is_reserved, record_of,
};
// A batch is the event's (`crate::event`); sinks take it, so they name it too.
#[cfg(test)]
pub(crate) use crate::event::batch_of;
pub use crate::event::{Batch, Envelope, EventSpan};
pub use console::ConsoleSink;
#[cfg(feature = "simulator")]
pub use console::when_reader_gone;
pub use dead_letter::DeadLetters;
#[cfg(any(test, feature = "__internals"))]
pub use error::{Cause, Retry};
pub use error::{Scope, SinkError};
pub use file::{FileSink, ReopenSignal};
pub use handle::{SinkHandle, SinkTaskOptions};
pub use otlp::OtlpSink;
#[cfg(any(test, feature = "__internals"))]
pub use otlp::http_logs_url;
pub use progress::{Digest, Progress, Refusal, digest};
pub use redact::RedactingSink;

use std::future::Future;
use std::pin::Pin;

/// The future a sink returns for one batch.
pub type DeliveryFuture<'a> = Pin<Box<dyn Future<Output = Result<(), SinkError>> + Send + 'a>>;

/// A destination for batches: OTLP and others plug in here.
pub trait Sink: Send + 'static {
    /// Delivers a batch; resolves only once the batch is durable at the destination.
    /// A permanent error about one event sends that event to the dead letters and the
    /// rest of the batch is offered again. `progress` is this batch's own memory (what
    /// an earlier offer of it already sent): a sink that sends a batch in several
    /// requests keeps there what is in, and sends only the rest.
    fn deliver<'a>(
        &'a mut self,
        batch: &'a Batch,
        progress: &'a mut Progress,
    ) -> DeliveryFuture<'a>;
}
