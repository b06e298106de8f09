//! A backfill at Graph's published pace (`cargo bench --bench backfill_pace`): the
//! simulated tenant with its limits on (50 requests per 60 s per function and tenant,
//! 429 beyond), `PSTN_BENCH_CALLS_PER_DAY` PSTN calls a day (default 20,000), all
//! visible; the agent (as a library, `--once`, default pace) reads
//! `PSTN_BENCH_DAYS` days back (default 90: about 1,850 requests, 38 minutes)
//! into a console sink (stdout: send it to /dev/null, 1.8 million events are about
//! 2 GB); the results go to stderr.
//!
//! Printed: requests made, 429s (the goal is none), rows, wall time, and the floor the
//! limit allows for that many requests (one per 1.2 s: 50 per 60 s), with the ratio
//! (the goal: within 5% of the floor). Never asserted: these machines are noisy.

use pstn_agent::config::{Config, Environment};
use pstn_agent::metrics::Metrics;
use pstn_agent::retry::RetryPolicy;
use pstn_agent::shutdown::shutdown_pair;
use pstn_agent::simulate::{Lateness, SimulatorOptions};
use pstn_agent::sinks::ReopenSignal;
use pstn_agent::time::{ManualClock, SharedClock, Timestamp};
use pstn_agent::topology::{RunMode, RunOptions, run};
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

const NOW: &str = "2024-05-20T12:00:00Z";

fn env_number(name: &str, default: f64) -> f64 {
    std::env::var(name)
        .ok()
        .and_then(|text| text.parse().ok())
        .unwrap_or(default)
}

fn main() {
    let days = env_number("PSTN_BENCH_DAYS", 90.0) as u64;
    let calls_per_day = env_number("PSTN_BENCH_CALLS_PER_DAY", 20_000.0);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap_or_else(|error| panic!("{error}"));
    runtime.block_on(backfill(days, calls_per_day));
}

async fn backfill(days: u64, calls_per_day: f64) {
    let now = Timestamp::parse(NOW).unwrap_or(Timestamp::UNIX_EPOCH);
    let clock: SharedClock = Arc::new(ManualClock::new(now));
    let options = SimulatorOptions {
        calls_per_day,
        lateness: Lateness::None,
        ..SimulatorOptions::default()
    };
    let simulator = pstn_agent::simulate::start(([127, 0, 0, 1], 0).into(), options, clock.clone())
        .await
        .unwrap_or_else(|error| panic!("{error}"));
    let dir = tempfile::tempdir().unwrap_or_else(|error| panic!("{error}"));
    let url = simulator.url();
    let text = format!(
        "data_dir = \"{data}\"\n[sources.tenant]\ntype = \"pstn_calls\"\ntenant_id = \"contoso.onmicrosoft.com\"\n\
client_id = \"11111111-1111-1111-1111-111111111111\"\nclient_secret = \"s\"\nauthority_url = \"{url}\"\n\
graph_url = \"{url}\"\nlookback = \"{days}d\"\n[sinks.events]\ntype = \"console\"\ninputs = [\"tenant\"]\n",
        data = dir.path().join("state").display(),
    );
    let config = Config::parse(&text, Path::new("/"), &Environment::fixed([]))
        .unwrap_or_else(|problems| panic!("{problems:?}"));
    let metrics = Metrics::new().unwrap_or_else(|error| panic!("{error}"));
    let (_trigger, shutdown) = shutdown_pair();
    let run_options = RunOptions {
        mode: RunMode::Once,
        clock,
        retry: RetryPolicy::default(),
        reopen: ReopenSignal::default(),
        metrics,
    };
    eprintln!(
        "backfill of {days} days, {calls_per_day} PSTN calls a day, against the simulator with Graph's limits on"
    );
    let started = Instant::now();
    let report = run(&config, run_options, shutdown)
        .await
        .unwrap_or_else(|error| panic!("{error}"));
    let wall = started.elapsed().as_secs_f64();
    let stats = &simulator.stats;
    let requests = stats.graph_requests();
    let throttled = stats.throttled();
    let rows = stats.rows();
    // Graph allows 50 requests per 60 s per collection: 1.2 s a request.
    let floor = requests as f64 * 60.0 / 50.0;
    eprintln!(
        "requests {requests}, 429s {throttled}, rows {rows}, failed sources {:?}",
        report.failed
    );
    eprintln!(
        "wall {wall:.1} s, floor {floor:.1} s (requests × 1.2 s), ratio {:.3}",
        wall / floor.max(0.001)
    );
    // The fewest requests these rows could take: full pages of 1,000.
    let fewest = rows.div_ceil(1000) as f64 * 60.0 / 50.0;
    eprintln!(
        "floor for the rows alone {fewest:.1} s (one request per 1,000 rows), ratio {:.3}",
        wall / fewest.max(0.001)
    );
}
