//! One unit's dial-out report totals in PostgreSQL: the totals last delivered per row
//! and day, written in the ack's transaction, pruned by day.

use super::PgSource;
use crate::state::{StateError, StoredTotals};

impl PgSource {
    /// The totals last delivered for each row of `day` (`YYYY-MM-DD`).
    pub async fn dialout_totals(
        &self,
        day: &str,
    ) -> Result<Vec<(Vec<u8>, StoredTotals)>, StateError> {
        let client = self.link.client().await?;
        let rows = client
            .query(
                "SELECT row_key, calls, seconds, charge_micros FROM dialout_totals WHERE unit_id = $1 AND day = $2",
                &[&self.unit_id, &day],
            )
            .await
            .map_err(self.link.failed())?;
        Ok(rows
            .iter()
            .map(|row| {
                (
                    row.get(0),
                    StoredTotals {
                        calls: row.get(1),
                        seconds: row.get(2),
                        charge_micros: row.get(3),
                    },
                )
            })
            .collect())
    }

    /// Records the totals of rows of `day` every sink accepted, in one transaction
    /// under the lease's fence when there is one.
    pub async fn commit_dialout(
        &self,
        day: &str,
        rows: &[(Vec<u8>, StoredTotals)],
    ) -> Result<(), StateError> {
        let mut client = self.link.client().await?;
        let failed = self.link.failed();
        let transaction = client.transaction().await.map_err(self.link.failed())?;
        for (key, totals) in rows {
            transaction
                .execute(
                    "INSERT INTO dialout_totals (unit_id, day, row_key, calls, seconds, charge_micros) VALUES ($1, $2, $3, $4, $5, $6)
                     ON CONFLICT (unit_id, day, row_key) DO UPDATE SET calls = excluded.calls, seconds = excluded.seconds, charge_micros = excluded.charge_micros",
                    &[&self.unit_id, &day, key, &totals.calls, &totals.seconds, &totals.charge_micros],
                )
                .await
                .map_err(&failed)?;
        }
        self.finish(transaction).await
    }

    /// Forgets the totals of days before `first_day` (fenced: a stale replica's clock
    /// or `late_window` may differ); returns how many rows went.
    pub async fn prune_dialout(&self, first_day: &str) -> Result<usize, StateError> {
        let mut client = self.link.client().await?;
        let transaction = client.transaction().await.map_err(self.link.failed())?;
        let count = transaction
            .execute(
                "DELETE FROM dialout_totals WHERE unit_id = $1 AND day < $2",
                &[&self.unit_id, &first_day],
            )
            .await
            .map_err(self.link.failed())?;
        self.finish(transaction).await?;
        Ok(count as usize)
    }
}
