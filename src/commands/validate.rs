//! `pstn-agent validate --config FILE`: checks the file without touching the network.

use crate::config::{Config, Environment};
use std::path::Path;
use std::process::ExitCode;

/// Exit 0 with a one-line summary, or 78 with one line per problem naming its key.
/// Places this user could not write (`data_dir`, file sinks) are said too, as warnings:
/// the file may be meant for another machine (a container), but here the agent would
/// not start.
pub(crate) fn run(config_path: &Path) -> ExitCode {
    match Config::load(config_path, &Environment::process()) {
        Ok(config) => {
            let count =
                |n: usize, what: &str| format!("{n} {what}{}", if n == 1 { "" } else { "s" });
            eprintln!(
                "{}: ok ({}, {})",
                config_path.display(),
                count(config.sources.len(), "source"),
                count(config.sinks.len(), "sink")
            );
            for source in config.sources.iter().filter(|s| s.directory.is_some()) {
                eprintln!(
                    "note: sources.{}.directory reads Graph's /users: the application needs the permission User.Read.All (without it events go out without `user`)",
                    source.name
                );
            }
            if let Err(problems) = config.check_local_paths() {
                for line in problems.0 {
                    eprintln!(
                        "warning: on this machine, as this user, the agent would not start: {line}"
                    );
                }
            }
            ExitCode::SUCCESS
        }
        Err(error) => super::config_error(&error),
    }
}
