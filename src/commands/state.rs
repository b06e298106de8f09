//! `pstn-agent state copy --config FILE [--force]`: moves an agent's SQLite state into
//! the PostgreSQL of `[state] postgres_url`, so it can run as replicas without reading
//! anything again.

use std::path::Path;
use std::process::ExitCode;

/// Copies every source's state from `data_dir`'s SQLite file into PostgreSQL: 0 when
/// done, 1 when refused or failed (nothing of a refused unit is written), 78 for a bad
/// config or one without `postgres_url`.
pub(crate) async fn copy(config_path: &Path, force: bool) -> ExitCode {
    let config = match super::load(config_path) {
        Ok(config) => config,
        Err(error) => return super::config_error(&error),
    };
    let Some(url) = &config.state.postgres_url else {
        eprintln!("state.postgres_url: not set; state copy needs the PostgreSQL to copy into");
        return ExitCode::from(super::EXIT_CONFIG);
    };
    let postgres = match crate::state::PgStore::new(url.expose()) {
        Ok(postgres) => postgres,
        Err(why) => {
            eprintln!("state.postgres_url: {why}");
            return ExitCode::from(super::EXIT_CONFIG);
        }
    };
    match crate::state::copy(&config.data_dir, &postgres, force).await {
        Ok(report) => {
            for (source, tenant, rows) in &report {
                eprintln!("copied source {source} (tenant {tenant}): {rows} rows");
            }
            eprintln!(
                "state copied: {} source{} from {} into PostgreSQL; start the agents with [state] postgres_url",
                report.len(),
                if report.len() == 1 { "" } else { "s" },
                config.data_dir.display()
            );
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("state copy: {error}");
            ExitCode::FAILURE
        }
    }
}
