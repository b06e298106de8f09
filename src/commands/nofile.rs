//! Open files: a source of many tenants keeps a SQLite connection per tenant (the
//! database and its WAL: two descriptors; the shared-memory index is one per process)
//! besides its sockets, so a
//! thousand tenants need more than the common soft limit of 1,024. The binary raises
//! its soft limit to the hard one first thing (`main.rs`); when even that is short,
//! one line at start says so.

/// Descriptors the agent uses whatever its tenants: the runtime, sinks, the api
/// listener, the simulator's and sinks' sockets.
const BASE: u64 = 128;
/// Per tenant or source with state in SQLite: the database, `-wal`, a socket (2,022
/// descriptors were open at 1,000 tenants: BENCHMARKS.md, issue 27).
const PER_UNIT_SQLITE: u64 = 3;
/// Per tenant or source with state in PostgreSQL: a socket (the pool's are shared).
const PER_UNIT_POSTGRES: u64 = 1;

/// About how many descriptors `config` needs at most.
pub(super) fn needed(config: &crate::config::Config) -> u64 {
    let units: u64 = config
        .sources
        .iter()
        .map(|source| source.tenants.len().max(1) as u64)
        .sum();
    let per_unit = match config.state.postgres_url {
        Some(_) => PER_UNIT_POSTGRES,
        None => PER_UNIT_SQLITE,
    };
    BASE + units * per_unit
}

/// The open-files limits in force (soft, hard), from `/proc/self/limits` (the binary's
/// `main` raised the soft one to the hard one before anything else: this crate has no
/// unsafe code); `None` where that file does not exist or reads otherwise.
fn limits() -> Option<(u64, u64)> {
    let text = std::fs::read_to_string("/proc/self/limits").ok()?;
    let rest = text
        .lines()
        .find_map(|line| line.strip_prefix("Max open files"))?;
    let mut fields = rest.split_whitespace();
    let mut next = || match fields.next()? {
        "unlimited" => Some(u64::MAX),
        number => number.parse().ok(),
    };
    Some((next()?, next()?))
}

/// Says, in one line, when the open-files limit is below what `config`'s tenants need.
pub(super) fn check(config: &crate::config::Config) {
    let needed = needed(config);
    let each = match config.state.postgres_url {
        Some(_) => "state in PostgreSQL: about 1 each",
        None => "state in SQLite: about 3 each",
    };
    match limits().ok_or("/proc/self/limits does not say") {
        Ok((soft, _)) if soft >= needed => {
            tracing::debug!(open_files_limit = soft, needed, "open files limit")
        }
        Ok((soft, hard)) => tracing::warn!(
            open_files_limit = soft,
            hard_limit = hard,
            needed,
            "open files: the limit ({soft}) is below the about {needed} descriptors this configuration's tenants need ({each}); raise the hard limit (systemd LimitNOFILE=, ulimit -Hn, a container's nofile ulimit) or tenants will fail to open their state"
        ),
        Err(why) => tracing::debug!(why, "open files: the limit is not known"),
    }
}
