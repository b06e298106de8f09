//! The `pstn-agent` binary. The command line, its commands and everything they run
//! live in the library: start reading at `pstn_agent::run_command_line`
//! (src/commands.rs), which parses and hands each command to `src/commands/`.

use std::process::ExitCode;

fn main() -> ExitCode {
    // A MALLOC_MMAP_THRESHOLD_ in the environment (glibc's own tunable) wins.
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    if std::env::var_os("MALLOC_MMAP_THRESHOLD_").is_none() {
        keep_page_buffers_out_of_the_arenas();
    }
    let removed: Vec<&'static str> = pstn_agent::IGNORED_ENVIRONMENT
        .iter()
        .copied()
        .filter(|name| std::env::var_os(name).is_some())
        .collect();
    for name in &removed {
        // SAFETY: the process has one thread here: nothing else reads the environment.
        unsafe { std::env::remove_var(name) };
    }
    raise_open_files_limit();
    pstn_agent::run_command_line(&removed)
}

/// glibc's malloc serves blocks of 128 KiB and more from mappings of their own until
/// the first such block is freed; then it raises that threshold to the freed size (up
/// to 32 MiB). After the first page, each page's buffers (the body, the event lines,
/// the rows, hyper's read buffers: 130 KiB to 1 MiB, a few MiB a page) come from the
/// per-thread arenas, which they fragment: freed there, they stay in the process.
/// Fixing the threshold keeps them in mappings given back on free. Measured (issue 28,
/// step 3 in BENCHMARKS.md), one `--once` of 100,000 calls/day: peak RSS about 37.7 ->
/// 31.9 MB; the price is page faults on each new buffer, about 0.15 to 0.2 s more
/// system time per 75,000 rows on the shared test machine.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn keep_page_buffers_out_of_the_arenas() {
    // SAFETY: mallopt sets one malloc parameter; no other thread exists yet. A refusal
    // (0) leaves malloc as it was, which only costs memory.
    let _ = unsafe { libc::mallopt(libc::M_MMAP_THRESHOLD, 128 * 1024) };
}

/// Raises the soft limit of open files to the hard one: a source of many tenants keeps
/// a SQLite connection (three descriptors) per tenant, past the common soft 1,024. The
/// agent itself says at start when even the hard limit is short (`commands/nofile`).
fn raise_open_files_limit() {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes into the struct it is given, which lives on this stack.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } != 0 {
        return;
    }
    if limit.rlim_cur < limit.rlim_max {
        limit.rlim_cur = limit.rlim_max;
        // SAFETY: setrlimit only reads the struct; a refusal leaves the limit as it was,
        // which the agent's start-up check then reports.
        let _ = unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &limit) };
    }
}
