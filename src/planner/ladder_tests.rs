use super::*;
use crate::planner::plan;

const MINUTE: Duration = Duration::from_secs(60);
const HOUR: Duration = Duration::from_secs(3600);
const DAY: Duration = Duration::from_secs(86_400);

fn at(text: &str) -> Timestamp {
    Timestamp::parse(text).unwrap()
}

#[test]
fn the_default_ladder_has_seven_sweeps_from_zero_to_the_late_window() {
    let ladder = SweepLadder::new(5 * MINUTE, 72 * HOUR);
    let delays = ladder.delays();
    assert_eq!(delays.len(), 7, "{delays:?}");
    assert_eq!(delays[0], Duration::ZERO);
    assert_eq!(*delays.last().unwrap(), 72 * HOUR);
    assert!(delays.windows(2).all(|pair| pair[0] < pair[1]));
    assert!(delays[1] >= 10 * MINUTE);
}

#[test]
fn small_and_zero_late_windows_still_make_a_ladder() {
    assert_eq!(
        SweepLadder::new(MINUTE, Duration::ZERO).delays(),
        [Duration::ZERO]
    );
    assert_eq!(
        SweepLadder::new(MINUTE, Duration::from_secs(10)).delays(),
        [Duration::ZERO, Duration::from_secs(10)]
    );
    let seconds = SweepLadder::new(Duration::from_secs(1), Duration::from_secs(20));
    let expected = [0, 2_222_222_200, 6_666_666_600, 20_000_000_000].map(Duration::from_nanos);
    assert_eq!(seconds.delays(), expected);
}

#[test]
fn a_first_run_leaves_later_sweeps_only_their_own_delay_behind() {
    let ladder = SweepLadder::new(5 * MINUTE, 72 * HOUR);
    let now = at("2024-05-10T00:00:00Z");
    let cursors = ladder.initial_cursors(now, 7 * DAY);
    for (delay, cursor) in ladder.delays().iter().zip(&cursors).skip(1) {
        assert_eq!(*cursor, now.saturating_sub(*delay));
    }
    // With a lookback shorter than a delay, no sweep starts before the head.
    let short = ladder.initial_cursors(now, HOUR);
    assert!(short.iter().all(
        |cursor| *cursor == now.saturating_sub(HOUR) || *cursor > now.saturating_sub(HOUR)
    ));
}

#[test]
fn cursors_saved_under_another_ladder_are_adopted_without_skipping() {
    let old = [
        (Duration::ZERO, at("2024-05-10T00:00:00Z")),
        (HOUR, at("2024-05-09T23:00:00Z")),
    ];
    let ladder = SweepLadder::new(5 * MINUTE, 2 * HOUR);
    let adopted = ladder.adopt(&old).unwrap();
    assert_eq!(adopted[0], at("2024-05-10T00:00:00Z"));
    // A sweep longer than any saved one starts where the oldest saved cursor is.
    assert_eq!(*adopted.last().unwrap(), at("2024-05-09T23:00:00Z"));
    assert!(ladder.adopt(&[]).is_none());
}

/// The time each sweep first reads start `start` when polls run every `poll` from
/// just before it: (delay, read at).
fn reads_of(ladder: &SweepLadder, poll: Duration, start: Timestamp) -> Vec<(Duration, Timestamp)> {
    let first_poll = start.saturating_sub(Duration::from_secs(1));
    let mut cursors = ladder.initial_cursors(first_poll, DAY);
    let last = *ladder.delays().last().unwrap();
    let mut reads = Vec::new();
    let mut now = first_poll;
    while now <= start.saturating_add(last + 2 * poll) {
        now = now.saturating_add(poll);
        for window in plan(ladder, &cursors, now, 1) {
            for (sweep, to) in window.moves {
                if cursors[sweep] <= start && start < to {
                    reads.push((ladder.delays()[sweep], now));
                }
                cursors[sweep] = to;
            }
        }
    }
    reads
}

#[test]
fn with_max_delay_every_row_visible_within_the_late_window_is_read_within_max_delay_and_a_poll() {
    let poll = 5 * MINUTE;
    let late_window = 72 * HOUR;
    let start = at("2024-05-10T00:02:17.1234567Z");
    for max_delay in [
        MINUTE,
        5 * MINUTE,
        20 * MINUTE,
        HOUR,
        6 * HOUR,
        24 * HOUR,
        72 * HOUR,
    ] {
        let ladder = SweepLadder::bounded(poll, late_window, Some(max_delay));
        assert!(ladder.longest_wait(poll) <= max_delay.max(poll) + poll);
        let reads = reads_of(&ladder, poll, start);
        assert_eq!(
            reads.len(),
            ladder.delays().len(),
            "each sweep reads it once"
        );
        // Visibility ages every 7 minutes and at each delay and just past it.
        let mut ages: Vec<Duration> = (0..=late_window.as_secs() / 420)
            .map(|step| Duration::from_secs(step * 420))
            .collect();
        for delay in ladder.delays() {
            ages.extend([*delay, *delay + Duration::from_nanos(100)]);
        }
        for age in ages.into_iter().filter(|age| *age <= late_window) {
            let visible = start.saturating_add(age);
            let first = reads
                .iter()
                .map(|(_, read)| *read)
                .filter(|read| *read >= visible)
                .min()
                .unwrap_or_else(|| panic!("max_delay {max_delay:?}: age {age:?} never read"));
            let waited = first.duration_since(visible);
            assert!(
                waited <= max_delay + poll,
                "max_delay {max_delay:?}: visible at age {age:?}, read {waited:?} later"
            );
        }
    }
}

#[test]
fn max_delay_adds_sweeps_spaced_at_most_max_delay_past_the_default_ones_below_it() {
    let poll = 5 * MINUTE;
    let default = SweepLadder::new(poll, 72 * HOUR);
    assert_eq!(SweepLadder::bounded(poll, 72 * HOUR, None), default);
    assert_eq!(
        SweepLadder::bounded(poll, 72 * HOUR, Some(72 * HOUR)),
        default,
        "a bound of the whole late window is the default ladder"
    );
    let hourly = SweepLadder::bounded(poll, 72 * HOUR, Some(HOUR));
    let delays = hourly.delays();
    let below: Vec<_> = default.delays().iter().filter(|d| **d < HOUR).collect();
    assert!(below.iter().all(|d| delays.contains(d)));
    assert_eq!(*delays.last().unwrap(), 72 * HOUR);
    assert!(delays.windows(2).all(|pair| pair[0] < pair[1]));
    assert!(delays.windows(2).all(|pair| pair[1] - pair[0] <= HOUR));
    assert_eq!(delays.len(), below.len() + 72, "{delays:?}");
    // Shorter than a poll, the spacing is a poll: more sweeps would read nothing sooner.
    let tiny = SweepLadder::bounded(poll, 72 * HOUR, Some(Duration::from_secs(1)));
    assert_eq!(tiny.delays().len(), 72 * 12 + 1);
    assert_eq!(
        SweepLadder::bounded(poll, Duration::ZERO, Some(HOUR)).delays(),
        [Duration::ZERO]
    );
}

#[test]
fn switching_between_ladders_carries_every_start_over_without_skipping() {
    let poll = 5 * MINUTE;
    let late_window = 12 * HOUR;
    let ladders = [
        SweepLadder::new(poll, late_window),
        SweepLadder::bounded(poll, late_window, Some(HOUR)),
        SweepLadder::bounded(poll, late_window, Some(3 * HOUR)),
        SweepLadder::new(poll, late_window),
    ];
    let begin = at("2024-05-10T00:00:00Z");
    let mut now = begin;
    let mut cursors = ladders[0].initial_cursors(now, Duration::ZERO);
    // Per delay of the ladder in force: the start times read at least that delay after them.
    let mut read: Vec<(Timestamp, Timestamp, Duration)> = Vec::new();
    for (index, ladder) in ladders.iter().enumerate() {
        if index > 0 {
            let stored: Vec<_> = ladders[index - 1]
                .delays()
                .iter()
                .copied()
                .zip(cursors.iter().copied())
                .collect();
            cursors = ladder.adopt(&stored).unwrap();
        }
        for _ in 0..(18 * 12) {
            now = now.saturating_add(poll);
            for window in plan(ladder, &cursors, now, 1) {
                for (sweep, to) in window.moves {
                    read.push((cursors[sweep], to, ladder.delays()[sweep]));
                    cursors[sweep] = to;
                }
            }
        }
    }
    // Every start time older than the late window was read at or after each age the
    // final ladder promises: some window covering it was read at least that late.
    let end = now.saturating_sub(late_window);
    let mut start = begin;
    while start < end {
        for delay in ladders[3].delays() {
            assert!(
                read.iter().any(|(from, to, read_delay)| *from <= start
                    && start < *to
                    && read_delay >= delay),
                "start {start} never read {delay:?} after it"
            );
        }
        start = start.saturating_add(Duration::from_secs(397));
    }
}
