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
    pstn_agent::run_command_line(&removed)
}
