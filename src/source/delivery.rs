//! Handing a batch to every sink, retrying the ones that refuse it.

use super::SourceError;
use crate::shutdown::Shutdown;
use crate::sinks::{Batch, SinkHandle};
use std::sync::Arc;
use std::time::Duration;

/// How long a source keeps offering a batch to a sink that refuses it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SinkRetry {
    /// First wait before offering the batch again.
    pub min_delay: Duration,
    /// Longest wait between offers.
    pub max_delay: Duration,
    /// Offers after the first before giving up; `None` waits for the sink forever
    /// (a long-running agent stalls rather than skip: Graph is the replay buffer).
    pub max_retries: Option<usize>,
}

/// Delivers `batch` to every sink. A sink that fails is offered the batch again with
/// backoff (only it: the others already have it). Giving up or shutting down commits
/// nothing, so the batch is read again on the next poll or after a restart.
pub(super) async fn deliver_to_all(
    sinks: &[SinkHandle],
    batch: Arc<Batch>,
    retry: SinkRetry,
    shutdown: &mut Shutdown,
) -> Result<(), SourceError> {
    let mut pending: Vec<SinkHandle> = sinks.to_vec();
    let mut delay = retry.min_delay;
    let mut retries = 0usize;
    loop {
        let mut tasks = tokio::task::JoinSet::new();
        for sink in pending.drain(..) {
            let batch = batch.clone();
            tasks.spawn(async move {
                let result = sink.deliver(batch).await;
                (sink, result)
            });
        }
        let mut last_error = None;
        while let Some(joined) = tasks.join_next().await {
            let (sink, result) =
                joined.map_err(|error| SourceError::Internal(error.to_string()))?;
            if let Err(error) = result {
                tracing::warn!(sink = sink.name(), %error, retry_in = ?delay, "sink did not accept a batch; offering it again (the source waits, nothing is lost)");
                pending.push(sink);
                last_error = Some(error);
            }
        }
        let Some(error) = last_error else {
            return Ok(());
        };
        if retry.max_retries.is_some_and(|max| retries >= max) {
            return Err(SourceError::Sink(error));
        }
        retries += 1;
        tokio::select! {
            () = tokio::time::sleep(delay) => {}
            () = shutdown.triggered() => return Err(SourceError::Interrupted),
        }
        delay = (delay * 2).min(retry.max_delay);
    }
}
