//! How a built source runs, by its [`RunMode`]: one poll and the directory round it
//! started, or a poll every `poll_interval` until shutdown or a permanent error.

use super::{PollSummary, RunMode, Source, SourceError};

impl Source {
    /// Runs the source as its mode says. `Ok` when it ended as asked (one poll done,
    /// or shutdown: then with an empty summary); `Err` when a poll failed (`Once`)
    /// or a permanent error stopped it (`Forever`). Either way it is logged here.
    /// The modes borrow the source: an async fn taking it by value would keep a copy
    /// of its own in the task beside this one's (1.9 kB each, per tenant).
    pub async fn run(mut self) -> Result<PollSummary, SourceError> {
        match self.mode {
            RunMode::Once => self.run_once().await,
            RunMode::Forever => self.run_forever().await.map(|()| PollSummary::default()),
        }
    }

    /// One poll, then lets a running directory round end (the process is about to
    /// exit, and a round cut short would start from scratch next time).
    async fn run_once(&mut self) -> Result<PollSummary, SourceError> {
        let polled = Box::pin(self.poll_once()).await;
        self.finish_directory_round().await;
        match polled {
            Ok(summary) => {
                tracing::info!(source = %self.name, rows_new = summary.rows_new, rows_read = summary.rows_read, duplicates = summary.duplicates, bad_rows = summary.bad_rows, windows = summary.windows,
                    pages = summary.pages, "poll done");
                Ok(summary)
            }
            Err(SourceError::Interrupted) => Ok(PollSummary::default()),
            Err(error) => {
                tracing::error!(source = %self.name, %error, "poll failed");
                Err(error)
            }
        }
    }

    /// Polls every `poll_interval` until shutdown (`Ok`) or a permanent error.
    async fn run_forever(&mut self) -> Result<(), SourceError> {
        loop {
            let started = tokio::time::Instant::now();
            // Boxed: a poll's state lives on the heap while it runs, so a source
            // asleep between polls (a thousand tenants' tasks) holds only this loop's.
            match Box::pin(self.poll_once()).await {
                Ok(summary) if summary.rows_new > 0 || summary.bad_rows > 0 => {
                    tracing::info!(source = %self.name, rows_new = summary.rows_new, rows_read = summary.rows_read, duplicates = summary.duplicates, bad_rows = summary.bad_rows, pages = summary.pages, "poll done");
                }
                Ok(summary) => {
                    tracing::debug!(source = %self.name, pages = summary.pages, "poll done, nothing new")
                }
                Err(SourceError::Interrupted) => return Ok(()),
                Err(error) if error.is_fenced() => {
                    tracing::warn!(source = %self.name, %error, "write refused by the lease's fence: the lease moved on to another replica or ran out; nothing of the batch committed; the source waits for its lease");
                    return Err(error);
                }
                Err(error) if error.stops_source() => {
                    if matches!(error, SourceError::Sink(_)) {
                        tracing::error!(source = %self.name, %error, "source stopped: a sink can never take a batch again (was its output closed?); what was delivered is committed");
                    } else {
                        tracing::error!(source = %self.name, %error, "source stopped: this cannot succeed until the configuration is fixed");
                    }
                    return Err(error);
                }
                Err(error) => {
                    tracing::error!(source = %self.name, %error, "poll failed; progress is kept and the next poll retries")
                }
            }
            self.state.rest().await;
            let wait = self.clock.real_duration(self.config.poll_interval);
            tokio::select! {
                () = tokio::time::sleep_until(started + wait) => {}
                () = self.shutdown.triggered() => return Ok(()),
            }
        }
    }
}
