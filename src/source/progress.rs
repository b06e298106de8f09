//! What a poll did, and progress lines on stderr during long backfills.

use crate::config::format_duration;
use crate::planner::Window;
use std::time::{Duration, Instant};

/// Counts of one poll (or one window).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct PollSummary {
    /// Windows read.
    pub windows: u64,
    /// Pages fetched.
    pub pages: u64,
    /// Rows Graph returned.
    pub rows_read: u64,
    /// Rows delivered for the first time.
    pub rows_new: u64,
    /// Rows already delivered (overlapping sweeps, shifted pages).
    pub duplicates: u64,
    /// Rows skipped as unusable.
    pub bad_rows: u64,
}

impl PollSummary {
    /// Adds another summary's counts to this one.
    pub fn add(&mut self, other: &PollSummary) {
        self.windows += other.windows;
        self.pages += other.pages;
        self.rows_read += other.rows_read;
        self.rows_new += other.rows_new;
        self.duplicates += other.duplicates;
        self.bad_rows += other.bad_rows;
    }
}

const REPORT_EVERY: Duration = Duration::from_secs(10);

pub(super) struct Progress<'a> {
    source: &'a str,
    total_windows: usize,
    backfill: bool,
    started: Instant,
    last_report: Instant,
    summary: PollSummary,
}

impl<'a> Progress<'a> {
    pub(super) fn new(source: &'a str, windows: &[Window], poll_interval: Duration) -> Self {
        let head_span: Duration = windows
            .iter()
            .filter(|w| w.sweep == 0)
            .map(Window::span)
            .sum();
        let backfill = head_span > poll_interval.saturating_mul(4) && windows.len() > 2;
        if backfill {
            tracing::info!(source, windows = windows.len(), span = %format_duration(head_span), "backfill started");
        }
        let now = Instant::now();
        Progress {
            source,
            total_windows: windows.len(),
            backfill,
            started: now,
            last_report: now,
            summary: PollSummary::default(),
        }
    }

    /// A page was delivered and committed (windows are read side by side, so progress
    /// is counted by page, not by finished window).
    pub(super) fn page_done(&mut self, read: &PollSummary) {
        self.summary.add(read);
        if self.backfill && self.last_report.elapsed() >= REPORT_EVERY {
            self.last_report = Instant::now();
            let seconds = self.started.elapsed().as_secs_f64().max(0.001);
            tracing::info!(
                source = self.source,
                windows_done = self.summary.windows,
                windows_total = self.total_windows,
                percent = (self.summary.windows * 100) / self.total_windows.max(1) as u64,
                pages = self.summary.pages,
                rows_new = self.summary.rows_new,
                rows_per_second = (self.summary.rows_read as f64 / seconds) as u64,
                "backfill progress"
            );
        }
    }

    /// A window was read to its end.
    pub(super) fn window_done(&mut self) {
        self.summary.windows += 1;
    }

    pub(super) fn finish(self) -> PollSummary {
        if self.backfill {
            tracing::info!(
                source = self.source,
                windows = self.summary.windows,
                rows_new = self.summary.rows_new,
                seconds = self.started.elapsed().as_secs(),
                "backfill done; now polling"
            );
        }
        self.summary
    }
}
