//! Which spans of call start times to read, and when, so that late rows are caught
//! once without re-reading the whole late window on every poll.
//!
//! # The sweeps
//! A source keeps a few *sweeps*, each with a delay `d` and a cursor `u`. On every
//! poll at time `t`, a sweep reads the start times `[u, t - d)` and moves `u` to
//! `t - d`. So the sweep reads every start time exactly once, at least `d` after it:
//! it catches every row that became visible within `d` of its call's start.
//!
//! Delays are `0` (the head: a row visible at once arrives within a poll interval)
//! and then `late_window`, `late_window / 3`, `late_window / 9`, ... down to about two
//! poll intervals. A row that shows up `L` late is caught by the first sweep whose
//! delay is at least `L`: at most about `2L + poll_interval` after it became visible,
//! and never later than `late_window + poll_interval`. Every row is fetched once per
//! sweep, so the read amplification is the number of sweeps: 7 for a 72 h late
//! window polled every 5 minutes, against 864 for re-reading the whole late window
//! on every poll.
//!
//! # A chosen bound (`max_delay`)
//! The default ladder makes a row that is `L` late wait up to about `2L` (48 h for a
//! row 24 h late). With `max_delay = D` the ladder keeps its delays shorter than `D`
//! and then spaces delays at most `D` apart up to `late_window`: a row visible at any
//! age within the late window waits at most `D + poll_interval`, for about
//! `late_window / D` more reads of each row ([`SweepLadder::bounded`]).
//!
//! # Window edges
//! Windows are half-open `[from, to)` in Graph's 100 ns resolution. `getPstnCalls`
//! includes `toDateTime`, so its request ends one tick before `to`;
//! `getDirectRoutingCalls` excludes it and is sent `to` itself. Consecutive windows
//! therefore neither overlap nor leave a gap.

mod ladder;

#[cfg(any(test, feature = "__internals"))]
pub use ladder::SWEEP_FACTOR;
pub use ladder::SweepLadder;

use crate::time::Timestamp;
use std::time::Duration;

/// Longest window read in one go (Graph refuses more than 90 days; a day keeps
/// backfills checkpointed often and pages few).
pub const MAX_WINDOW: Duration = Duration::from_secs(86_400);
/// Spans longer than this are split for fetching in parallel, never into shorter windows.
pub const MIN_SPLIT: Duration = Duration::from_secs(3600);
#[cfg(any(test, feature = "__internals"))]
/// Graph's own limit on a range.
pub const GRAPH_MAX_RANGE: Duration = Duration::from_secs(90 * 86_400);

/// A span of call start times `[from, to)` to read with one request chain, for one
/// sweep or for several whose spans touch or overlap (read once, not once each).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Window {
    /// The first sweep (in ladder order) the window reads for: 0 is the head.
    pub sweep: usize,
    /// First start time included.
    pub from: Timestamp,
    /// First start time excluded.
    pub to: Timestamp,
    /// Each sweep the window reads for, and where its cursor moves once this window
    /// and every window planned before it are read.
    pub moves: Vec<(usize, Timestamp)>,
}

impl Window {
    /// Length of the window.
    pub fn span(&self) -> Duration {
        self.to.duration_since(self.from)
    }
}

/// The start times one sweep owes at `now`: `[cursor, now - delay)`, when not empty.
#[derive(Debug, Clone, Copy)]
struct Due {
    sweep: usize,
    from: Timestamp,
    to: Timestamp,
}

/// The windows due at `now`, the head's first, each at most [`MAX_WINDOW`] long.
/// Sweeps whose due spans touch or overlap are read together, as one span. A span of
/// one sweep longer than [`MIN_SPLIT`] (a backfill) is cut into about `parallel`
/// windows (each page chain of Graph is sequential, so windows are what can be
/// fetched side by side).
pub fn plan(
    ladder: &SweepLadder,
    cursors: &[Timestamp],
    now: Timestamp,
    parallel: usize,
) -> Vec<Window> {
    let mut due: Vec<Due> = ladder
        .delays()
        .iter()
        .zip(cursors)
        .enumerate()
        .map(|(sweep, (delay, cursor))| Due {
            sweep,
            from: *cursor,
            to: now.saturating_sub(*delay),
        })
        .filter(|due| due.from < due.to)
        .collect();
    due.sort_by_key(|due| (due.from, due.sweep));
    let mut groups: Vec<Vec<Due>> = Vec::new();
    for span in due {
        match groups.last_mut() {
            Some(group) if span.from <= group.iter().map(|d| d.to).max().unwrap_or(span.from) => {
                group.push(span)
            }
            _ => groups.push(vec![span]),
        }
    }
    groups.sort_by_key(|group| group.iter().map(|d| d.sweep).min());
    let mut windows = Vec::new();
    for group in groups {
        let start = group.iter().map(|d| d.from).min().unwrap_or(now);
        let end = group.iter().map(|d| d.to).max().unwrap_or(now);
        // Sweeps read together are caught up (a poll's slices of start times): split
        // only at a day, since every extra window costs a request of the pace.
        let chunk = if group.len() > 1 {
            MAX_WINDOW
        } else {
            (end.duration_since(start) / parallel.max(1) as u32).clamp(MIN_SPLIT, MAX_WINDOW)
        };
        let mut from = start;
        while from < end {
            let to = from.saturating_add(chunk).min(end);
            let moves: Vec<(usize, Timestamp)> = group
                .iter()
                .filter(|d| d.from < to && from < d.to)
                .map(|d| (d.sweep, d.to.min(to)))
                .collect();
            let sweep = moves.iter().map(|(sweep, _)| *sweep).min().unwrap_or(0);
            windows.push(Window {
                sweep,
                from,
                to,
                moves,
            });
            from = to;
        }
    }
    windows
}

/// How many windows (request chains: one request each, plus one per further 1,000
/// rows) the ladder's sweeps ask for per hour once caught up, polled every
/// `poll_interval` with `parallel` windows per poll. A backfill is apart from this.
pub fn requests_per_hour(ladder: &SweepLadder, poll_interval: Duration, parallel: usize) -> f64 {
    if poll_interval.is_zero() {
        return f64::INFINITY;
    }
    // Any instant will do: caught up, each sweep owes the poll interval before its delay.
    let now = Timestamp::from_unix_seconds(1_700_000_000);
    let cursors: Vec<Timestamp> = ladder
        .delays()
        .iter()
        .map(|delay| now.saturating_sub(*delay + poll_interval))
        .collect();
    let windows = plan(ladder, &cursors, now, parallel).len();
    windows as f64 * 3600.0 / poll_interval.as_secs_f64()
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINUTE: Duration = Duration::from_secs(60);
    const HOUR: Duration = Duration::from_secs(3600);
    const DAY: Duration = Duration::from_secs(86_400);

    fn at(text: &str) -> Timestamp {
        Timestamp::parse(text).unwrap()
    }

    #[test]
    fn consecutive_windows_meet_exactly_with_no_gap_or_overlap() {
        let ladder = SweepLadder::new(5 * MINUTE, 72 * HOUR);
        let now = at("2024-05-10T12:34:56.7890123Z");
        let windows = plan(&ladder, &ladder.initial_cursors(now, 7 * DAY), now, 1);
        for pair in windows
            .windows(2)
            .filter(|pair| pair[0].sweep == pair[1].sweep)
        {
            assert_eq!(pair[0].to, pair[1].from);
        }
        let head: Vec<_> = windows.iter().filter(|w| w.sweep == 0).collect();
        assert_eq!(head.first().unwrap().from, now.saturating_sub(7 * DAY));
        assert_eq!(head.last().unwrap().to, now);
    }

    #[test]
    fn a_two_hundred_day_lookback_never_asks_for_more_than_ninety_days() {
        let ladder = SweepLadder::new(5 * MINUTE, 72 * HOUR);
        let now = at("2024-12-31T23:00:00Z");
        let windows = plan(&ladder, &ladder.initial_cursors(now, 200 * DAY), now, 8);
        assert!(
            windows
                .iter()
                .all(|w| w.span() <= MAX_WINDOW && MAX_WINDOW <= GRAPH_MAX_RANGE)
        );
        let covered: Duration = windows
            .iter()
            .filter(|w| w.sweep == 0)
            .map(Window::span)
            .sum();
        assert_eq!(covered, 200 * DAY);
    }

    #[test]
    fn each_sweep_reads_every_start_time_exactly_once_across_polls() {
        let ladder = SweepLadder::new(5 * MINUTE, 6 * HOUR);
        let start = at("2024-05-01T00:00:00Z");
        let mut cursors = ladder.initial_cursors(start, Duration::ZERO);
        let mut covered = vec![Duration::ZERO; ladder.delays().len()];
        let mut now = start;
        for _ in 0..(24 * 12) {
            now = now.saturating_add(5 * MINUTE);
            for window in plan(&ladder, &cursors, now, 4) {
                for (sweep, to) in &window.moves {
                    assert!(
                        window.from <= cursors[*sweep] && *to <= window.to,
                        "a window covers what its sweeps read"
                    );
                    covered[*sweep] += to.duration_since(cursors[*sweep]);
                    cursors[*sweep] = *to;
                }
            }
        }
        for (sweep, delay) in ladder.delays().iter().enumerate() {
            assert_eq!(cursors[sweep], now.saturating_sub(*delay));
            assert_eq!(
                covered[sweep],
                now.duration_since(start.max(start.saturating_sub(*delay)))
                    .saturating_sub(*delay)
            );
        }
    }

    #[test]
    fn a_long_span_is_split_for_parallel_fetching_but_a_poll_is_not() {
        let ladder = SweepLadder::new(5 * MINUTE, Duration::ZERO);
        let now = at("2024-05-10T00:00:00Z");
        let day = plan(&ladder, &ladder.initial_cursors(now, DAY), now, 8);
        assert_eq!(day.len(), 8);
        assert!(day.iter().all(|w| w.span() == 3 * HOUR));
        let poll = plan(&ladder, &[now.saturating_sub(5 * MINUTE)], now, 8);
        assert_eq!(poll.len(), 1, "a short span stays one request");
        let year = plan(&ladder, &ladder.initial_cursors(now, 365 * DAY), now, 8);
        assert!(year.iter().all(|w| w.span() <= MAX_WINDOW));
        assert_eq!(year.len(), 365);
    }

    #[test]
    fn sweeps_whose_spans_touch_or_overlap_are_read_with_one_window() {
        // max_delay = poll_interval: delays a poll apart, so each poll's spans touch.
        let ladder = SweepLadder::bounded(5 * MINUTE, 6 * HOUR, Some(5 * MINUTE));
        let now = at("2024-05-10T12:00:00Z");
        let caught_up: Vec<Timestamp> = ladder
            .delays()
            .iter()
            .map(|delay| now.saturating_sub(*delay + 5 * MINUTE))
            .collect();
        let windows = plan(&ladder, &caught_up, now, 8);
        assert_eq!(windows.len(), 1, "{windows:?}");
        assert_eq!(windows[0].from, now.saturating_sub(6 * HOUR + 5 * MINUTE));
        assert_eq!(windows[0].to, now);
        assert_eq!(windows[0].moves.len(), ladder.delays().len());
        for (sweep, to) in &windows[0].moves {
            assert_eq!(*to, now.saturating_sub(ladder.delays()[*sweep]));
        }
        // Overlapping spans (a sweep that fell behind) are one window too.
        let mut behind = caught_up.clone();
        behind[1] = now.saturating_sub(2 * HOUR);
        assert_eq!(plan(&ladder, &behind, now, 8).len(), 1);
        // Spans apart stay apart: the default ladder's sweeps are far apart.
        let apart = SweepLadder::new(5 * MINUTE, 6 * HOUR);
        let cursors: Vec<Timestamp> = apart
            .delays()
            .iter()
            .map(|delay| now.saturating_sub(*delay + 5 * MINUTE))
            .collect();
        assert_eq!(plan(&apart, &cursors, now, 8).len(), apart.delays().len());
    }

    #[test]
    fn requests_per_hour_counts_the_windows_of_a_caught_up_poll() {
        let poll = 5 * MINUTE;
        let default = SweepLadder::new(poll, 72 * HOUR);
        assert_eq!(default.delays().len(), 7);
        assert_eq!(requests_per_hour(&default, poll, 6), 7.0 * 12.0);
        let six_hours = SweepLadder::bounded(poll, 72 * HOUR, Some(6 * HOUR));
        assert_eq!(requests_per_hour(&six_hours, poll, 6), 16.0 * 12.0);
        let one_hour = SweepLadder::bounded(poll, 72 * HOUR, Some(HOUR));
        assert_eq!(requests_per_hour(&one_hour, poll, 6), 75.0 * 12.0);
        let every_poll = SweepLadder::bounded(poll, 72 * HOUR, Some(poll));
        assert_eq!(
            requests_per_hour(&every_poll, poll, 6),
            4.0 * 12.0,
            "865 touching sweeps: 72 h 5 min read as four windows of at most a day"
        );
    }

    #[test]
    fn a_clock_that_jumps_backwards_plans_nothing_rather_than_rereading() {
        let ladder = SweepLadder::new(5 * MINUTE, HOUR);
        let now = at("2024-05-10T00:00:00Z");
        let cursors = vec![now; ladder.delays().len()];
        assert!(plan(&ladder, &cursors, now.saturating_sub(HOUR), 4).is_empty());
    }
}
