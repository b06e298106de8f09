//! Many tenants and many replicas (issue 27), `cargo bench --bench tenants`:
//!
//! 1. One agent process reads `PSTN_BENCH_TENANTS` tenants (default 1,000) of one
//!    multi-tenant source from `pstn-agent simulate` (a real clock, Graph's limits off,
//!    a few rows per tenant and hour), polling every `POLL`. Printed: peak RSS (VmHWM),
//!    CPU seconds per poll cycle (every tenant polled once, after the first cycle), and
//!    `/metrics`: its size and the time of a scrape (median of five).
//! 2. With PostgreSQL installed (Debian's, as the tests use it), three replicas share the
//!    same tenants through a throw-away cluster: units per replica once settled (most
//!    and fewest), then one replica is killed with SIGKILL and the time until the other
//!    two hold every unit is printed (bounded by `lease_ttl` + a keeper round).
//!
//! Never asserted: these machines are noisy. Each figure is one run.

// The tests' own throw-away PostgreSQL and tools (`postgres` reaches `super::tools`).
#[allow(dead_code)]
#[path = "../tests/it/common/postgres.rs"]
mod postgres;
#[allow(dead_code)]
#[path = "../tests/it/common/tools.rs"]
mod tools;

/// The clock `tools::spawn_agent_at_now` freezes at (unused here).
#[allow(dead_code)]
const NOW: &str = "2024-05-20T12:00:00Z";

use postgres::Postgres;
use std::io::{Read, Write};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use tools::free_port;

const CLIENT_ID: &str = "11111111-1111-1111-1111-111111111111";
const POLL: Duration = Duration::from_secs(20);
const LEASE_TTL: &str = "10s";

fn tenants() -> usize {
    std::env::var("PSTN_BENCH_TENANTS")
        .ok()
        .and_then(|text| text.parse().ok())
        .unwrap_or(1_000)
}

/// A child process killed (SIGKILL) and reaped when dropped.
struct Process(Child);

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Process {
    fn pid(&self) -> u32 {
        self.0.id()
    }
}

fn wait_for_port(port: u16, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "{what} did not start listening");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn start_simulator(binary: &str, port: u16) -> Process {
    let child = Command::new(binary)
        .args(["simulate", "--address", &format!("127.0.0.1:{port}")])
        // About 4 calls per hour and tenant: the cost measured is the tenants', not rows'.
        .args(["--calls-per-day", "96", "--lateness", "none", "--seed", "5"])
        .arg("--no-graph-limits")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|error| panic!("{binary}: {error}"));
    wait_for_port(port, "the simulator");
    Process(child)
}

/// A tenant name per index, as an MSP's list would hold them.
fn tenant(index: usize) -> String {
    format!("customer{index:04}.onmicrosoft.com")
}

/// The configuration of one agent: every tenant in one source, a file sink, `state` extra.
fn config_text(dir: &Path, base: &str, api_port: u16, count: usize, state: &str) -> String {
    let list: Vec<String> = (0..count).map(tenant).collect();
    format!(
        "data_dir = \"{data}\"\n[api]\naddress = \"127.0.0.1:{api_port}\"\n{state}\
         [sources.customers]\ntype = \"pstn_calls\"\ntenants = {list:?}\n\
         client_id = \"{CLIENT_ID}\"\nclient_secret = \"s\"\nauthority_url = \"{base}\"\n\
         graph_url = \"{base}\"\nlookback = \"1h\"\npoll_interval = \"{poll}s\"\n\
         [sinks.archive]\ntype = \"file\"\npath = \"{out}\"\ninputs = [\"customers\"]\n",
        data = dir.join("state").display(),
        poll = POLL.as_secs(),
        out = dir.join("calls.jsonl").display(),
    )
}

fn spawn_agent(binary: &str, dir: &Path, text: &str) -> Process {
    let config = dir.join("agent.toml");
    std::fs::File::create(&config)
        .and_then(|mut file| file.write_all(text.as_bytes()))
        .unwrap_or_else(|error| panic!("{error}"));
    let child = Command::new(binary)
        .args(["--config", &config.display().to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|error| panic!("{binary}: {error}"));
    Process(child)
}

/// `GET path` on loopback: the body and how long the whole answer took.
fn get(port: u16, path: &str) -> Option<(String, Duration)> {
    let started = Instant::now();
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream
        .write_all(format!("GET {path} HTTP/1.0\r\nHost: localhost\r\n\r\n").as_bytes())
        .ok()?;
    let mut answer = String::new();
    stream.read_to_string(&mut answer).ok()?;
    let took = started.elapsed();
    let (_, body) = answer.split_once("\r\n\r\n")?;
    Some((body.to_owned(), took))
}

/// The sum of every sample of `name` whose labels contain `with`.
fn sum(metrics: &str, name: &str, with: &str) -> f64 {
    metrics
        .lines()
        .filter(|line| line.starts_with(name) && line.contains(with))
        .filter(|line| matches!(line.as_bytes().get(name.len()), Some(b'{' | b' ')))
        .filter_map(|line| line.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

/// CPU seconds (user + system) a live process has used, from `/proc/PID/stat`.
fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command name (which may hold spaces) start at the state, field 3.
    let after = stat.rsplit_once(") ").map_or("", |(_, rest)| rest);
    let fields: Vec<&str> = after.split(' ').collect();
    let ticks = |index: usize| fields.get(index).and_then(|text| text.parse::<f64>().ok());
    // SAFETY: sysconf has no preconditions.
    let per_second = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
    (ticks(11).unwrap_or(0.0) + ticks(12).unwrap_or(0.0)) / per_second
}

/// Peak resident set in MB of a live process (`VmHWM`).
fn peak_rss_mb(pid: u32) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|rest| {
            rest.trim()
                .trim_end_matches("kB")
                .trim()
                .parse::<f64>()
                .ok()
        })
        .map_or(0.0, |kib| kib / 1024.0)
}

/// Polls `check` every 200 ms until it gives a value or `limit` passes.
fn until<T>(limit: Duration, what: &str, mut check: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(value) = check() {
            return value;
        }
        assert!(
            Instant::now() < deadline,
            "{what} did not happen within {limit:?}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Successful polls of the agent listening on `port` so far.
fn polls(port: u16) -> Option<f64> {
    let (metrics, _) = get(port, "/metrics")?;
    Some(sum(
        &metrics,
        "pstn_source_polls_total",
        "outcome=\"success\"",
    ))
}

fn one_process(binary: &str, base: &str, count: usize) {
    let dir = tempfile::tempdir().unwrap_or_else(|error| panic!("{error}"));
    let api = free_port();
    let agent = spawn_agent(
        binary,
        dir.path(),
        &config_text(dir.path(), base, api, count, ""),
    );
    let started = Instant::now();
    let target = count as f64;
    until(POLL * 6, "the first cycle", || {
        polls(api).filter(|done| *done >= target)
    });
    let first_cycle = started.elapsed();
    // Steady state: three more cycles, CPU per cycle from the process's own clock.
    let (cpu_before, polls_before) = (cpu_seconds(agent.pid()), polls(api).unwrap_or(0.0));
    let done_after = polls_before + 3.0 * target;
    until(POLL * 6, "three more cycles", || {
        polls(api).filter(|done| *done >= done_after)
    });
    let cycles = (polls(api).unwrap_or(0.0) - polls_before) / target;
    let per_cycle = (cpu_seconds(agent.pid()) - cpu_before) / cycles.max(1e-9);
    let mut scrapes: Vec<(usize, Duration)> = (0..5)
        .filter_map(|_| get(api, "/metrics").map(|(body, took)| (body.len(), took)))
        .collect();
    scrapes.sort_by_key(|(_, took)| *took);
    let (size, took) = scrapes.get(scrapes.len() / 2).copied().unwrap_or_default();
    println!("one process, {count} tenants, poll_interval {POLL:?}:");
    println!("  first cycle (every tenant signed in and read) {first_cycle:>8.1?}");
    println!("  CPU per poll cycle (after the first)          {per_cycle:>8.2} s");
    println!(
        "  peak RSS                                      {:>8.1} MB",
        peak_rss_mb(agent.pid())
    );
    println!(
        "  /metrics size                                 {:>8.0} KB",
        size as f64 / 1024.0
    );
    println!("  /metrics scrape (median of 5)                 {took:>8.1?}");
}

/// Units each replica holds (from its `/metrics`), once every replica answers.
fn held(ports: &[u16]) -> Option<Vec<f64>> {
    ports
        .iter()
        .map(|port| Some(sum(&get(*port, "/metrics")?.0, "pstn_lease_units_held", "")))
        .collect()
}

fn replicas(binary: &str, base: &str, count: usize) {
    let Some(cluster) = Postgres::start() else {
        println!("three replicas: skipped, PostgreSQL is not installed");
        return;
    };
    let dirs: Vec<tempfile::TempDir> = (0..3)
        .map(|_| tempfile::tempdir().unwrap_or_else(|error| panic!("{error}")))
        .collect();
    let ports: Vec<u16> = (0..3).map(|_| free_port()).collect();
    let mut agents: Vec<Option<Process>> = dirs
        .iter()
        .zip(&ports)
        .enumerate()
        .map(|(index, (dir, port))| {
            let state = format!(
                "[state]\npostgres_url = \"{}\"\nlease_ttl = \"{LEASE_TTL}\"\nreplica_name = \"replica-{index}\"\n",
                cluster.url()
            );
            let text = config_text(dir.path(), base, *port, count, &state);
            Some(spawn_agent(binary, dir.path(), &text))
        })
        .collect();
    let target = count as f64;
    let mut last = Vec::new();
    // Settled: every unit held, the same twice, and three lease_ttl after the start (a
    // replica that started first holds every unit until the others' keepers ask).
    let started = Instant::now();
    let ttl = Duration::from_secs(LEASE_TTL.trim_end_matches('s').parse().unwrap_or(10));
    let settled = until(Duration::from_secs(240), "an even share", || {
        let now = held(&ports)?;
        let stable = now == last && now.iter().sum::<f64>() == target;
        last = now.clone();
        (stable && started.elapsed() > ttl * 3).then_some(now)
    });
    let most = settled.iter().copied().fold(0.0, f64::max);
    let fewest = settled.iter().copied().fold(f64::INFINITY, f64::min);
    // The replica holding the most is killed (SIGKILL, reaped).
    let victim = (0..settled.len())
        .max_by(|a, b| settled[*a].total_cmp(&settled[*b]))
        .unwrap_or(0);
    agents[victim] = None;
    let rest: Vec<u16> = (0..ports.len())
        .filter(|index| *index != victim)
        .map(|index| ports[index])
        .collect();
    let killed = Instant::now();
    until(Duration::from_secs(120), "the takeover", || {
        let now = held(&rest)?;
        (now.iter().sum::<f64>() == target).then_some(())
    });
    let takeover = killed.elapsed();
    println!("three replicas sharing {count} tenants (lease_ttl {LEASE_TTL}):");
    println!("  units per replica once settled               most {most}, fewest {fewest}");
    println!("  every unit held again after kill -9 of the one holding most {takeover:>8.1?}");
    drop(agents);
}

fn main() {
    let binary = env!("CARGO_BIN_EXE_pstn-agent");
    let count = tenants();
    let port = free_port();
    let _simulator = start_simulator(binary, port);
    let base = format!("http://127.0.0.1:{port}");
    one_process(binary, &base, count);
    replicas(binary, &base, count);
}
