//! The task that runs one sink: it takes batches from every source that feeds the
//! sink, one at a time, and answers each. An event the sink reports as permanently
//! unacceptable is written to the sink's dead letters and the rest of the batch is
//! offered again without it, so one bad event never holds back the others.

use super::{Batch, DeadLetters, Sink, SinkError};
use crate::metrics::SinkTelemetry;
use std::sync::{Arc, Weak};
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};

/// What a sink's task needs besides the sink.
#[derive(Debug, Clone)]
pub struct SinkTaskOptions {
    /// Its batch metrics and readiness.
    pub telemetry: SinkTelemetry,
    /// Where its dead letters go.
    pub dead_letters: DeadLetters,
    /// How long `--once` keeps offering a batch it refuses (`retry_max_duration`).
    pub retry_max_duration: Duration,
}

struct Delivery {
    batch: Arc<Batch>,
    acknowledge: oneshot::Sender<Result<(), SinkError>>,
}

impl std::fmt::Debug for Delivery {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Delivery")
            .field("events", &self.batch.events.len())
            .finish()
    }
}

/// A running sink task, shared by every source that feeds it.
#[derive(Debug, Clone)]
pub struct SinkHandle {
    name: Arc<str>,
    sender: mpsc::Sender<Delivery>,
    retry_max_duration: Duration,
}

/// The events of the last batch already dead-lettered, so that offering that batch
/// again (after a retryable failure of the rest) does not write them twice.
#[derive(Default)]
struct Skipped {
    batch: Weak<Batch>,
    events: Vec<usize>,
}

/// The task's side of one sink.
struct Runner {
    name: Arc<str>,
    sink: Box<dyn Sink>,
    dead_letters: DeadLetters,
    skipped: Skipped,
}

impl Runner {
    /// Delivers `batch`, dead-lettering the events the sink can never take.
    async fn deliver(&mut self, batch: &Arc<Batch>) -> Result<usize, SinkError> {
        if !Weak::ptr_eq(&self.skipped.batch, &Arc::downgrade(batch)) {
            self.skipped = Skipped {
                batch: Arc::downgrade(batch),
                events: Vec::new(),
            };
        }
        loop {
            let skipped = &self.skipped.events;
            let remaining: Vec<usize> = (0..batch.events.len())
                .filter(|index| !skipped.contains(index))
                .collect();
            if remaining.is_empty() {
                return Ok(0);
            }
            let result = if skipped.is_empty() {
                self.sink.deliver(batch).await
            } else {
                self.sink.deliver(&batch.without(skipped)).await
            };
            let error = match result {
                Ok(()) => return Ok(remaining.len()),
                Err(error) => error,
            };
            let index = match error.event().and_then(|i| remaining.get(i).copied()) {
                Some(index) if !error.is_retryable() => index,
                _ => return Err(error),
            };
            let event = error
                .seen_as
                .clone()
                .unwrap_or_else(|| batch.lines.slice(batch.events[index].line.clone()));
            if let Err(io) = self.dead_letters.write(&event, &error.reason()).await {
                return Err(SinkError::retryable(
                    &self.name,
                    format!(
                        "cannot write a dead letter to {}",
                        self.dead_letters.path().display()
                    ),
                    io,
                ));
            }
            tracing::warn!(sink = %self.name, reason = %error.reason(), file = %self.dead_letters.path().display(),
                "an event this sink can never accept went to its dead letters; the rest of the batch goes on");
            self.skipped.events.push(index);
        }
    }
}

#[derive(Debug, thiserror::Error)]
#[error("the sink's task has stopped")]
struct Stopped;

impl SinkHandle {
    /// Starts the sink's task; it ends when every handle is dropped.
    pub fn spawn(
        name: &str,
        sink: Box<dyn Sink>,
        options: SinkTaskOptions,
    ) -> (SinkHandle, tokio::task::JoinHandle<()>) {
        let (sender, mut receiver) = mpsc::channel::<Delivery>(4);
        let SinkTaskOptions {
            telemetry,
            dead_letters,
            retry_max_duration,
        } = options;
        let mut runner = Runner {
            name: name.into(),
            sink,
            dead_letters,
            skipped: Skipped::default(),
        };
        let task = tokio::spawn(async move {
            while let Some(delivery) = receiver.recv().await {
                let started = std::time::Instant::now();
                let result = runner.deliver(&delivery.batch).await;
                tracing::debug!(sink = %runner.name, events = delivery.batch.events.len(), took_ms = started.elapsed().as_millis() as u64, accepted = result.is_ok(), "sink answered a batch");
                // /readyz shows a fixed text; the error itself goes to the log.
                let failure = result.as_ref().err().map(|error| {
                    if error.is_retryable() {
                        "last batch refused; offering it again".to_owned()
                    } else {
                        "last batch can never be accepted".to_owned()
                    }
                });
                telemetry.batch(*result.as_ref().unwrap_or(&0), failure);
                let _ = delivery.acknowledge.send(result.map(|_| ()));
            }
        });
        (
            SinkHandle {
                name: name.into(),
                sender,
                retry_max_duration,
            },
            task,
        )
    }

    #[cfg(any(test, feature = "__internals"))]
    /// The sink's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// How long `--once` keeps offering a batch this sink refuses.
    pub fn retry_max_duration(&self) -> Duration {
        self.retry_max_duration
    }

    /// Hands a batch to the sink and waits for its answer.
    pub async fn deliver(&self, batch: Arc<Batch>) -> Result<(), SinkError> {
        let stopped = || SinkError::permanent(&self.name, "delivery", Stopped);
        let (acknowledge, answer) = oneshot::channel();
        self.sender
            .send(Delivery { batch, acknowledge })
            .await
            .map_err(|_| stopped())?;
        answer.await.map_err(|_| stopped())?
    }
}

#[cfg(test)]
#[path = "handle_tests.rs"]
mod tests;
