//! `type = "console"`: events on stdout, one per line; diagnostics never go there.

use super::{Batch, DeliveryFuture, Sink, SinkError};
use std::sync::Arc;
use tokio::io::AsyncWriteExt;

/// Writes events to stdout and flushes after each batch.
#[derive(Debug)]
pub struct ConsoleSink {
    name: Arc<str>,
    stdout: tokio::io::Stdout,
}

impl ConsoleSink {
    /// A console sink.
    pub fn new(name: &str) -> Self {
        ConsoleSink {
            name: name.into(),
            stdout: tokio::io::stdout(),
        }
    }
}

impl Sink for ConsoleSink {
    fn deliver<'a>(&'a mut self, batch: &'a Batch) -> DeliveryFuture<'a> {
        Box::pin(async move {
            let failed = |error: std::io::Error| SinkError {
                sink: self.name.clone(),
                message: format!("stdout: {error}"),
            };
            self.stdout.write_all(&batch.lines).await.map_err(failed)?;
            self.stdout.flush().await.map_err(failed)
        })
    }
}
