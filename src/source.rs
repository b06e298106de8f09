//! One configured source: plans windows, reads their pages, drops rows already
//! delivered, hands each page's new rows to every sink, and commits progress only
//! after all of them accepted.

mod delivery;
mod dialout;
mod directory;
mod error;
mod fetch;
mod month;
mod page;
mod progress;

pub use delivery::SinkRetry;
pub use error::{SourceError, SourceOutcome};
pub use progress::PollSummary;

use crate::config::SourceConfig;
use crate::event::EventEncoder;
use crate::graph::GraphClient;
use crate::metrics::{Metrics, SourceTelemetry};
use crate::planner::{SweepLadder, plan};
use crate::shutdown::Shutdown;
use crate::sinks::SinkHandle;
use crate::state::{Commit, SourceState, StateError};
use crate::time::{Clock, SharedClock, SystemClock, Timestamp};
use std::sync::Arc;
use std::time::Duration;

/// Everything a source needs, built by the topology.
#[derive(Debug)]
pub struct SourceParts {
    /// Its configuration.
    pub config: SourceConfig,
    /// Its Graph client.
    pub client: GraphClient,
    /// Its state.
    pub state: SourceState,
    /// The sinks named with it in their `inputs`.
    pub sinks: Vec<SinkHandle>,
    /// Where "now" comes from.
    pub clock: SharedClock,
    /// When to stop.
    pub shutdown: Shutdown,
    /// How long to keep offering a batch to a refusing sink.
    pub sink_retry: SinkRetry,
    /// Where calls are counted once delivered.
    pub metrics: Arc<Metrics>,
    /// This source's own health metrics (shared with its Graph client).
    pub telemetry: SourceTelemetry,
}

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
    metrics: Arc<Metrics>,
    telemetry: SourceTelemetry,
    ladder: SweepLadder,
    cursors: Vec<Timestamp>,
    preparer: page::Preparer,
}

async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, StateError> + Send + 'static,
) -> Result<T, SourceError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|error| SourceError::Internal(error.to_string()))?
        .map_err(SourceError::State)
}

impl Source {
    /// Loads the source's cursors (first run: `now - lookback`) and readies it.
    pub async fn new(parts: SourceParts) -> Result<Source, SourceError> {
        let SourceParts {
            config,
            client,
            state,
            sinks,
            clock,
            shutdown,
            sink_retry,
            metrics,
            telemetry,
        } = parts;
        let ladder =
            SweepLadder::bounded(config.poll_interval, config.late_window, config.max_delay);
        let stored = {
            let state = state.clone();
            blocking(move || state.cursors()).await?
        };
        let delays = ladder.delays().to_vec();
        // A report is read by UTC day, not by sweeps: it keeps no cursors.
        let cursors = if config.kind.is_report() {
            Vec::new()
        } else if stored
            .iter()
            .map(|(delay, _)| *delay)
            .eq(delays.iter().copied())
        {
            stored.iter().map(|(_, cursor)| *cursor).collect()
        } else {
            let cursors = match ladder.adopt(&stored) {
                Some(adopted) => {
                    tracing::info!(source = %config.name, "sweep schedule changed (poll_interval, late_window or max_delay); carrying progress over");
                    adopted
                }
                None => {
                    let now = clock.now();
                    tracing::info!(source = %config.name, from = %now.saturating_sub(config.lookback), "first run: reading from now - lookback");
                    ladder.initial_cursors(now, config.lookback)
                }
            };
            let rows: Vec<(Duration, Timestamp)> = delays
                .iter()
                .copied()
                .zip(cursors.iter().copied())
                .collect();
            let state = state.clone();
            blocking(move || state.replace_cursors(&rows)).await?;
            cursors
        };
        let name: Arc<str> = config.name.as_str().into();
        let client = Arc::new(client);
        let directory = match &config.directory {
            Some(directory_config) => {
                metrics.calls.enable_chargeback(
                    &config.name,
                    config.kind,
                    directory_config.max_label_values,
                );
                let state = state.clone();
                let directory_state = blocking(move || state.directory()).await?;
                Some(directory::Directory::new(
                    name.clone(),
                    directory_config,
                    client.clone(),
                    directory_state,
                    clock.clone(),
                ))
            }
            None => None,
        };
        Ok(Source {
            name,
            preparer: page::Preparer {
                source: config.name.as_str().into(),
                kind: config.kind,
                encoder: EventEncoder::new(&config.name, &config.tenant_id, config.kind),
                state: state.clone(),
                telemetry: telemetry.clone(),
                bad_rows: page::BadRowLog::default(),
                directory,
            },
            config,
            client,
            state,
            sinks,
            clock,
            shutdown,
            sink_retry,
            ladder,
            cursors,
            metrics,
            telemetry,
        })
    }

    /// The source's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Reads every window due now, delivering and committing page by page.
    pub async fn poll_once(&mut self) -> Result<PollSummary, SourceError> {
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
    pub async fn finish_directory_round(&mut self) {
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
    /// slow, at most 8 (each holds about one page in memory).
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
            let mut cursors = Vec::new();
            if fetched.last {
                done[fetched.window] = true;
                let mut next = prefix;
                while next < windows.len() && done[next] {
                    for (sweep, to) in &windows[next].moves {
                        cursors.push((self.ladder.delays()[*sweep], *to));
                    }
                    next += 1;
                }
            }
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
            let (state, shutdown) = (self.state.clone(), self.shutdown.clone());
            blocking(move || state.prune(oldest, || !shutdown.is_triggered())).await?;
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
        let (state, rows, cursors) = (
            self.state.clone(),
            commit.delivered.len(),
            commit.cursors.len(),
        );
        let started = std::time::Instant::now();
        blocking(move || state.commit(&commit)).await?;
        tracing::debug!(source = %self.name, rows, cursors, took_ms = started.elapsed().as_millis() as u64, "state committed");
        // Counted only now: every sink accepted and the delivery is on record.
        self.metrics
            .calls
            .record(&self.name, self.config.kind, &prepared.facts);
        self.metrics
            .calls
            .record_lateness(&self.name, self.config.kind, observed, &prepared.facts);
        self.telemetry
            .page_read(page.len() as u64, prepared.duplicates);
        Ok(summary)
    }

    /// Polls every `poll_interval` until shutdown or a permanent error.
    pub async fn run(mut self) -> SourceOutcome {
        loop {
            let started = tokio::time::Instant::now();
            match self.poll_once().await {
                Ok(summary) if summary.rows_new > 0 || summary.bad_rows > 0 => {
                    tracing::info!(source = %self.name, rows_new = summary.rows_new, rows_read = summary.rows_read, duplicates = summary.duplicates, bad_rows = summary.bad_rows, pages = summary.pages, "poll done");
                }
                Ok(summary) => {
                    tracing::debug!(source = %self.name, pages = summary.pages, "poll done, nothing new")
                }
                Err(SourceError::Interrupted) => return SourceOutcome::Stopped,
                Err(error) if error.stops_source() => {
                    if matches!(error, SourceError::Sink(_)) {
                        tracing::error!(source = %self.name, %error, "source stopped: a sink can never take a batch again (was its output closed?); what was delivered is committed");
                    } else {
                        tracing::error!(source = %self.name, %error, "source stopped: this cannot succeed until the configuration is fixed");
                    }
                    return SourceOutcome::Failed(error);
                }
                Err(error) => {
                    tracing::error!(source = %self.name, %error, "poll failed; progress is kept and the next poll retries")
                }
            }
            let wait = self.clock.real_duration(self.config.poll_interval);
            tokio::select! {
                () = tokio::time::sleep_until(started + wait) => {}
                () = self.shutdown.triggered() => return SourceOutcome::Stopped,
            }
        }
    }
}
