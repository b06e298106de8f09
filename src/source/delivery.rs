//! Handing a batch to every sink, retrying the ones that refuse it, with the same
//! backoff policy type (and jitter) as Graph requests.

use super::{RunMode, SourceError};
use crate::event::Batch;
use crate::retry::{RetryPolicy, full_jitter};
use crate::shutdown::Shutdown;
use crate::sinks::{SinkError, SinkHandle};
use backon::Retryable;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;
// tokio's clock (the real one outside tests): a sink's retry_max_duration follows
// paused time in tests.
use tokio::time::Instant;

/// How a source keeps offering a batch to a sink that refuses it.
#[derive(Debug, Clone, Copy)]
pub struct SinkRetry {
    /// The backoff between offers. Its `max_retries` is not used: a sink is offered
    /// the batch until it accepts, or (`Once`) until its `retry_max_duration` ends.
    pub policy: RetryPolicy,
    /// `Once` (which must end) gives up on a sink once its `retry_max_duration` has
    /// passed. `Forever` waits for it: a long-running agent stalls rather than skip,
    /// since Graph is the replay buffer.
    pub mode: RunMode,
}

impl SinkRetry {
    /// Whether a refusing sink is given up on after its `retry_max_duration`.
    fn bounded(&self) -> bool {
        self.mode == RunMode::Once
    }
}

/// Why one offer did not reach every sink.
#[derive(Debug)]
enum Failure {
    /// These sinks refused (the others have the batch and are not offered it again).
    Refused {
        errors: Vec<SinkError>,
        /// A permanent error, or a bounded sink out of time: stop now.
        give_up: bool,
        /// The least time a bounded refusing sink has left.
        time_left: Option<Duration>,
        /// The latest "not before" a refusing sink asked for (its `Retry-After`).
        not_before: Option<tokio::time::Instant>,
    },
    /// Shutdown came during the wait.
    Interrupted,
    /// A delivery task died.
    Internal(String),
}

/// Offers `batch` once to every sink in `pending`, leaving there those that refused.
async fn offer(
    pending: &Mutex<Vec<SinkHandle>>,
    batch: &Arc<Batch>,
    retry: SinkRetry,
    started: Instant,
) -> Result<(), Failure> {
    let sinks = std::mem::take(&mut *pending.lock().unwrap_or_else(PoisonError::into_inner));
    let mut tasks = tokio::task::JoinSet::new();
    for sink in sinks {
        let batch = batch.clone();
        tasks.spawn(async move {
            let result = sink.deliver(batch).await;
            (sink, result)
        });
    }
    let (mut refused, mut errors) = (Vec::new(), Vec::new());
    while let Some(joined) = tasks.join_next().await {
        let (sink, result) = joined.map_err(|error| Failure::Internal(error.to_string()))?;
        if let Err(error) = result {
            refused.push(sink);
            errors.push(error);
        }
    }
    if errors.is_empty() {
        return Ok(());
    }
    let elapsed = started.elapsed();
    let out_of_time = retry.bounded()
        && refused
            .iter()
            .any(|sink| elapsed >= sink.retry_max_duration());
    let time_left = refused
        .iter()
        .filter(|_| retry.bounded())
        .map(|sink| sink.retry_max_duration().saturating_sub(elapsed))
        .min();
    let not_before = errors.iter().filter_map(|error| error.not_before).max();
    *pending.lock().unwrap_or_else(PoisonError::into_inner) = refused;
    Err(Failure::Refused {
        not_before,
        give_up: out_of_time || errors.iter().any(|error| !error.is_retryable()),
        errors,
        time_left,
    })
}

/// How long to wait before the next offer: the backoff's (jittered) delay, but never
/// before a refusing sink's "not before" (its `Retry-After`); cut to the time a bounded
/// sink has left, and `None` (give up now) when what the sink asked for is past that.
fn next_delay(failure: &Failure, delay: Duration) -> Option<Duration> {
    let Failure::Refused {
        time_left,
        not_before,
        ..
    } = failure
    else {
        return Some(delay);
    };
    let asked = not_before.map(|at| at.saturating_duration_since(tokio::time::Instant::now()));
    let delay = delay.max(asked.unwrap_or_default());
    match time_left {
        Some(left) if asked.is_some_and(|asked| asked > *left) => None,
        Some(left) => Some(delay.min(*left)),
        None => Some(delay),
    }
}

/// Delivers `batch` to every sink. A sink that fails with a retryable error is offered
/// the batch again with backoff (only it: the others already have it); a permanent
/// error fails at once. Giving up or shutting down commits nothing, so the batch is
/// read again on the next poll or after a restart.
pub(super) async fn deliver_to_all(
    sinks: &[SinkHandle],
    batch: Arc<Batch>,
    retry: SinkRetry,
    shutdown: &Shutdown,
) -> Result<(), SourceError> {
    let pending = Mutex::new(sinks.to_vec());
    let started = Instant::now();
    let mut offers = 0usize;
    let attempt = || {
        offers += 1;
        let first = offers == 1;
        let (pending, batch) = (&pending, &batch);
        async move {
            if !first && shutdown.is_triggered() {
                return Err(Failure::Interrupted);
            }
            offer(pending, batch, retry, started).await
        }
    };
    let waiting = shutdown.clone();
    let result = attempt
        .retry(retry.policy.backoff().without_max_times())
        .sleep(move |delay| {
            let mut shutdown = waiting.clone();
            async move {
                tokio::select! {
                    () = tokio::time::sleep(delay) => {}
                    () = shutdown.triggered() => {}
                }
            }
        })
        .when(|failure| matches!(failure, Failure::Refused { give_up: false, .. }))
        .adjust(|failure, delay| next_delay(failure, full_jitter(delay?)))
        .notify(|failure, delay| {
            if let Failure::Refused { errors, .. } = failure {
                for error in errors {
                    tracing::warn!(sink = %error.sink, %error, retry_in = ?delay, "sink did not accept a batch; offering it again (the source waits, nothing is lost)");
                }
            }
        })
        .await;
    match result {
        Ok(()) => Ok(()),
        Err(Failure::Refused { errors, .. }) => {
            // A permanent error first: it is the reason to stop.
            let Some(error) = errors.into_iter().min_by_key(SinkError::is_retryable) else {
                return Err(SourceError::Internal("a refusal without an error".into()));
            };
            tracing::warn!(sink = %error.sink, %error, after = ?started.elapsed(), permanent = !error.is_retryable(),
                "giving up on a sink for this batch; nothing of it is committed");
            Err(SourceError::Sink(error))
        }
        Err(Failure::Interrupted) => Err(SourceError::Interrupted),
        Err(Failure::Internal(message)) => Err(SourceError::Internal(message)),
    }
}

#[cfg(test)]
#[path = "delivery_tests.rs"]
mod tests;
