//! `type = "console"`: events on stdout, one per line; diagnostics never go there.
//! A closed stdout (the reader went away: EPIPE) can never take the batch, so it is a
//! permanent error; anything else may pass and is retried.

use super::{Batch, DeliveryFuture, Progress, Sink, SinkError};
use std::sync::{Arc, OnceLock};
use tokio::io::AsyncWriteExt;

/// Called instead of failing when stdout's reader went away, if set: `pstn-agent demo`
/// (`demo | head -3`) then ends quietly with status 0, as a pipeline's writer should.
static ON_READER_GONE: OnceLock<fn()> = OnceLock::new();

/// Makes a closed stdout call `hook` (which is expected to end the process) instead of
/// being a sink failure. Set once, by the demo; the agent itself never sets it.
#[cfg(feature = "simulator")]
pub fn when_reader_gone(hook: fn()) {
    let _ = ON_READER_GONE.set(hook);
}

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
    fn deliver<'a>(&'a mut self, batch: &'a Batch, _: &'a mut Progress) -> DeliveryFuture<'a> {
        Box::pin(async move {
            let failed = |error: std::io::Error| match error.kind() {
                std::io::ErrorKind::BrokenPipe => {
                    if let Some(hook) = ON_READER_GONE.get() {
                        hook();
                    }
                    SinkError::permanent(&self.name, "stdout", error)
                }
                _ => SinkError::retryable(&self.name, "stdout", error),
            };
            self.stdout.write_all(&batch.lines).await.map_err(failed)?;
            self.stdout.flush().await.map_err(failed)
        })
    }
}
