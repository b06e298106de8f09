//! The task that runs one sink: it takes batches from every source that feeds the
//! sink, one at a time, and answers each. An event the sink reports as permanently
//! unacceptable is written to the sink's dead letters and the rest of the batch is
//! offered again without it, so one bad event never holds back the others.

use super::{Batch, DeadLetters, Progress, Sink, SinkError};
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
    dead_letters: DeadLetters,
}

/// What the task remembers of one batch in flight: the events it already
/// dead-lettered (indices into that batch) and the sink's own memory of it. Kept until
/// the batch is accepted or given up (its source drops it), never cleared by another
/// batch: two sources feeding one sink each have one in flight.
struct InFlight {
    batch: Weak<Batch>,
    dead_lettered: Vec<usize>,
    progress: Progress,
}

/// The task's side of one sink.
struct Runner {
    name: Arc<str>,
    sink: Box<dyn Sink>,
    dead_letters: DeadLetters,
    in_flight: Vec<InFlight>,
}

/// How one batch ended at the sink: the events delivered (the rest were dead-lettered).
#[derive(Debug, Clone, Copy)]
struct Outcome {
    delivered: usize,
}

impl Runner {
    /// Delivers `batch` with its own memory, which is dropped once the batch is
    /// accepted or can never be; a retryable failure keeps it for the next offer.
    async fn deliver(&mut self, batch: &Arc<Batch>) -> Result<Outcome, SinkError> {
        // Batches whose source let go of them (accepted everywhere, or given up).
        self.in_flight
            .retain(|entry| entry.batch.strong_count() > 0);
        let position = self
            .in_flight
            .iter()
            .position(|entry| Weak::ptr_eq(&entry.batch, &Arc::downgrade(batch)));
        let mut entry = match position {
            Some(position) => self.in_flight.swap_remove(position),
            None => InFlight {
                batch: Arc::downgrade(batch),
                dead_lettered: Vec::new(),
                progress: Progress::default(),
            },
        };
        let result = self.deliver_with(batch, &mut entry).await;
        if matches!(&result, Err(error) if error.is_retryable()) {
            self.in_flight.push(entry);
        }
        result
    }

    /// Offers what is left of `batch`, dead-lettering the events the sink can never take.
    async fn deliver_with(
        &mut self,
        batch: &Arc<Batch>,
        entry: &mut InFlight,
    ) -> Result<Outcome, SinkError> {
        loop {
            let skipped = &entry.dead_lettered;
            let remaining: Vec<usize> = (0..batch.events.len())
                .filter(|index| !skipped.contains(index))
                .collect();
            let outcome = Outcome {
                delivered: remaining.len(),
            };
            if remaining.is_empty() {
                return Ok(outcome);
            }
            let result = if skipped.is_empty() {
                self.sink.deliver(batch, &mut entry.progress).await
            } else {
                let rest = batch.without(skipped);
                self.sink.deliver(&rest, &mut entry.progress).await
            };
            let error = match result {
                Ok(()) => return Ok(outcome),
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
            entry.dead_lettered.push(index);
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
            dead_letters: dead_letters.clone(),
            in_flight: Vec::new(),
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
                let delivered = result.as_ref().map_or(0, |outcome| outcome.delivered);
                telemetry.batch(delivered, failure);
                let _ = delivery.acknowledge.send(result.map(|_| ()));
            }
        });
        (
            SinkHandle {
                name: name.into(),
                sender,
                retry_max_duration,
                dead_letters,
            },
            task,
        )
    }

    #[cfg(any(test, feature = "__internals"))]
    /// The sink's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Its dead letters (how many this process wrote: the `--once` summary).
    pub fn dead_letters(&self) -> &DeadLetters {
        &self.dead_letters
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
