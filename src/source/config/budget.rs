//! The late-row plan inside the source's pace: the sweeps of `poll_interval`,
//! `late_window` and `max_delay` ask for a number of requests every hour once caught
//! up; more than `requests_per_minute` allows (Graph's 50 per collection by default)
//! could never be served, so the file is refused with what would fit.

use super::fetch_concurrency;
use crate::planner::{SweepLadder, requests_per_hour};
use crate::settings::{Fields, Problems, format_duration};
use std::time::Duration;

const MINUTE: u64 = 60;
const HOUR: u64 = 3600;
/// Poll intervals and delays offered as what would fit, shortest first.
const STEPS: [u64; 14] = [
    MINUTE,
    2 * MINUTE,
    5 * MINUTE,
    10 * MINUTE,
    15 * MINUTE,
    20 * MINUTE,
    30 * MINUTE,
    HOUR,
    2 * HOUR,
    3 * HOUR,
    6 * HOUR,
    12 * HOUR,
    24 * HOUR,
    48 * HOUR,
];

/// The requests per hour a plan needs once caught up (a backfill apart): one per
/// window, each window one request when its rows fit in a page of 1,000.
fn planned_requests_per_hour(
    poll_interval: Duration,
    late_window: Duration,
    max_delay: Option<Duration>,
    requests_per_minute: f64,
) -> f64 {
    let ladder = SweepLadder::bounded(poll_interval, late_window, max_delay);
    // The source plans three windows per fetch chain.
    requests_per_hour(
        &ladder,
        poll_interval,
        3 * fetch_concurrency(requests_per_minute),
    )
}

/// The requests per hour a report source needs (the dial-out report): each poll reads
/// every UTC day `late_window` reaches, today included, one request each (at most
/// whole days of the window, plus today).
fn report_requests_per_hour(poll_interval: Duration, late_window: Duration) -> f64 {
    let days = late_window.as_secs().div_ceil(24 * HOUR) + 1;
    days as f64 * HOUR as f64 / poll_interval.as_secs_f64().max(1.0)
}

impl super::SourceConfig {
    /// The requests per hour this source's plan needs once caught up (a backfill
    /// apart): one per window, each window one request when its rows fit in a page of
    /// 1,000; for a report, one per day it reads, each poll.
    pub fn planned_requests_per_hour(&self) -> f64 {
        if self.kind.is_report() {
            return report_requests_per_hour(self.poll_interval, self.late_window);
        }
        planned_requests_per_hour(
            self.poll_interval,
            self.late_window,
            self.max_delay,
            self.requests_per_minute,
        )
    }
}

/// One problem when a report's days each poll need more requests per hour than the
/// pace allows (a long `late_window` at a short `poll_interval`).
pub(super) fn check_report(
    fields: &Fields<'_>,
    poll_interval: Duration,
    late_window: Duration,
    requests_per_minute: f64,
    problems: &mut Problems,
) {
    let budget = requests_per_minute * 60.0;
    let needed = report_requests_per_hour(poll_interval, late_window);
    if needed <= budget {
        return;
    }
    let would_fit = STEPS
        .iter()
        .map(|seconds| Duration::from_secs(*seconds))
        .filter(|poll| *poll > poll_interval)
        .find(|poll| report_requests_per_hour(*poll, late_window) <= budget)
        .map_or_else(
            || "a shorter late_window would fit".to_owned(),
            |poll| format!("would fit: poll_interval = \"{}\"", format_duration(poll)),
        );
    problems.add(
        &fields.key("poll_interval"),
        format!(
            "the report's days need about {needed:.0} requests per hour (one per UTC day late_window {} reaches, each poll_interval {}), more than the {budget:.0} per hour this source may make (requests_per_minute {requests_per_minute}); {would_fit}",
            format_duration(late_window),
            format_duration(poll_interval),
        ),
    );
}

/// One problem when the plan needs more requests per hour than the pace allows.
pub(super) fn check(
    fields: &Fields<'_>,
    poll_interval: Duration,
    late_window: Duration,
    max_delay: Option<Duration>,
    requests_per_minute: f64,
    problems: &mut Problems,
) {
    let budget = requests_per_minute * 60.0;
    let fits = |poll: Duration, late: Duration, delay: Option<Duration>| {
        planned_requests_per_hour(poll, late, delay.map(|d| d.min(late)), requests_per_minute)
            <= budget
    };
    let needed =
        planned_requests_per_hour(poll_interval, late_window, max_delay, requests_per_minute);
    if needed <= budget {
        return;
    }
    let steps = STEPS.iter().map(|seconds| Duration::from_secs(*seconds));
    let mut fitting = Vec::new();
    if let Some(poll) = steps
        .clone()
        .filter(|poll| *poll > poll_interval)
        .find(|poll| fits(*poll, late_window, max_delay))
    {
        fitting.push(format!("poll_interval = \"{}\"", format_duration(poll)));
    }
    if let Some(delay) = max_delay {
        if let Some(longer) = steps
            .clone()
            .filter(|longer| *longer > delay && *longer <= late_window)
            .find(|longer| fits(poll_interval, late_window, Some(*longer)))
        {
            fitting.push(format!("max_delay = \"{}\"", format_duration(longer)));
        } else if fits(poll_interval, late_window, None) {
            fitting.push("no max_delay (the default ladder)".to_owned());
        }
    }
    if let Some(late) = steps
        .rev()
        .filter(|late| *late < late_window)
        .find(|late| fits(poll_interval, *late, max_delay))
    {
        fitting.push(format!("late_window = \"{}\"", format_duration(late)));
    }
    let key = if max_delay.is_some() {
        "max_delay"
    } else {
        "poll_interval"
    };
    let would_fit = if fitting.is_empty() {
        "a slower poll_interval would fit".to_owned()
    } else {
        format!("would fit: {}", fitting.join(", or "))
    };
    problems.add(
        &fields.key(key),
        format!(
            "the late-row plan needs about {needed:.0} requests per hour (poll_interval {}, max_delay {}, late_window {}), more than the {budget:.0} per hour this source may make (requests_per_minute {requests_per_minute}; Graph allows 50 per minute per function and tenant); {would_fit}",
            format_duration(poll_interval),
            max_delay.map_or_else(|| "unset".to_owned(), format_duration),
            format_duration(late_window),
        ),
    );
}

#[cfg(test)]
mod report_tests {
    use super::report_requests_per_hour;
    use std::time::Duration;

    #[test]
    fn a_report_needs_one_request_per_day_it_reads_each_poll() {
        let hours = |h: u64| Duration::from_secs(h * 3600);
        let minutes = |m: u64| Duration::from_secs(m * 60);
        // 72 h: up to 4 days (three whole days back, and today), 12 polls an hour.
        assert_eq!(report_requests_per_hour(minutes(5), hours(72)), 48.0);
        // 30 h: up to 3 days, at most.
        assert_eq!(report_requests_per_hour(hours(1), hours(30)), 3.0);
        assert_eq!(
            report_requests_per_hour(minutes(1), hours(90 * 24)),
            91.0 * 60.0
        );
    }
}
