//! Cost per row of the whole process, as users pay it (`cargo bench --bench process`):
//!
//! 1. `pstn-agent simulate` runs as its own process on loopback, its clock frozen, with
//!    `ROWS` PSTN calls in the day before it, in pages of 1,000.
//! 2. `pstn-agent --once` (a child process) reads that day into a file sink; its own
//!    user+system CPU seconds and peak RSS come from `getrusage(RUSAGE_CHILDREN)`
//!    right after it is reaped (the simulator, still running, is not counted).
//! 3. The same rows, fetched once by this program in pages of 1,000, are parsed with
//!    serde_json into `Value` on one thread: the baseline, in CPU seconds of this thread.
//!
//! Printed side by side with their ratio (agent rows per CPU-second / parse-only rows per
//! CPU-second), median of `RUNS`. Never asserted: these machines are noisy.
//! `PSTN_BENCH_ROWS` changes the volume; `PSTN_BENCH_AGENT` measures another agent
//! binary against the same simulator; `PSTN_BENCH_DIRECTORY=1` gives the source a
//! `[sources.pstn.directory]` (the simulator's 1,000 users: `user` on each event, the
//! chargeback metrics and month sums, the directory's first round);
//! `PSTN_BENCH_TENANTS=N` reads the day for N tenants of one source (`tenants = [...]`;
//! the simulator serves every tenant the same calls, so the agent delivers N times the
//! rows; the baseline's rate per CPU-second is the same). Under perf: see BENCHMARKS.md.

use std::io::Write;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const CLOCK: &str = "2024-05-20T12:00:00Z";
const RUNS: usize = 3;

fn rows() -> usize {
    std::env::var("PSTN_BENCH_ROWS")
        .ok()
        .and_then(|text| text.parse().ok())
        .unwrap_or(100_000)
}

/// `PSTN_BENCH_TENANTS`: 0 (unset) for `tenant_id`, else how many `tenants`.
fn tenant_count() -> usize {
    std::env::var("PSTN_BENCH_TENANTS")
        .ok()
        .and_then(|text| text.parse().ok())
        .unwrap_or(0)
}

/// The source's tenant lines: `tenant_id` alone, or `PSTN_BENCH_TENANTS` tenants.
fn tenant_lines() -> String {
    let tenants = tenant_count();
    if tenants == 0 {
        return "tenant_id = \"t\"\n".to_owned();
    }
    let list: Vec<String> = (0..tenants)
        .map(|index| format!("\"{index:08x}-0000-4000-8000-000000000000\""))
        .collect();
    format!("tenants = [{}]\n", list.join(", "))
}

/// CPU seconds (user + system) and peak RSS in KiB of the reaped children so far.
fn children_usage() -> (f64, i64) {
    // SAFETY: getrusage only writes the struct it is given.
    let usage = unsafe {
        let mut usage: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_CHILDREN, &mut usage);
        usage
    };
    let seconds = |time: libc::timeval| time.tv_sec as f64 + time.tv_usec as f64 / 1e6;
    (
        seconds(usage.ru_utime) + seconds(usage.ru_stime),
        usage.ru_maxrss,
    )
}

/// CPU seconds this thread has used.
fn thread_cpu() -> f64 {
    // SAFETY: clock_gettime only writes the struct it is given.
    let time = unsafe {
        let mut time: libc::timespec = std::mem::zeroed();
        libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut time);
        time
    };
    time.tv_sec as f64 + time.tv_nsec as f64 / 1e9
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|address| address.port())
        .unwrap_or_else(|error| panic!("{error}"))
}

struct Simulator(Child);

impl Drop for Simulator {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start_simulator(binary: &str, port: u16, calls_per_day: usize) -> Simulator {
    let child = Command::new(binary)
        .args(["simulate", "--address", &format!("127.0.0.1:{port}")])
        .args([
            "--clock-start",
            CLOCK,
            "--time-scale",
            "0",
            "--lateness",
            "none",
        ])
        .args(["--calls-per-day", &calls_per_day.to_string(), "--seed", "3"])
        // The agent reads at requests_per_second = 1000: a load test, not Graph's pace.
        .arg("--no-graph-limits")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|error| panic!("{binary}: {error}"));
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "the simulator did not start");
        std::thread::sleep(Duration::from_millis(20));
    }
    Simulator(child)
}

/// Every page body of the day before the clock, fetched once, in pages of 1,000.
fn fetch_pages(base: &str) -> Vec<bytes::Bytes> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap_or_else(|error| panic!("{error}"));
    runtime.block_on(async {
        let http = pstn_agent::topology::http_client().unwrap_or_else(|error| panic!("{error}"));
        let token: serde_json::Value = http
            .post(format!("{base}/t/oauth2/v2.0/token"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body("grant_type=client_credentials&client_id=11111111-1111-1111-1111-111111111111&client_secret=s&scope=x")
            .send()
            .await
            .and_then(reqwest::Response::error_for_status)
            .unwrap_or_else(|error| panic!("token: {error}"))
            .bytes()
            .await
            .map_err(|error| error.to_string())
            .and_then(|body| serde_json::from_slice(&body).map_err(|error| error.to_string()))
            .unwrap_or_else(|error| panic!("token: {error}"));
        let bearer = format!("Bearer {}", token["access_token"].as_str().unwrap_or(""));
        let mut next = Some(format!(
            "{base}/v1.0/communications/callRecords/getPstnCalls(fromDateTime=2024-05-19T12:00:00Z,toDateTime={CLOCK})"
        ));
        let mut pages = Vec::new();
        while let Some(url) = next.take() {
            let body = http
                .get(&url)
                .header("authorization", &bearer)
                .send()
                .await
                .and_then(reqwest::Response::error_for_status)
                .unwrap_or_else(|error| panic!("{url}: {error}"))
                .bytes()
                .await
                .unwrap_or_else(|error| panic!("{url}: {error}"));
            let value: serde_json::Value =
                serde_json::from_slice(&body).unwrap_or_else(|error| panic!("{error}"));
            next = value["@odata.nextLink"].as_str().map(str::to_owned);
            pages.push(body);
        }
        pages
    })
}

fn parse_only(pages: &[bytes::Bytes]) -> (usize, f64) {
    let started = thread_cpu();
    let mut rows = 0;
    for body in pages {
        let value: serde_json::Value =
            serde_json::from_slice(body).unwrap_or_else(|error| panic!("{error}"));
        rows += value["value"].as_array().map_or(0, Vec::len);
        std::hint::black_box(value);
    }
    (rows, thread_cpu() - started)
}

/// One `--once` run over the day into a fresh state and file; (CPU seconds, peak KiB, rows).
fn agent_once(binary: &str, base: &str) -> (f64, i64, usize) {
    let dir = tempfile::tempdir().unwrap_or_else(|error| panic!("{error}"));
    let out = dir.path().join("calls.jsonl");
    let config = dir.path().join("agent.toml");
    let text = format!(
        "data_dir = \"{data}\"\n[sources.pstn]\ntype = \"pstn_calls\"\n{tenants}client_id = \"11111111-1111-1111-1111-111111111111\"\nclient_secret = \"s\"\nauthority_url = \"{base}\"\ngraph_url = \"{base}\"\nlookback = \"1d\"\nrequests_per_second = 1000\n[sinks.archive]\ntype = \"file\"\npath = \"{out}\"\ninputs = [\"pstn\"]\n",
        data = dir.path().join("state").display(),
        out = out.display(),
        tenants = tenant_lines(),
    );
    let directory = std::env::var_os("PSTN_BENCH_DIRECTORY").is_some_and(|value| value == "1");
    let text = if directory {
        text + "[sources.pstn.directory]\n"
    } else {
        text
    };
    std::fs::File::create(&config)
        .and_then(|mut file| file.write_all(text.as_bytes()))
        .unwrap_or_else(|error| panic!("{error}"));
    let (before, _) = children_usage();
    let status = Command::new(binary)
        .args(["--config", &config.display().to_string(), "--once"])
        .args(["--clock-start", CLOCK, "--time-scale", "0"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .unwrap_or_else(|error| panic!("{error}"));
    let (after, peak) = children_usage();
    assert!(status.success(), "the agent failed: {status}");
    let delivered = count_lines(&out);
    (after - before, peak, delivered)
}

/// Lines of a file, read in small pieces: holding the events here would grow this
/// process, and with it the peak RSS the next forked child reports.
fn count_lines(path: &std::path::Path) -> usize {
    use std::io::Read;
    let mut file = std::fs::File::open(path).unwrap_or_else(|error| panic!("{error}"));
    let mut buffer = [0u8; 65_536];
    let mut lines = 0;
    loop {
        match file.read(&mut buffer) {
            Ok(0) => return lines,
            Ok(read) => lines += buffer[..read].iter().filter(|byte| **byte == b'\n').count(),
            Err(error) => panic!("{error}"),
        }
    }
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

fn main() {
    let binary = env!("CARGO_BIN_EXE_pstn-agent");
    // Another build of the agent (an older release, say) measured against the same
    // simulator and the same rows: PSTN_BENCH_AGENT=path/to/pstn-agent.
    let agent = std::env::var("PSTN_BENCH_AGENT").unwrap_or_else(|_| binary.to_owned());
    let port = free_port();
    let _simulator = start_simulator(binary, port, rows());
    let base = format!("http://127.0.0.1:{port}");
    // The agent runs first: a child forked while this process holds the pages would
    // count them in its peak RSS until it execs.
    let mut agent_rates = Vec::new();
    let mut peak = 0;
    let mut delivered = 0;
    for _ in 0..RUNS {
        let (seconds, run_peak, rows) = agent_once(&agent, &base);
        agent_rates.push(rows as f64 / seconds.max(1e-9));
        peak = peak.max(run_peak);
        delivered = rows;
    }
    let pages = fetch_pages(&base);
    let parse_rates = (0..RUNS)
        .map(|_| {
            let (parsed, seconds) = parse_only(&pages);
            parsed as f64 / seconds.max(1e-9)
        })
        .collect();
    let (agent, parse) = (median(agent_rates), median(parse_rates));
    println!(
        "whole process, {delivered} rows from {} tenant(s), {} pages each (median of {RUNS}):",
        tenant_count().max(1),
        pages.len()
    );
    println!(
        "  pstn-agent --once        {agent:>10.0} rows per CPU-second (user+sys of the process)"
    );
    println!(
        "  serde_json -> Value      {parse:>10.0} rows per CPU-second (one tenant's rows, one thread)"
    );
    println!("  ratio                    {:>10.2}x", agent / parse);
    println!(
        "  agent peak RSS           {:>10.1} MB",
        peak as f64 / 1024.0
    );
}
