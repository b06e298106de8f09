//! One source's rows in the state database: cursors, delivered ids, pruning.

use super::StateError;
use super::schema::connect;
use crate::time::{Timestamp, duration_to_ticks};
use rusqlite::{Connection, OptionalExtension, params};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// One source's state, with its own connection (cheap to clone, blocking to use:
/// call it from `spawn_blocking`).
#[derive(Debug, Clone)]
pub struct SourceState {
    path: PathBuf,
    source_id: i64,
    connection: Arc<Mutex<Connection>>,
}

/// What one acknowledged batch changes, written in one transaction.
#[derive(Debug, Default)]
pub struct Commit {
    /// Keys of rows every sink accepted (opaque bytes to state), with their call start.
    pub delivered: Vec<(Vec<u8>, Timestamp)>,
    /// Sweeps whose windows are now fully read, in order: (delay, new cursor).
    pub cursors: Vec<(Duration, Timestamp)>,
    /// Outbound Calling Plans seconds to add, by (month `YYYY-MM`, licenseCapability).
    pub plan_usage: Vec<(String, &'static str, f64)>,
}

impl SourceState {
    pub(super) fn open(
        path: &Path,
        name: &str,
        kind: &str,
        tenant_id: &str,
    ) -> Result<Self, StateError> {
        let connection = connect(path)?;
        let failed = |source| StateError::Database {
            path: path.to_owned(),
            source,
        };
        let existing: Option<(i64, String, String)> = connection
            .query_row(
                "SELECT id, kind, tenant_id FROM sources WHERE name = ?1",
                [name],
                |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)),
            )
            .optional()
            .map_err(failed)?;
        let source_id = match existing {
            Some((id, stored_kind, stored_tenant))
                if stored_kind == kind && stored_tenant == tenant_id =>
            {
                id
            }
            Some((_, stored_kind, stored_tenant)) => {
                return Err(StateError::Refused {
                    path: path.to_owned(),
                    message: format!(
                        "source {name:?} was recorded as {stored_kind} of tenant {stored_tenant}, now configured as {kind} of tenant {tenant_id}; give the source a new name (or delete its rows) so its progress is not mixed up"
                    ),
                });
            }
            None => {
                connection
                    .execute(
                        "INSERT INTO sources (name, kind, tenant_id) VALUES (?1, ?2, ?3)",
                        params![name, kind, tenant_id],
                    )
                    .map_err(failed)?;
                connection.last_insert_rowid()
            }
        };
        Ok(SourceState {
            path: path.to_owned(),
            source_id,
            connection: Arc::new(Mutex::new(connection)),
        })
    }

    /// This source's copy of the directory, on a connection of its own (the
    /// directory sync writes it while polls read it).
    pub fn directory(&self) -> Result<super::DirectoryState, StateError> {
        super::DirectoryState::open(&self.path, self.source_id)
    }

    fn failed(&self) -> impl Fn(rusqlite::Error) -> StateError + '_ {
        move |source| StateError::Database {
            path: self.path.clone(),
            source,
        }
    }

    fn with<T>(
        &self,
        work: impl FnOnce(&mut Connection) -> Result<T, rusqlite::Error>,
    ) -> Result<T, StateError> {
        let mut connection = self
            .connection
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        work(&mut connection).map_err(self.failed())
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
            let unseen = {
                let mut statement = transaction.prepare_cached(
                    "SELECT 1 FROM delivered WHERE source_id = ?1 AND call_start = ?2 AND row_key = ?3",
                )?;
                rows.iter()
                    .map(|(key, start)| {
                        Ok(!statement.exists(params![self.source_id, start.ticks(), key.as_ref()])?)
                    })
                    .collect::<Result<Vec<bool>, rusqlite::Error>>()?
            };
            transaction.commit()?;
            Ok(unseen)
        })
    }

    /// Records a batch every sink accepted, and a sweep's progress, atomically.
    pub fn commit(&self, commit: &Commit) -> Result<(), StateError> {
        self.with(|connection| {
            let transaction = connection.transaction()?;
            {
                let mut insert = transaction.prepare_cached(
                    "INSERT OR IGNORE INTO delivered (source_id, call_start, row_key) VALUES (?1, ?2, ?3)",
                )?;
                for (key, start) in &commit.delivered {
                    insert.execute(params![self.source_id, start.ticks(), key])?;
                }
                let mut usage = transaction.prepare_cached(
                    "INSERT INTO plan_usage (source_id, month, license, seconds) VALUES (?1, ?2, ?3, ?4)
                     ON CONFLICT (source_id, month, license) DO UPDATE SET seconds = seconds + excluded.seconds",
                )?;
                for (month, license, seconds) in &commit.plan_usage {
                    usage.execute(params![self.source_id, month, license, seconds])?;
                }
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

    /// Outbound Calling Plans seconds of calls that started in `month` (`YYYY-MM`), by license.
    pub fn plan_usage(&self, month: &str) -> Result<Vec<(String, f64)>, StateError> {
        self.with(|connection| {
            let mut statement = connection.prepare_cached(
                "SELECT license, seconds FROM plan_usage WHERE source_id = ?1 AND month = ?2",
            )?;
            let rows = statement.query_map(params![self.source_id, month], |row| {
                Ok((row.get(0)?, row.get(1)?))
            })?;
            rows.collect()
        })
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

/// Rows one prune slice deletes (a few milliseconds of work).
pub const PRUNE_SLICE: i64 = 10_000;

#[cfg(test)]
mod tests {
    use super::super::StateStore;
    use super::*;

    fn key(n: u8) -> Vec<u8> {
        vec![n; 16]
    }

    #[test]
    fn committed_ids_are_seen_after_a_reopen_and_pruned_by_start() {
        let dir = tempfile::tempdir().unwrap();
        let store = StateStore::open(dir.path()).unwrap();
        let state = store.source("a", "pstn_calls", "t").unwrap();
        state
            .replace_cursors(&[(Duration::ZERO, Timestamp::from_ticks(0))])
            .unwrap();
        let commit = Commit {
            delivered: vec![
                (key(1), Timestamp::from_ticks(10)),
                (key(2), Timestamp::from_ticks(20)),
            ],
            cursors: vec![(Duration::ZERO, Timestamp::from_ticks(30))],
            plan_usage: vec![
                ("1970-01".into(), "MCOPSTN1", 60.0),
                ("1970-01".into(), "MCOPSTN1", 30.0),
            ],
        };
        state.commit(&commit).unwrap();
        drop(state);
        drop(store);

        let reopened = StateStore::open(dir.path())
            .unwrap()
            .source("a", "pstn_calls", "t")
            .unwrap();
        assert_eq!(
            reopened
                .unseen(&[
                    (key(1), Timestamp::from_ticks(10)),
                    (key(3), Timestamp::from_ticks(10))
                ])
                .unwrap(),
            [false, true]
        );
        assert_eq!(
            reopened.cursors().unwrap(),
            [(Duration::ZERO, Timestamp::from_ticks(30))]
        );
        assert_eq!(
            reopened.plan_usage("1970-01").unwrap(),
            [("MCOPSTN1".to_owned(), 90.0)]
        );
        assert_eq!(
            reopened.prune(Timestamp::from_ticks(15), || true).unwrap(),
            1
        );
        assert_eq!(
            reopened
                .unseen(&[
                    (key(1), Timestamp::from_ticks(10)),
                    (key(2), Timestamp::from_ticks(20))
                ])
                .unwrap(),
            [true, false]
        );
    }

    #[test]
    fn sources_do_not_see_each_others_ids() {
        let dir = tempfile::tempdir().unwrap();
        let store = StateStore::open(dir.path()).unwrap();
        let a = store.source("a", "pstn_calls", "t").unwrap();
        let b = store.source("b", "pstn_calls", "t").unwrap();
        a.commit(&Commit {
            delivered: vec![(key(1), Timestamp::from_ticks(1))],
            cursors: Vec::new(),
            plan_usage: Vec::new(),
        })
        .unwrap();
        assert_eq!(
            b.unseen(&[(key(1), Timestamp::from_ticks(1))]).unwrap(),
            [true]
        );
    }

    #[test]
    fn a_source_reconfigured_for_another_tenant_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let store = StateStore::open(dir.path()).unwrap();
        drop(store.source("a", "pstn_calls", "t1").unwrap());
        let error = store.source("a", "pstn_calls", "t2").unwrap_err();
        assert!(error.to_string().contains("new name"), "{error}");
    }

    #[test]
    fn pruning_goes_in_slices_and_stops_between_them_when_asked() {
        let dir = tempfile::tempdir().unwrap();
        let state = StateStore::open(dir.path())
            .unwrap()
            .source("a", "pstn_calls", "t")
            .unwrap();
        let rows = 3 * PRUNE_SLICE as usize + 5;
        let delivered = (0..rows)
            .map(|n| {
                (
                    (n as u64).to_be_bytes().to_vec(),
                    Timestamp::from_ticks(n as i64),
                )
            })
            .collect();
        state
            .commit(&Commit {
                delivered,
                ..Commit::default()
            })
            .unwrap();
        let end = Timestamp::from_ticks(rows as i64);
        // Asked to stop after the first slice: one slice went, the rest stays.
        assert_eq!(state.prune(end, || false).unwrap(), PRUNE_SLICE as usize);
        // Let run: everything older than `end` goes, slice by slice.
        assert_eq!(
            state.prune(end, || true).unwrap(),
            rows - PRUNE_SLICE as usize
        );
        assert_eq!(state.prune(end, || true).unwrap(), 0);
    }
}
