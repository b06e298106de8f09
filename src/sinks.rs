//! Where events go. A sink takes a batch and answers only when the batch is safe
//! (console: written and flushed; file: written and fsynced): the source commits its
//! progress only after every sink of the batch said so.

mod console;
mod file;
mod otlp;
mod redact;

pub use console::ConsoleSink;
pub use file::{FileSink, ReopenSignal};
pub use otlp::{OtlpSink, http_logs_url};
pub use redact::RedactingSink;

use crate::metrics::SinkTelemetry;
use crate::model::LogKind;
use crate::time::Timestamp;
use std::future::Future;
use std::ops::Range;
use std::pin::Pin;
use std::sync::Arc;
use tokio::sync::{mpsc, oneshot};

/// The future a sink returns for one batch.
pub type DeliveryFuture<'a> = Pin<Box<dyn Future<Output = Result<(), SinkError>> + Send + 'a>>;

/// Events of one page of one source, encoded as JSON lines.
#[derive(Debug, Clone)]
pub struct Batch {
    /// The source's name.
    pub source: Arc<str>,
    /// Which call log.
    pub kind: LogKind,
    /// The events, one JSON object per line, each ending in `\n`.
    pub lines: bytes::Bytes,
    /// Where each event is in `lines`, with its call's start.
    pub events: Vec<EventSpan>,
}

/// One event's place in a batch.
#[derive(Debug, Clone)]
pub struct EventSpan {
    /// Byte range of the line (newline included).
    pub line: Range<usize>,
    /// The call's start.
    pub call_start: Timestamp,
    /// When the agent read the row.
    pub observed: Timestamp,
}

/// Why a sink did not accept a batch (the source will retry it).
#[derive(Debug, Clone, thiserror::Error)]
#[error("sink {sink}: {message}")]
pub struct SinkError {
    /// The sink's name.
    pub sink: Arc<str>,
    /// What went wrong.
    pub message: String,
}

/// A destination for batches: OTLP and others plug in here.
pub trait Sink: Send + 'static {
    /// Delivers a batch; resolves only once the batch is durable at the destination.
    fn deliver<'a>(&'a mut self, batch: &'a Batch) -> DeliveryFuture<'a>;
}

struct Delivery {
    batch: Arc<Batch>,
    acknowledge: oneshot::Sender<Result<(), SinkError>>,
}

/// A running sink task, shared by every source that feeds it.
#[derive(Debug, Clone)]
pub struct SinkHandle {
    name: Arc<str>,
    sender: mpsc::Sender<Delivery>,
}

impl std::fmt::Debug for Delivery {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Delivery")
            .field("events", &self.batch.events.len())
            .finish()
    }
}

impl SinkHandle {
    /// Starts the sink's task; it ends when every handle is dropped.
    pub fn spawn(
        name: &str,
        mut sink: Box<dyn Sink>,
        telemetry: SinkTelemetry,
    ) -> (SinkHandle, tokio::task::JoinHandle<()>) {
        let (sender, mut receiver) = mpsc::channel::<Delivery>(4);
        let task = tokio::spawn(async move {
            while let Some(delivery) = receiver.recv().await {
                let result = sink.deliver(&delivery.batch).await;
                telemetry.batch(
                    delivery.batch.events.len(),
                    result.as_ref().err().map(ToString::to_string),
                );
                let _ = delivery.acknowledge.send(result);
            }
        });
        (
            SinkHandle {
                name: name.into(),
                sender,
            },
            task,
        )
    }

    /// The sink's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Hands a batch to the sink and waits for its answer.
    pub async fn deliver(&self, batch: Arc<Batch>) -> Result<(), SinkError> {
        let stopped = || SinkError {
            sink: self.name.clone(),
            message: "sink task stopped".into(),
        };
        let (acknowledge, answer) = oneshot::channel();
        self.sender
            .send(Delivery { batch, acknowledge })
            .await
            .map_err(|_| stopped())?;
        answer.await.map_err(|_| stopped())?
    }
}
