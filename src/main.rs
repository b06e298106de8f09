//! The `pstn-agent` binary. The command line, its commands and everything they run
//! live in the library: start reading at `pstn_agent::run_command_line`
//! (src/commands.rs), which parses and hands each command to `src/commands/`.

use std::process::ExitCode;

fn main() -> ExitCode {
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

/// Raises the soft limit of open files to the hard one: a source of many tenants keeps
/// a SQLite connection (two descriptors: the database and its WAL) per tenant, past the common soft 1,024. The
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
