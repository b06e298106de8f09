//! `[state]`: where state lives. Without `postgres_url`, in SQLite in `data_dir` (one
//! agent); with it, in PostgreSQL, shared by any number of replicas (CONTRACT "State
//! shared by replicas").

use crate::model::Secret;
use crate::settings::{Fields, Problems};
use std::time::Duration;

/// A dead replica's work moves after this, unless `lease_ttl` says otherwise.
pub const DEFAULT_LEASE_TTL: Duration = Duration::from_secs(30);

/// The `[state]` table, validated.
#[derive(Debug, Clone)]
pub struct StateConfig {
    /// `postgres_url`: the shared database (its password inside: never printed).
    pub postgres_url: Option<Secret>,
    /// `lease_ttl`: how long a replica's lease on a unit lasts without renewal.
    pub lease_ttl: Duration,
    /// `replica_name`: this replica's name in the leases (default: host name and pid).
    pub replica_name: Option<String>,
}

impl Default for StateConfig {
    fn default() -> Self {
        StateConfig {
            postgres_url: None,
            lease_ttl: DEFAULT_LEASE_TTL,
            replica_name: None,
        }
    }
}

impl StateConfig {
    /// This replica's name: `replica_name`, else the host name and the process id.
    pub fn replica_name(&self) -> String {
        self.replica_name.clone().unwrap_or_else(|| {
            let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
                .map(|name| name.trim().to_owned())
                .unwrap_or_else(|_| "replica".to_owned());
            format!("{host}-{}", std::process::id())
        })
    }
}

/// Reads `[state]` from the file's top level (absent: SQLite), one problem line per
/// key: a URL that is not a PostgreSQL URL names `state.postgres_url` (never its value).
pub(crate) fn read(top: &mut Fields<'_>, problems: &mut Problems) -> StateConfig {
    let Some(table) = top.table("state", problems) else {
        return StateConfig::default();
    };
    let mut fields = Fields::new("state", table, top.environment());
    let postgres_url =
        fields.string("postgres_url", problems).and_then(
            |url| match super::postgres::PgStore::new(&url) {
                Ok(_) => Some(Secret::new(url)),
                Err(why) => {
                    problems.add("state.postgres_url", why);
                    None
                }
            },
        );
    let lease_ttl = fields
        .duration("lease_ttl", DEFAULT_LEASE_TTL, problems)
        .unwrap_or(DEFAULT_LEASE_TTL);
    if lease_ttl < Duration::from_secs(1) {
        problems.add("state.lease_ttl", "must be at least 1s");
    }
    let replica_name = fields.string("replica_name", problems);
    if replica_name
        .as_deref()
        .is_some_and(|name| name.trim().is_empty())
    {
        problems.add("state.replica_name", "must not be empty");
    }
    fields.finish(problems);
    StateConfig {
        postgres_url,
        lease_ttl,
        replica_name,
    }
}
