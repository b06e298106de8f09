//! Read amplification and completeness of the sweep schedule, on the simulated clock
//! (`cargo bench --bench amplification`): two simulated weeks of polls every 5 minutes
//! with a 72 h late window, for three lateness profiles of the simulator: its long
//! tail (most rows within an hour, some after a day, a few near two days), "microsoft"
//! (most rows 24–48 h late, as Microsoft says of its PSTN reports) and rows spread
//! evenly over 72 h. Side by side:
//! - sweeps: this agent's default ladder (planner::SweepLadder::new);
//! - sweeps with `max_delay` 6 h and 1 h (planner::SweepLadder::bounded);
//! - re-read: the whole late window on every poll (the simple correct approach);
//! - no overlap: each start time read once, as soon as possible (cheap and lossy).
//!
//! For each: rows fetched per unique row, the share of rows that became visible
//! within the late window that were caught, and how long after becoming visible they
//! were read. No HTTP: the planner's windows are answered from the generator directly.
//! First, the ladders `max_delay` makes: sweeps (requests per poll) and the longest
//! wait they allow.

use pstn_agent::model::LogKind;
use pstn_agent::planner::{SweepLadder, Window, plan};
use pstn_agent::simulate::{Generator, Lateness};
use pstn_agent::time::Timestamp;
use std::collections::HashMap;
use std::time::Duration;

const CALLS_PER_DAY: f64 = 10_000.0;
const POLL: Duration = Duration::from_secs(300);
const LATE_WINDOW: Duration = Duration::from_secs(72 * 3600);
const DAYS: u64 = 14;

const HOUR: Duration = Duration::from_secs(3600);

enum Strategy {
    Sweeps(Option<Duration>),
    Reread,
    NoOverlap,
}

struct Outcome {
    fetched: u64,
    first_seen: HashMap<i64, Timestamp>,
}

fn run(strategy: &Strategy, generator: &Generator, start: Timestamp, end: Timestamp) -> Outcome {
    let ladder = match strategy {
        Strategy::Sweeps(max_delay) => SweepLadder::bounded(POLL, LATE_WINDOW, *max_delay),
        _ => SweepLadder::new(POLL, Duration::ZERO),
    };
    let mut cursors = ladder.initial_cursors(start, Duration::ZERO);
    let mut outcome = Outcome {
        fetched: 0,
        first_seen: HashMap::new(),
    };
    let mut now = start;
    while now < end {
        now = now.saturating_add(POLL);
        let windows: Vec<Window> = match strategy {
            Strategy::Reread => vec![Window {
                sweep: 0,
                from: start.max(now.saturating_sub(LATE_WINDOW)),
                to: now,
                moves: vec![(0, now)],
            }],
            _ => plan(&ladder, &cursors, now, 1),
        };
        for window in windows {
            for call in generator.visible_calls(LogKind::Pstn, window.from, window.to, false, now) {
                outcome.fetched += 1;
                outcome.first_seen.entry(call.slot).or_insert(now);
            }
            for (sweep, to) in window.moves {
                if let Some(cursor) = cursors.get_mut(sweep) {
                    *cursor = (*cursor).max(to);
                }
            }
        }
    }
    outcome
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

fn minutes(duration: Duration) -> String {
    let seconds = duration.as_secs();
    if seconds >= 3600 && seconds / 3600 * 3600 == seconds {
        format!("{} h", seconds / 3600)
    } else {
        format!("{} min", seconds / 60)
    }
}

/// The ladders `max_delay` makes at this poll interval and late window.
fn print_ladders() {
    println!(
        "ladders at poll {}, late window {}:",
        minutes(POLL),
        minutes(LATE_WINDOW)
    );
    println!(
        "{:<10} {:>8} {:>24}",
        "max_delay", "sweeps", "longest wait after visible"
    );
    for max_delay in [
        None,
        Some(24 * HOUR),
        Some(12 * HOUR),
        Some(6 * HOUR),
        Some(3 * HOUR),
        Some(HOUR),
        Some(HOUR / 2),
        Some(HOUR / 4),
        Some(POLL),
    ] {
        let ladder = SweepLadder::bounded(POLL, LATE_WINDOW, max_delay);
        println!(
            "{:<10} {:>8} {:>24}",
            max_delay.map_or("default".to_owned(), minutes),
            ladder.delays().len(),
            minutes(ladder.longest_wait(POLL))
        );
    }
}

fn main() {
    print_ladders();
    for (name, lateness) in [
        ("long tail (default)", Lateness::Default),
        ("microsoft (most 24-48 h)", Lateness::Microsoft),
        ("uniform:72h", Lateness::Uniform(LATE_WINDOW)),
    ] {
        println!();
        println!("profile: {name}");
        profile(lateness);
    }
}

fn profile(lateness: Lateness) {
    let generator = Generator::new(7, CALLS_PER_DAY, lateness);
    let start = Timestamp::parse("2024-05-06T00:00:00Z").unwrap_or(Timestamp::UNIX_EPOCH);
    let end = start.saturating_add(Duration::from_secs(DAYS * 86_400));
    // Judge only calls whose whole late window lies inside the run.
    let judged_end = end.saturating_sub(LATE_WINDOW).saturating_sub(POLL);
    let calls: Vec<_> = generator
        .visible_calls(
            LogKind::Pstn,
            start,
            judged_end,
            false,
            Timestamp::from_ticks(i64::MAX),
        )
        .collect();
    let within: Vec<_> = calls
        .iter()
        .filter(|call| call.visible.duration_since(call.start) <= LATE_WINDOW)
        .collect();
    println!(
        "{DAYS} simulated days, {CALLS_PER_DAY} calls/day, poll {} min, late window {} h; {} calls judged, {:.2}% visible within the late window",
        POLL.as_secs() / 60,
        LATE_WINDOW.as_secs() / 3600,
        calls.len(),
        within.len() as f64 * 100.0 / calls.len().max(1) as f64
    );
    println!(
        "{:<20} {:>24} {:>22} {:>34}",
        "strategy",
        "rows fetched / unique",
        "caught (within window)",
        "delay after visible p50 / p99 / max"
    );
    for (name, strategy) in [
        ("sweeps (default)", Strategy::Sweeps(None)),
        ("sweeps, max 6 h", Strategy::Sweeps(Some(6 * HOUR))),
        ("sweeps, max 1 h", Strategy::Sweeps(Some(HOUR))),
        ("re-read", Strategy::Reread),
        ("no overlap", Strategy::NoOverlap),
    ] {
        let outcome = run(&strategy, &generator, start, end);
        let caught = within
            .iter()
            .filter(|call| outcome.first_seen.contains_key(&call.slot))
            .count();
        let mut delays: Vec<f64> = within
            .iter()
            .filter_map(|call| {
                outcome
                    .first_seen
                    .get(&call.slot)
                    .map(|seen| seen.duration_since(call.visible).as_secs_f64() / 60.0)
            })
            .collect();
        delays.sort_by(f64::total_cmp);
        println!(
            "{name:<20} {:>24.2} {:>21.3}% {:>15.0} / {:.0} / {:.0} min",
            outcome.fetched as f64 / outcome.first_seen.len().max(1) as f64,
            caught as f64 * 100.0 / within.len().max(1) as f64,
            percentile(&delays, 0.5),
            percentile(&delays, 0.99),
            delays.last().copied().unwrap_or(f64::NAN)
        );
    }
}
