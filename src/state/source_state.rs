//! One source's rows in the state database: cursors, delivered ids, pruning.

use super::StateError;
use crate::facts::{Month, MonthSum, PlanUsage};
use crate::time::{Timestamp, duration_to_ticks};
use rusqlite::{Connection, params};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

mod chargeback;
mod connection;
pub(super) use chargeback::rows as chargeback_rows;
#[cfg(any(test, feature = "__internals"))]
pub use connection::counted::open_connections;
mod delivered;

use connection::SourceConnection;

/// One source's state, with its own connection, open while in use (cheap to clone,
/// blocking to use: call it from `spawn_blocking`).
#[derive(Debug, Clone)]
pub struct SqliteSource {
    path: PathBuf,
    source_id: i64,
    connection: Arc<SourceConnection>,
}

/// Whose progress a connection keeps: a source of one tenant, or one tenant of a
/// source that reads `n` (a row of its own per tenant, and a share of the page cache).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Tenants {
    /// `tenant_id`: the source's one tenant.
    One,
    /// One of the source's `tenants` (how many it has).
    OneOf(usize),
}

/// SQLite's page cache of all the tenants of one source together, in KiB. Each tenant
/// of `n` gets a share of it, at least 16 KiB (so 1,000 tenants cost what issue 27
/// measured) and at most SQLite's default of 2,000 KiB: a heavy tenant among few keeps
/// its look-ups and commits in memory. With 16 KiB whatever the count, one tenant of
/// 75,520 rows cost 332,549 reads and 59,202 writes against 711 and 3,235, and about
/// twice the CPU per row (BENCHMARKS, "a tenant's page cache by its share").
const TENANTS_CACHE_KIB: usize = 16_000;

/// The page cache (KiB) of one tenant of `count`.
fn tenant_cache_kib(count: usize) -> usize {
    (TENANTS_CACHE_KIB / count.max(1)).clamp(16, 2_000)
}

/// What one acknowledged batch changes, written in one transaction.
#[derive(Debug, Default)]
pub struct Commit {
    /// Keys of rows every sink accepted (opaque bytes to state), with their call start.
    pub delivered: Vec<(Vec<u8>, Timestamp)>,
    /// Sweeps whose windows are now fully read, in order: (delay, new cursor).
    pub cursors: Vec<(Duration, Timestamp)>,
    /// Outbound Calling Plans seconds to add, by (month, licenseCapability).
    pub plan_usage: Vec<PlanUsage>,
    /// Chargeback sums to add (sources with a directory).
    pub chargeback: Vec<MonthSum>,
}

impl SqliteSource {
    /// Opens the state of source `name` reading `tenant_id`. A source of one tenant
    /// is refused when its name was recorded with another kind or tenant, as ever; a
    /// tenant of a multi-tenant source has its own row per (name, tenant), refused only
    /// when recorded with another kind, and its share of the source's page cache (a
    /// thousand tenants share one file and one process).
    pub(super) fn open(
        path: &Path,
        name: &str,
        kind: &str,
        tenant_id: &str,
        tenants: Tenants,
    ) -> Result<Self, StateError> {
        // A thousand tenants' caches were 36 MB at 64 KiB each; a miss is a read
        // from the OS's cache.
        let cache_kib = match tenants {
            Tenants::One => None,
            Tenants::OneOf(count) => Some(tenant_cache_kib(count)),
        };
        let connection = connection::open(path, cache_kib)?;
        let failed = super::schema::database_error(path);
        let one_of_many = matches!(tenants, Tenants::OneOf(_));
        let recorded: Vec<(i64, String, String)> = connection
            .prepare("SELECT id, kind, tenant_id FROM sources WHERE name = ?1 ORDER BY id")
            .and_then(|mut statement| {
                statement
                    .query_map([name], |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)))?
                    .collect()
            })
            .map_err(&failed)?;
        let same_tenant = recorded.iter().find(|(_, _, stored)| stored == tenant_id);
        let source_id = match (same_tenant, recorded.first()) {
            (Some((id, stored_kind, _)), _) if stored_kind == kind => *id,
            (Some((_, stored_kind, stored_tenant)), _)
            | (None, Some((_, stored_kind, stored_tenant)))
                if !one_of_many || stored_kind != kind =>
            {
                return Err(StateError::Refused {
                    path: path.to_owned(),
                    message: format!(
                        "source {name:?} was recorded as {stored_kind} of tenant {stored_tenant}, now configured as {kind} of tenant {tenant_id}; give the source a new name (or delete its rows) so its progress is not mixed up"
                    ),
                });
            }
            _ => {
                connection
                    .execute(
                        "INSERT INTO sources (name, kind, tenant_id) VALUES (?1, ?2, ?3)",
                        params![name, kind, tenant_id],
                    )
                    .map_err(&failed)?;
                connection.last_insert_rowid()
            }
        };
        Ok(SqliteSource {
            path: path.to_owned(),
            source_id,
            connection: Arc::new(SourceConnection::new(path, connection, cache_kib)),
        })
    }

    /// Closes this source's connection until its next use: a source between polls
    /// holds none.
    pub fn rest(&self) {
        self.connection.rest();
    }

    /// This source's copy of the directory, on a connection of its own (the
    /// directory sync writes it while polls read it).
    pub fn directory(&self) -> Result<super::SqliteDirectory, StateError> {
        super::SqliteDirectory::open(&self.path, self.source_id)
    }

    fn with<T>(
        &self,
        work: impl FnOnce(&mut Connection) -> Result<T, rusqlite::Error>,
    ) -> Result<T, StateError> {
        self.connection.with(work)
    }

    /// The saved cursors as (delay, cursor), shortest delay first.
    pub fn cursors(&self) -> Result<Vec<(Duration, Timestamp)>, StateError> {
        self.with(|connection| {
            let mut statement = connection
                .prepare_cached("SELECT delay_ticks, cursor_ticks FROM sweeps WHERE source_id = ?1 ORDER BY delay_ticks")?;
            let rows = statement.query_map([self.source_id], |row| {
                let delay: i64 = row.get(0)?;
                let cursor: i64 = row.get(1)?;
                Ok((Duration::from_nanos(delay.max(0) as u64 * 100), Timestamp::from_ticks(cursor)))
            })?;
            rows.collect()
        })
    }

    /// Replaces the saved sweeps with this set (the ladder changed, or a first run).
    pub fn replace_cursors(&self, cursors: &[(Duration, Timestamp)]) -> Result<(), StateError> {
        self.with(|connection| {
            let transaction = connection.transaction()?;
            transaction.execute("DELETE FROM sweeps WHERE source_id = ?1", [self.source_id])?;
            for (delay, cursor) in cursors {
                transaction.execute(
                    "INSERT INTO sweeps (source_id, delay_ticks, cursor_ticks, cursor) VALUES (?1, ?2, ?3, ?4)",
                    params![self.source_id, duration_to_ticks(*delay), cursor.ticks(), cursor.to_string()],
                )?;
            }
            transaction.commit()
        })
    }

    /// For each (key, call start), whether it has NOT been delivered yet.
    pub fn unseen<K: AsRef<[u8]>>(&self, rows: &[(K, Timestamp)]) -> Result<Vec<bool>, StateError> {
        self.with(|connection| {
            // One read transaction for the page: outside one, SQLite takes and drops its
            // file locks around every lookup (two fcntl calls per row).
            let transaction = connection.transaction()?;
            let rows: Vec<(&[u8], i64)> = rows
                .iter()
                .map(|(key, start)| (key.as_ref(), start.ticks()))
                .collect();
            let unseen = delivered::unseen(&transaction, self.source_id, &rows)?;
            transaction.commit()?;
            Ok(unseen)
        })
    }

    /// Records a batch every sink accepted, and a sweep's progress, atomically.
    pub fn commit(&self, commit: &Commit) -> Result<(), StateError> {
        self.with(|connection| {
            // Immediate: the chargeback sums are read and written back in it, and a
            // deferred transaction that read first could not write after another
            // connection (another tenant's) committed (SQLITE_BUSY_SNAPSHOT).
            let transaction =
                connection.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
            {
                delivered::record(&transaction, self.source_id, &commit.delivered)?;
                let mut usage = transaction.prepare_cached(
                    "INSERT INTO plan_usage (source_id, month, license, seconds) VALUES (?1, ?2, ?3, ?4)
                     ON CONFLICT (source_id, month, license) DO UPDATE SET seconds = seconds + excluded.seconds",
                )?;
                for PlanUsage { month, license, seconds } in &commit.plan_usage {
                    usage.execute(params![self.source_id, month.to_string(), license, seconds])?;
                }
                chargeback::add(&transaction, self.source_id, &commit.chargeback)?;
                for (delay, cursor) in &commit.cursors {
                    transaction.execute(
                        "UPDATE sweeps SET cursor_ticks = ?3, cursor = ?4 WHERE source_id = ?1 AND delay_ticks = ?2",
                        params![self.source_id, duration_to_ticks(*delay), cursor.ticks(), cursor.to_string()],
                    )?;
                }
            }
            transaction.commit()
        })
    }

    /// Outbound Calling Plans seconds of calls that started in `month`, by license.
    pub fn plan_usage(&self, month: Month) -> Result<Vec<(String, f64)>, StateError> {
        self.with(|connection| {
            let mut statement = connection.prepare_cached(
                "SELECT license, seconds FROM plan_usage WHERE source_id = ?1 AND month = ?2",
            )?;
            let rows = statement.query_map(params![self.source_id, month.to_string()], |row| {
                Ok((row.get(0)?, row.get(1)?))
            })?;
            rows.collect()
        })
    }

    /// The chargeback sums of calls that started in `month`.
    pub fn chargeback(&self, month: Month) -> Result<Vec<MonthSum>, StateError> {
        self.with(|connection| chargeback::read(connection, self.source_id, month))
    }

    /// Forgets delivered keys whose call started before `before` (no sweep reads them
    /// again), in slices of about [`PRUNE_SLICE`] rows, each its own transaction, and
    /// asks `keep_going` between slices: a huge backlog never holds up a shutdown, and
    /// what is left is pruned next time. Returns how many keys went.
    pub fn prune(
        &self,
        before: Timestamp,
        keep_going: impl Fn() -> bool,
    ) -> Result<usize, StateError> {
        let mut pruned = 0;
        loop {
            let slice = self.with(|connection| {
                connection
                    .prepare_cached(
                        "DELETE FROM delivered WHERE source_id = ?1 AND call_start < ?2
                       AND call_start <= coalesce((SELECT call_start FROM delivered
                           WHERE source_id = ?1 AND call_start < ?2
                           ORDER BY call_start LIMIT 1 OFFSET ?3), ?2)",
                    )?
                    .execute(params![self.source_id, before.ticks(), PRUNE_SLICE - 1])
            })?;
            pruned += slice;
            if slice == 0 || !keep_going() {
                return Ok(pruned);
            }
        }
    }
}

mod dialout;
pub use dialout::StoredTotals;

/// Rows one prune slice deletes (a few milliseconds of work).
pub const PRUNE_SLICE: i64 = 10_000;

#[cfg(test)]
mod tests;
