//! `pstn-agent validate --config FILE`: checks the file without touching the network.

use crate::config::{Config, ConfigError, Environment};
use std::path::Path;
use std::process::ExitCode;

/// Exit 0 with a one-line summary, or 78 with one line per problem naming its key.
/// With `local_checks`, what the agent checks at start without the network (places
/// this user must write: `data_dir`, file sinks; certificates and their keys; a state
/// file it would refuse) are problems too: a config that validates must start. Without, the file alone (one meant for a container).
pub(crate) fn run(config_path: &Path, local_checks: bool) -> ExitCode {
    let loaded = Config::load(config_path, &Environment::process()).and_then(|config| {
        if local_checks {
            config.check_local_paths().map_err(ConfigError::Invalid)?;
            // A state file the agent would refuse (garbled, not ours, newer).
            // (PostgreSQL's schema is checked when the agent starts: no network here.)
            let sqlite = config.state.postgres_url.is_none();
            if sqlite && let Err(error) = crate::state::SqliteStore::check(&config.data_dir) {
                let mut problems = crate::config::Problems::default();
                problems.add("data_dir", error);
                return Err(ConfigError::Invalid(problems));
            }
        }
        Ok(config)
    });
    match loaded {
        Ok(config) => {
            let count =
                |n: usize, what: &str| format!("{n} {what}{}", if n == 1 { "" } else { "s" });
            eprintln!(
                "{}: ok ({}, {})",
                config_path.display(),
                count(config.sources.len(), "source"),
                count(config.sinks.len(), "sink")
            );
            for source in &config.sources {
                eprintln!("{}", plan_line(source));
            }
            for source in config.sources.iter().filter(|s| s.directory.is_some()) {
                eprintln!(
                    "note: sources.{}.directory reads Graph's /users: the application needs the permission User.Read.All (without it events go out without `user`)",
                    source.name
                );
            }
            ExitCode::SUCCESS
        }
        Err(error) => super::config_error(&error),
    }
}

/// What a source's late-row plan asks of Graph once caught up, against its pace.
fn plan_line(source: &crate::config::SourceConfig) -> String {
    use crate::config::format_duration;
    use crate::model::graph_limits::COLLECTION_PER_MINUTE;
    let pace = source.requests_per_minute;
    let above = if pace > f64::from(COLLECTION_PER_MINUTE) {
        format!(
            " (above Graph's published {COLLECTION_PER_MINUTE} per minute per function and tenant: Graph will answer 429; meant for stand-ins and load tests)"
        )
    } else {
        String::new()
    };
    if source.kind.is_report() {
        return format!(
            "sources.{}: the report's days make about {:.0} requests per hour (one per UTC day late_window {} reaches, today included, each poll_interval {}; one more per further 1,000 rows of a day), of the {:.0} per hour its pace allows (requests_per_minute {pace}){above}",
            source.name,
            source.planned_requests_per_hour(),
            format_duration(source.late_window),
            format_duration(source.poll_interval),
            pace * 60.0,
        );
    }
    format!(
        "sources.{}: the late-row plan makes about {:.0} requests per hour once caught up (poll_interval {}, late_window {}, max_delay {}; a backfill apart; one more per further 1,000 rows in a window), of the {:.0} per hour its pace allows (requests_per_minute {pace}){above}",
        source.name,
        source.planned_requests_per_hour(),
        format_duration(source.poll_interval),
        format_duration(source.late_window),
        source
            .max_delay
            .map_or_else(|| "unset".to_owned(), format_duration),
        pace * 60.0,
    )
}
