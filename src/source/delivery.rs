//! Handing a batch to every sink, retrying the ones that refuse it until they accept.

use super::SourceError;
use crate::shutdown::Shutdown;
use crate::sinks::{Batch, SinkHandle};
use std::sync::Arc;
use std::time::Duration;

/// Delivers `batch` to every sink. A sink that fails is retried with backoff (only
/// it: the others already have the batch) until it accepts, or until shutdown, in
/// which case nothing is committed and the batch is read again after a restart.
pub(super) async fn deliver_to_all(
    sinks: &[SinkHandle],
    batch: Arc<Batch>,
    shutdown: &mut Shutdown,
) -> Result<(), SourceError> {
    let mut pending: Vec<SinkHandle> = sinks.to_vec();
    let mut delay = Duration::from_millis(500);
    loop {
        let mut tasks = tokio::task::JoinSet::new();
        for sink in pending.drain(..) {
            let batch = batch.clone();
            tasks.spawn(async move {
                let result = sink.deliver(batch).await;
                (sink, result)
            });
        }
        while let Some(joined) = tasks.join_next().await {
            let (sink, result) =
                joined.map_err(|error| SourceError::Internal(error.to_string()))?;
            if let Err(error) = result {
                tracing::warn!(sink = sink.name(), %error, retry_in = ?delay, "sink did not accept a batch; retrying it (the source waits, nothing is lost)");
                pending.push(sink);
            }
        }
        if pending.is_empty() {
            return Ok(());
        }
        tokio::select! {
            () = tokio::time::sleep(delay) => {}
            () = shutdown.triggered() => return Err(SourceError::Interrupted),
        }
        delay = (delay * 2).min(Duration::from_secs(30));
    }
}
