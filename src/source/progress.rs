//! What a poll did, and progress lines on stderr during long backfills.

use crate::planner::Window;
use crate::settings::format_duration;
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

/// How often a backfill says how far it got.
pub(super) const REPORT_EVERY: Duration = Duration::from_secs(10);

pub(super) struct Progress<'a> {
    source: &'a str,
    total_windows: usize,
    /// The source's pace, requests per minute: what the time left is computed from.
    pace: f64,
    backfill: bool,
    started: Instant,
    last_report: Instant,
    every: Duration,
    summary: PollSummary,
}

impl<'a> Progress<'a> {
    pub(super) fn new(
        source: &'a str,
        windows: &[Window],
        poll_interval: Duration,
        pace: f64,
        every: Duration,
    ) -> Self {
        let head_span: Duration = windows
            .iter()
            .filter(|w| w.sweep == 0)
            .map(Window::span)
            .sum();
        let backfill = head_span > poll_interval.saturating_mul(4) && windows.len() > 2;
        if backfill {
            let at_least = Duration::from_secs_f64(windows.len() as f64 * 60.0 / pace.max(0.001));
            tracing::info!(source, windows = windows.len(), span = %format_duration(head_span), requests_per_minute = pace, at_least = %format_duration(at_least), "backfill started");
        }
        let now = Instant::now();
        Progress {
            source,
            total_windows: windows.len(),
            pace,
            backfill,
            started: now,
            last_report: now,
            every,
            summary: PollSummary::default(),
        }
    }

    /// A page was delivered and committed (windows are read side by side, so progress
    /// is counted by page, not by finished window).
    pub(super) fn page_done(&mut self, read: &PollSummary) {
        self.summary.add(read);
        if self.backfill && self.last_report.elapsed() >= self.every {
            self.last_report = Instant::now();
            let elapsed = self.started.elapsed();
            let seconds = elapsed.as_secs_f64().max(0.001);
            let done = self.summary.windows;
            let total = self.total_windows.max(1) as u64;
            let eta = format_duration(self.time_left(seconds));
            tracing::info!(
                source = self.source,
                windows_done = done,
                windows_total = total,
                percent = (done * 100) / total,
                pages = self.summary.pages,
                rows_new = self.summary.rows_new,
                rows_per_second = (self.summary.rows_read as f64 / seconds) as u64,
                requests_per_minute = self.pace,
                eta = eta.as_str(),
                "backfill progress"
            );
        }
    }

    /// The time the requests left take at the pace (or at the rate seen so far, when
    /// Graph answers slower than that). Windows are of about equal span: the requests
    /// left are the pages per window so far (at least one) times the windows left.
    fn time_left(&self, seconds: f64) -> Duration {
        let pages = self.summary.pages as f64;
        let done = self.summary.windows;
        let per_window = if done > 0 { pages / done as f64 } else { 1.0 }.max(1.0);
        let left = (self.total_windows as f64 * per_window - pages).max(0.0);
        let per_second = (self.pace / 60.0).min(if pages > 1.0 {
            pages / seconds
        } else {
            f64::INFINITY
        });
        Duration::from_secs_f64(left / per_second.max(0.000_001))
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
                "backfill done"
            );
        }
        self.summary
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::Timestamp;
    use std::sync::{Arc, Mutex};

    /// Everything logged while `work` runs.
    fn logged(work: impl FnOnce()) -> String {
        let buffer = Arc::new(Mutex::new(Vec::new()));
        let writer = buffer.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_ansi(false)
            .with_writer(move || Writer(writer.clone()))
            .finish();
        tracing::subscriber::with_default(subscriber, work);
        let bytes = buffer.lock().unwrap().clone();
        String::from_utf8(bytes).unwrap()
    }

    struct Writer(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Writer {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(bytes);
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    /// A backfill of four one-day windows from 2024-05-01.
    fn four_day_windows() -> Vec<Window> {
        let day = Duration::from_secs(86_400);
        let start = Timestamp::parse("2024-05-01T00:00:00Z").unwrap();
        (0..4u32)
            .map(|n| Window {
                sweep: 0,
                from: start.saturating_add(day * n),
                to: start.saturating_add(day * (n + 1)),
                moves: vec![(0, start.saturating_add(day * (n + 1)))],
            })
            .collect()
    }

    #[test]
    fn the_time_left_is_the_requests_left_at_the_pace() {
        let windows = four_day_windows();
        let mut progress =
            Progress::new("t", &windows, Duration::from_secs(300), 60.0, REPORT_EVERY);
        assert_eq!(
            progress.time_left(0.001),
            Duration::from_secs(4),
            "nothing read yet: at least a request per window, one a second"
        );
        progress.summary.pages = 2;
        progress.window_done();
        // Two pages per window so far: 8 requests in all, 6 left, one a second.
        assert_eq!(progress.time_left(0.001), Duration::from_secs(6));
        // Graph answering slower than the pace (2 pages in 20 s): that rate instead.
        assert_eq!(progress.time_left(20.0), Duration::from_secs(60));
    }

    #[test]
    fn a_backfill_reports_windows_rows_rate_and_time_left_then_a_summary() {
        let windows = four_day_windows();
        let text = logged(|| {
            let mut progress = Progress::new(
                "tenant",
                &windows,
                Duration::from_secs(300),
                50.0,
                Duration::ZERO,
            );
            progress.window_done();
            progress.page_done(&PollSummary {
                pages: 1,
                rows_read: 1000,
                rows_new: 900,
                ..PollSummary::default()
            });
            progress.finish();
        });
        for expected in [
            "backfill started",
            "backfill progress",
            "windows_done=1",
            "windows_total=4",
            "rows_new=900",
            "eta=",
            "backfill done",
        ] {
            assert!(text.contains(expected), "{expected} in {text}");
        }
        assert!(!text.contains("now polling"), "{text}");
    }
}
