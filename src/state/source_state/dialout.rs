//! One source's dial-out report totals: per UTC day and row, the totals every sink
//! last accepted, so a poll sends only rows whose totals changed since.

use super::SqliteSource;
use rusqlite::params;

/// A report row's totals as state keeps them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StoredTotals {
    /// Calls.
    pub calls: i64,
    /// Seconds.
    pub seconds: i64,
    /// Charge in millionths.
    pub charge_micros: i64,
}

impl SqliteSource {
    /// The totals last delivered for each row (opaque key) of `day` (`YYYY-MM-DD`).
    pub fn dialout_totals(
        &self,
        day: &str,
    ) -> Result<Vec<(Vec<u8>, StoredTotals)>, super::StateError> {
        self.with(|connection| {
            let mut statement = connection.prepare_cached(
                "SELECT row_key, calls, seconds, charge_micros FROM dialout_totals WHERE source_id = ?1 AND day = ?2",
            )?;
            let rows = statement.query_map(params![self.source_id, day], |row| {
                Ok((
                    row.get(0)?,
                    StoredTotals {
                        calls: row.get(1)?,
                        seconds: row.get(2)?,
                        charge_micros: row.get(3)?,
                    },
                ))
            })?;
            rows.collect()
        })
    }

    /// Records the totals of rows of `day` every sink accepted, in one transaction.
    pub fn commit_dialout(
        &self,
        day: &str,
        rows: &[(Vec<u8>, StoredTotals)],
    ) -> Result<(), super::StateError> {
        self.with(|connection| {
            let transaction = connection.transaction()?;
            {
                let mut upsert = transaction.prepare_cached(
                    "INSERT INTO dialout_totals (source_id, day, row_key, calls, seconds, charge_micros) VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                     ON CONFLICT (source_id, day, row_key) DO UPDATE SET calls = excluded.calls, seconds = excluded.seconds, charge_micros = excluded.charge_micros",
                )?;
                for (key, totals) in rows {
                    upsert.execute(params![
                        self.source_id,
                        day,
                        key,
                        totals.calls,
                        totals.seconds,
                        totals.charge_micros
                    ])?;
                }
            }
            transaction.commit()
        })
    }

    /// Forgets the totals of days before `first_day` (`YYYY-MM-DD`: no poll reads them
    /// again); returns how many rows went.
    pub fn prune_dialout(&self, first_day: &str) -> Result<usize, super::StateError> {
        self.with(|connection| {
            connection
                .prepare_cached("DELETE FROM dialout_totals WHERE source_id = ?1 AND day < ?2")?
                .execute(params![self.source_id, first_day])
        })
    }
}

#[cfg(test)]
mod tests {
    use super::super::super::SqliteStore;
    use super::*;

    #[test]
    fn totals_are_kept_per_day_and_row_replaced_on_commit_and_pruned_by_day() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(dir.path()).unwrap();
        let state = store.source("d", "pstn_dialout_report", "t").unwrap();
        let other = store.source("e", "pstn_dialout_report", "t").unwrap();
        let totals = |calls| StoredTotals {
            calls,
            seconds: calls * 60,
            charge_micros: calls * 10,
        };
        state
            .commit_dialout("2024-05-19", &[(b"a".to_vec(), totals(1))])
            .unwrap();
        state
            .commit_dialout(
                "2024-05-20",
                &[(b"a".to_vec(), totals(2)), (b"b".to_vec(), totals(3))],
            )
            .unwrap();
        state
            .commit_dialout("2024-05-20", &[(b"a".to_vec(), totals(5))])
            .unwrap();
        let mut day = state.dialout_totals("2024-05-20").unwrap();
        day.sort_by(|a, b| a.0.cmp(&b.0));
        assert_eq!(
            day,
            [(b"a".to_vec(), totals(5)), (b"b".to_vec(), totals(3))]
        );
        assert!(other.dialout_totals("2024-05-20").unwrap().is_empty());
        assert_eq!(state.prune_dialout("2024-05-20").unwrap(), 1);
        assert!(state.dialout_totals("2024-05-19").unwrap().is_empty());
        assert_eq!(state.dialout_totals("2024-05-20").unwrap().len(), 2);
    }
}
