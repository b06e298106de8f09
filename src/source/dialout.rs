//! The audio-conferencing dial-out report (`pstn_dialout_report`): no row id, no
//! instant per row, only totals of a range. So it is read per UTC day, today and every
//! day still inside `late_window`, each poll; a row goes to the sinks when it first
//! appears and again whenever its totals differ from those last delivered, and those
//! totals are committed only after every sink accepted (Graph is the replay buffer: a
//! failure costs a re-read, never a change). The metrics grow by the change.

use super::{PollSummary, Source, SourceError, delivery};
use crate::event::Batch;
use crate::facts::DialoutGrowth;
use crate::graph::{ChainPage, Page};
use crate::model::{DialoutRow, DialoutTotals, day_start, day_text, next_day};
use crate::state::StoredTotals;
use crate::time::{Clock, SystemClock, Timestamp};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

/// The UTC days a poll at `now` reads, oldest first: the one holding
/// `now - late_window`, through today.
pub(super) fn report_days(now: Timestamp, late_window: Duration) -> Vec<Timestamp> {
    let today = day_start(now);
    let mut day = day_start(now.saturating_sub(late_window));
    let mut days = Vec::new();
    while day <= today {
        days.push(day);
        day = next_day(day);
    }
    days
}

fn stored(totals: DialoutTotals) -> StoredTotals {
    StoredTotals {
        calls: totals.calls,
        seconds: totals.seconds,
        charge_micros: totals.charge_micros,
    }
}

fn totals(stored: StoredTotals) -> DialoutTotals {
    DialoutTotals {
        calls: stored.calls,
        seconds: stored.seconds,
        charge_micros: stored.charge_micros,
    }
}

impl Source {
    /// Reads every day inside `late_window`, sends the rows that changed, commits
    /// their totals, and forgets days that fell out of the window.
    pub(super) async fn poll_report(&mut self) -> Result<PollSummary, SourceError> {
        let days = report_days(self.clock.now(), self.config.late_window);
        let mut summary = PollSummary::default();
        for day in &days {
            if self.shutdown.is_triggered() {
                return Err(SourceError::Interrupted);
            }
            let pages = self.read_day(*day).await?;
            summary.add(&self.deliver_day(*day, &pages).await?);
            tracing::debug!(source = %self.name, day = %day_text(*day), "report day read, delivered and committed");
            self.telemetry
                .window_done(SystemClock.now().as_unix_seconds_f64());
        }
        if let Some(first) = days.first() {
            self.state.prune_dialout(day_text(*first)).await?;
        }
        Ok(summary)
    }

    /// Every page of one day's report.
    async fn read_day(&self, day: Timestamp) -> Result<Vec<Page>, SourceError> {
        let mut chain = self.client.pages(day, next_day(day));
        let mut shutdown = self.shutdown.clone();
        let mut pages = Vec::new();
        loop {
            let next = tokio::select! {
                next = chain.next_page() => next,
                () = shutdown.triggered() => return Err(SourceError::Interrupted),
            };
            match next {
                None => return Ok(pages),
                Some(Ok(ChainPage { page, last })) => {
                    pages.push(page);
                    if last {
                        return Ok(pages);
                    }
                }
                Some(Err(error)) => return Err(SourceError::Graph(error)),
            }
        }
    }

    /// The report rows of `page` added to `rows`; a bad row is counted, logged once
    /// and skipped.
    fn parse_rows<'p>(
        &mut self,
        page: &'p Page,
        rows: &mut Vec<DialoutRow<'p>>,
        summary: &mut PollSummary,
    ) {
        for (position, raw) in page.rows().enumerate() {
            match DialoutRow::parse(raw) {
                Ok(row) => rows.push(row),
                Err(reason) => {
                    summary.bad_rows += 1;
                    self.telemetry.row_skipped(reason);
                    self.preparer.bad_rows.record(&self.name, reason, position);
                }
            }
        }
    }

    /// Sends the rows of `day` whose totals changed since they were last delivered,
    /// then commits their totals and counts their growth.
    async fn deliver_day(
        &mut self,
        day: Timestamp,
        pages: &[Page],
    ) -> Result<PollSummary, SourceError> {
        let observed = self.clock.now();
        let (day_text, observed_text) = (day_text(day), observed.to_string());
        let mut rows = Vec::new();
        let mut summary = PollSummary {
            windows: 1,
            pages: pages.len() as u64,
            ..PollSummary::default()
        };
        for page in pages {
            summary.rows_read += page.len() as u64;
            self.parse_rows(page, &mut rows, &mut summary);
        }
        // Paging over a report that grows can repeat a row: its last reading wins.
        let last: HashMap<&[u8], usize> = rows
            .iter()
            .enumerate()
            .map(|(index, row)| (row.key.as_slice(), index))
            .collect();
        let before: HashMap<Vec<u8>, StoredTotals> = {
            self.state
                .dialout_totals(day_text.clone())
                .await?
                .into_iter()
                .collect()
        };
        let (mut lines, mut events, mut changed, mut growth) =
            (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        for (index, row) in rows.iter().enumerate() {
            let previous = before.get(&row.key).copied().map(totals);
            if last.get(row.key.as_slice()) != Some(&index) || previous == Some(row.totals) {
                summary.duplicates += 1;
                continue;
            }
            let encoder = &self.preparer.encoder;
            events.push(encoder.encode_report(
                row.raw,
                day,
                &day_text,
                observed,
                &observed_text,
                &mut lines,
            ));
            changed.push((row.key.clone(), stored(row.totals)));
            growth.push(DialoutGrowth::new(
                row.destination_context.as_deref(),
                row.currency.as_deref(),
                row.totals.growth_since(previous.unwrap_or_default()),
            ));
        }
        summary.rows_new = events.len() as u64;
        if !events.is_empty() {
            let batch = Batch {
                lines: lines.into(),
                events,
            };
            delivery::deliver_to_all(
                &self.sinks,
                Arc::new(batch),
                self.sink_retry,
                &self.shutdown,
            )
            .await?;
            self.state.commit_dialout(day_text, changed).await?;
            // Counted only now: every sink accepted and the totals are on record.
            self.metrics
                .dialout
                .record(self.config.metrics_id(), &growth);
        }
        self.telemetry
            .page_read(summary.rows_read, summary.duplicates);
        Ok(summary)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_poll_reads_today_and_every_day_the_late_window_reaches() {
        let now = Timestamp::parse("2024-05-20T12:00:00Z").unwrap();
        let days = |late_window: u64| -> Vec<String> {
            report_days(now, Duration::from_secs(late_window))
                .into_iter()
                .map(day_text)
                .collect()
        };
        assert_eq!(days(0), ["2024-05-20"]);
        assert_eq!(days(12 * 3600), ["2024-05-20"]);
        assert_eq!(days(12 * 3600 + 1), ["2024-05-19", "2024-05-20"]);
        assert_eq!(
            days(72 * 3600),
            ["2024-05-17", "2024-05-18", "2024-05-19", "2024-05-20"]
        );
    }
}
