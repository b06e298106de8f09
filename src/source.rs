//! One configured source: plans windows, reads their pages, drops rows already
//! delivered, hands each page's new rows to every sink, and commits progress only
//! after all of them accepted.

mod build;
pub mod config;
mod delivery;
mod dialout;
mod directory;
mod error;
mod fetch;
mod month;
mod page;
mod progress;
mod recent;
mod run;

pub use build::{BuildError, PageBuffers, RunMode, SourceContext, build, pace_member};
pub use config::SourceConfig;
pub use delivery::SinkRetry;
pub use directory::DirectoryConfig;
pub use error::SourceError;
pub use progress::PollSummary;

use crate::graph::GraphClient;
use crate::metrics::{Metrics, SourceTelemetry};
use crate::planner::{SweepLadder, Window, plan};
use crate::shutdown::Shutdown;
use crate::sinks::SinkHandle;
use crate::state::{Commit, SourceState};
use crate::time::{Clock, SharedClock, SystemClock, Timestamp};
use std::sync::Arc;
use std::time::Duration;

/// A source, ready to poll.
#[derive(Debug)]
pub struct Source {
    name: Arc<str>,
    config: SourceConfig,
    client: Arc<GraphClient>,
    state: SourceState,
    sinks: Vec<SinkHandle>,
    clock: SharedClock,
    shutdown: Shutdown,
    sink_retry: SinkRetry,
    mode: RunMode,
    metrics: Arc<Metrics>,
    telemetry: SourceTelemetry,
    ladder: SweepLadder,
    cursors: Vec<Timestamp>,
    preparer: page::Preparer,
}

impl Source {
    /// The source's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Reads every window due now, delivering and committing page by page.
    async fn poll_once(&mut self) -> Result<PollSummary, SourceError> {
        let result = self.poll_windows().await;
        if !matches!(result, Err(SourceError::Interrupted)) {
            self.telemetry.poll_done(
                result.as_ref().err().map(SourceError::readiness_reason),
                self.backlog(),
            );
            self.refresh_plan_usage().await;
            self.refresh_chargeback_month().await;
        }
        result
    }

    /// Lets a running directory round end (`--once`: the process is about to exit,
    /// and a round cut short would start from scratch next time).
    async fn finish_directory_round(&mut self) {
        if let Some(directory) = &mut self.preparer.directory {
            directory.finish_round(&self.shutdown).await;
        }
    }

    /// How far the slowest sweep is behind the start times it owes a read.
    fn backlog(&self) -> Duration {
        let now = self.clock.now();
        self.ladder
            .delays()
            .iter()
            .zip(&self.cursors)
            .map(|(delay, cursor)| now.saturating_sub(*delay).duration_since(*cursor))
            .max()
            .unwrap_or_default()
    }

    /// How many windows are fetched at once: enough to reach the pace when Graph is
    /// slow, at most 8 (together they hold at most two pages ahead of the source:
    /// `fetch::PAGES_AHEAD`).
    fn fetch_concurrency(&self) -> usize {
        self.config.fetch_concurrency()
    }

    async fn poll_windows(&mut self) -> Result<PollSummary, SourceError> {
        if self.config.kind.is_report() {
            return self.poll_report().await;
        }
        if let Some(directory) = &mut self.preparer.directory {
            directory
                .before_poll(self.config.poll_interval, &self.shutdown)
                .await;
        }
        let now = self.clock.now();
        // Three windows per chain: a busy window does not leave the other chains idle.
        let windows = plan(
            &self.ladder,
            &self.cursors,
            now,
            3 * self.fetch_concurrency(),
        );
        let name = self.name.clone();
        for window in &windows {
            tracing::debug!(source = %self.name, sweep = window.sweep, sweeps = window.moves.len(), from = %window.from, to = %window.to, "window planned");
        }
        let mut progress = progress::Progress::new(
            &name,
            &windows,
            self.config.poll_interval,
            self.config.requests_per_minute,
            progress::REPORT_EVERY,
        );
        let mut fetcher = fetch::Fetcher::new(
            self.client.clone(),
            windows.clone(),
            self.fetch_concurrency(),
        );
        let mut done = vec![false; windows.len()];
        // windows[..prefix] are read, delivered and their cursors committed.
        let mut prefix = 0;
        while prefix < windows.len() {
            if self.shutdown.is_triggered() {
                return Err(SourceError::Interrupted);
            }
            let fetched = tokio::select! {
                fetched = fetcher.next() => fetched,
                () = self.shutdown.triggered() => return Err(SourceError::Interrupted),
            };
            let fetched = fetched?;
            // A sweep's cursor moves only over windows that are all done, in order, so
            // a window left half-read is read again (its delivered ids are on record).
            let cursors = if fetched.last {
                done[fetched.window] = true;
                cursors_done(&windows, &done, prefix, self.ladder.delays())
            } else {
                Vec::new()
            };
            let page_summary = self.deliver_page(&fetched.page, cursors).await?;
            progress.page_done(&page_summary);
            if fetched.last {
                while prefix < windows.len() && done[prefix] {
                    for (sweep, to) in &windows[prefix].moves {
                        self.cursors[*sweep] = *to;
                    }
                    prefix += 1;
                }
                progress.window_done();
                tracing::debug!(source = %self.name, window = fetched.window, "window read, delivered and committed");
                self.telemetry
                    .window_done(SystemClock.now().as_unix_seconds_f64());
                fetcher.start_next();
            }
        }
        if let Some(oldest) = self.cursors.iter().min().copied() {
            let shutdown = self.shutdown.clone();
            self.state
                .prune(oldest, move || !shutdown.is_triggered())
                .await?;
        }
        Ok(progress.finish())
    }

    /// Delivers one page's new rows to every sink, then commits their ids (and any
    /// sweep cursors that may now move) in one transaction.
    async fn deliver_page(
        &mut self,
        page: &crate::graph::Page,
        cursors: Vec<(Duration, Timestamp)>,
    ) -> Result<PollSummary, SourceError> {
        let observed = self.clock.now();
        let prepared = self.preparer.prepare(page, observed).await?;
        let summary = PollSummary {
            windows: 0,
            pages: 1,
            rows_read: page.len() as u64,
            rows_new: prepared.delivered.len() as u64,
            duplicates: prepared.duplicates,
            bad_rows: prepared.bad_rows,
        };
        if let Some(batch) = prepared.batch {
            delivery::deliver_to_all(
                &self.sinks,
                Arc::new(batch),
                self.sink_retry,
                &self.shutdown,
            )
            .await?;
        }
        let commit = Commit {
            delivered: prepared.delivered,
            cursors,
            plan_usage: prepared.plan_usage,
            chargeback: prepared.chargeback,
        };
        let (rows, cursors) = (commit.delivered.len(), commit.cursors.len());
        let started = std::time::Instant::now();
        let committed = recent::RecentKeys::pending(&commit.delivered);
        self.state.commit(commit).await?;
        self.preparer.recent.remember(committed);
        tracing::debug!(source = %self.name, rows, cursors, took_ms = started.elapsed().as_millis() as u64, "state committed");
        // Counted only now: every sink accepted and the delivery is on record.
        self.metrics.calls.record(
            self.config.metrics_id(),
            self.config.kind,
            &prepared.facts,
            &prepared.chargeback_groups,
        );
        self.metrics.calls.record_lateness(
            self.config.metrics_id(),
            self.config.kind,
            observed,
            &prepared.facts,
        );
        self.telemetry
            .page_read(page.len() as u64, prepared.duplicates);
        self.preparer.give_back(prepared.facts);
        Ok(summary)
    }
}

/// The sweep cursors that move once the windows read in order from `prefix` on are
/// committed: a sweep's cursor moves only over windows that are all done, in order.
fn cursors_done(
    windows: &[Window],
    done: &[bool],
    prefix: usize,
    delays: &[Duration],
) -> Vec<(Duration, Timestamp)> {
    windows[prefix..]
        .iter()
        .zip(&done[prefix..])
        .take_while(|(_, done)| **done)
        .flat_map(|(window, _)| window.moves.iter().map(|(sweep, to)| (delays[*sweep], *to)))
        .collect()
}
