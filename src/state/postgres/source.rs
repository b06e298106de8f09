//! One unit's rows in PostgreSQL: cursors, delivered keys, ledgers, dial-out totals.
//! A commit is one transaction (keys, cursors and ledgers). Under a lease
//! ([`PgSource::under`]) every write (commit, cursors, dial-out totals, pruning, the
//! directory's) checks the lease's fence inside its own transaction, last before it commits; reads do
//! not (a stale read costs a re-read, never a write). Only [`PgSource::open`]'s insert
//! of the unit's row is unfenced: it adds the row if missing and changes nothing else.

mod dialout;
mod ledgers;

use super::{Link, PgStore, check_fence};
use crate::facts::{Dimension, Month, MonthSum};
use crate::lease::{Fence, Unit};
use crate::state::{Commit, StateError};
use crate::time::{Timestamp, duration_to_ticks};
use std::time::Duration;

/// One unit's state on a connection of its own (cheap to clone).
#[derive(Clone)]
pub struct PgSource {
    pub(super) link: Link,
    pub(super) unit_id: i64,
    pub(super) unit: Unit,
    /// The lease every write is made under (replicas); `None` alone or in tests.
    pub(super) fence: Option<Fence>,
}

impl std::fmt::Debug for PgSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PgSource({:?})", self.unit)
    }
}

impl PgSource {
    /// The unit's row (created if new), refusing one recorded as another kind.
    pub(super) async fn open(
        store: &PgStore,
        name: &str,
        kind: &str,
        tenant_id: &str,
    ) -> Result<PgSource, StateError> {
        let link = Link::new(store).await?;
        let unit_id = {
            let client = link.client().await?;
            client
                .execute(
                    "INSERT INTO units (source, tenant_id, kind) VALUES ($1, $2, $3) ON CONFLICT (source, tenant_id) DO NOTHING",
                    &[&name, &tenant_id, &kind],
                )
                .await
                .map_err(link.failed())?;
            let row = client
                .query_one(
                    "SELECT id, kind FROM units WHERE source = $1 AND tenant_id = $2",
                    &[&name, &tenant_id],
                )
                .await
                .map_err(link.failed())?;
            let stored_kind: String = row.get(1);
            if stored_kind != kind {
                return Err(StateError::Refused {
                    path: store.at.to_string().into(),
                    message: format!(
                        "source {name:?} of tenant {tenant_id} was recorded as {stored_kind}, now configured as {kind}; give the source a new name (or delete its rows) so its progress is not mixed up"
                    ),
                });
            }
            row.get::<_, i64>(0)
        };
        Ok(PgSource {
            link,
            unit_id,
            unit: Unit::new(name, tenant_id),
            fence: None,
        })
    }

    /// This unit's state written only under `fence`: each write (and each of its
    /// directory's) is refused once the lease moved on, inside its own transaction.
    pub fn under(mut self, fence: Fence) -> PgSource {
        self.fence = Some(fence);
        self
    }

    /// Commits `transaction` after checking the fence (if any) inside it, last: the
    /// lease row is share-locked only from the check to the commit, so a replica
    /// frozen mid-write (SIGSTOP, a long pause) holds no lock that keeps a takeover
    /// waiting, and the check is as late as it can be.
    pub(super) async fn finish(
        &self,
        transaction: tokio_postgres::Transaction<'_>,
    ) -> Result<(), StateError> {
        check_fence(
            &transaction,
            self.fence.as_ref(),
            &self.unit,
            &self.link.store,
        )
        .await?;
        transaction.commit().await.map_err(self.link.failed())
    }

    /// This unit's copy of the directory, on a connection of its own.
    pub async fn directory(&self) -> Result<super::PgDirectory, StateError> {
        super::PgDirectory::open(self).await
    }

    /// The saved cursors as (delay, cursor), shortest delay first.
    pub async fn cursors(&self) -> Result<Vec<(Duration, Timestamp)>, StateError> {
        let client = self.link.client().await?;
        let rows = client
            .query(
                "SELECT delay_ticks, cursor_ticks FROM sweeps WHERE unit_id = $1 ORDER BY delay_ticks",
                &[&self.unit_id],
            )
            .await
            .map_err(self.link.failed())?;
        Ok(rows
            .iter()
            .map(|row| {
                let delay: i64 = row.get(0);
                (
                    Duration::from_nanos(delay.max(0) as u64 * 100),
                    Timestamp::from_ticks(row.get(1)),
                )
            })
            .collect())
    }

    /// Replaces the saved sweeps with this set.
    pub async fn replace_cursors(
        &self,
        cursors: &[(Duration, Timestamp)],
    ) -> Result<(), StateError> {
        let mut client = self.link.client().await?;
        let failed = self.link.failed();
        let transaction = client.transaction().await.map_err(self.link.failed())?;
        transaction
            .execute("DELETE FROM sweeps WHERE unit_id = $1", &[&self.unit_id])
            .await
            .map_err(&failed)?;
        for (delay, cursor) in cursors {
            transaction
                .execute(
                    "INSERT INTO sweeps (unit_id, delay_ticks, cursor_ticks, cursor) VALUES ($1, $2, $3, $4)",
                    &[&self.unit_id, &duration_to_ticks(*delay), &cursor.ticks(), &cursor.to_string()],
                )
                .await
                .map_err(&failed)?;
        }
        self.finish(transaction).await
    }

    /// For each (key, call start), whether it has NOT been delivered yet: one query.
    pub async fn unseen<K: AsRef<[u8]>>(
        &self,
        rows: &[(K, Timestamp)],
    ) -> Result<Vec<bool>, StateError> {
        let starts: Vec<i64> = rows.iter().map(|(_, start)| start.ticks()).collect();
        let keys: Vec<&[u8]> = rows.iter().map(|(key, _)| key.as_ref()).collect();
        let client = self.link.client().await?;
        let seen = client
            .query(
                "SELECT u.i FROM unnest($2::bigint[], $3::bytea[]) WITH ORDINALITY AS u(start, key, i)
                 JOIN delivered d ON d.unit_id = $1 AND d.call_start = u.start AND d.row_key = u.key",
                &[&self.unit_id, &starts, &keys],
            )
            .await
            .map_err(self.link.failed())?;
        let mut unseen = vec![true; rows.len()];
        for row in seen {
            let index = row.get::<_, i64>(0) - 1;
            if let Some(slot) = usize::try_from(index).ok().and_then(|i| unseen.get_mut(i)) {
                *slot = false;
            }
        }
        Ok(unseen)
    }

    /// Records a batch every sink accepted, and the sweeps' progress, in one
    /// transaction, under the lease's fence when there is one (a lease that moved on
    /// or ran out writes nothing).
    pub async fn commit(&self, commit: &Commit) -> Result<(), StateError> {
        let mut client = self.link.client().await?;
        let failed = self.link.failed();
        let transaction = client.transaction().await.map_err(self.link.failed())?;
        let starts: Vec<i64> = commit
            .delivered
            .iter()
            .map(|(_, start)| start.ticks())
            .collect();
        let keys: Vec<&[u8]> = commit
            .delivered
            .iter()
            .map(|(key, _)| key.as_slice())
            .collect();
        transaction
            .execute(
                "INSERT INTO delivered (unit_id, call_start, row_key) SELECT $1, start, key FROM unnest($2::bigint[], $3::bytea[]) AS u(start, key) ON CONFLICT DO NOTHING",
                &[&self.unit_id, &starts, &keys],
            )
            .await
            .map_err(&failed)?;
        ledgers::add(&transaction, self.unit_id, commit)
            .await
            .map_err(&failed)?;
        for (delay, cursor) in &commit.cursors {
            transaction
                .execute(
                    "UPDATE sweeps SET cursor_ticks = $3, cursor = $4 WHERE unit_id = $1 AND delay_ticks = $2",
                    &[&self.unit_id, &duration_to_ticks(*delay), &cursor.ticks(), &cursor.to_string()],
                )
                .await
                .map_err(&failed)?;
        }
        self.finish(transaction).await
    }

    /// Outbound Calling Plans seconds of calls that started in `month`, by license.
    pub async fn plan_usage(&self, month: Month) -> Result<Vec<(String, f64)>, StateError> {
        let client = self.link.client().await?;
        let rows = client
            .query(
                "SELECT license, seconds FROM plan_usage WHERE unit_id = $1 AND month = $2",
                &[&self.unit_id, &month.to_string()],
            )
            .await
            .map_err(self.link.failed())?;
        Ok(rows.iter().map(|row| (row.get(0), row.get(1))).collect())
    }

    /// The chargeback sums of calls that started in `month`.
    pub async fn chargeback(&self, month: Month) -> Result<Vec<MonthSum>, StateError> {
        let client = self.link.client().await?;
        let rows = client
            .query(
                "SELECT dimension, value, currency, micros, seconds FROM chargeback_month WHERE unit_id = $1 AND month = $2",
                &[&self.unit_id, &month.to_string()],
            )
            .await
            .map_err(self.link.failed())?;
        rows.iter()
            .map(|row| {
                let dimension: &str = row.get(0);
                Ok(MonthSum {
                    month,
                    dimension: Dimension::parse(dimension).ok_or_else(|| {
                        self.link.store.failed(format!(
                            "unknown chargeback dimension {dimension:?} (written by a newer pstn-agent?)"
                        ))
                    })?,
                    value: row.get(1),
                    currency: row.get(2),
                    micros: row.get(3),
                    seconds: row.get(4),
                })
            })
            .collect()
    }

    /// Forgets delivered keys whose call started before `before`, in slices of
    /// [`crate::state::PRUNE_SLICE`] rows (each fenced), asking `keep_going` between
    /// slices. Fenced too, though the keys are ones no sweep reads again: a replica
    /// whose lease moved on may have been configured with a shorter `late_window` than
    /// the new holder, whose sweeps would then read rows again that have no key.
    pub async fn prune(
        &self,
        before: Timestamp,
        keep_going: impl Fn() -> bool,
    ) -> Result<usize, StateError> {
        let mut pruned = 0;
        loop {
            let slice = {
                let mut client = self.link.client().await?;
                let transaction = client.transaction().await.map_err(self.link.failed())?;
                let slice = transaction
                    .execute(
                        "DELETE FROM delivered WHERE unit_id = $1 AND call_start < $2
                         AND call_start <= coalesce((SELECT call_start FROM delivered
                             WHERE unit_id = $1 AND call_start < $2
                             ORDER BY call_start LIMIT 1 OFFSET $3), $2)",
                        &[
                            &self.unit_id,
                            &before.ticks(),
                            &(super::super::PRUNE_SLICE - 1),
                        ],
                    )
                    .await
                    .map_err(self.link.failed())?;
                self.finish(transaction).await?;
                slice
            };
            pruned += slice as usize;
            if slice == 0 || !keep_going() {
                return Ok(pruned);
            }
        }
    }
}
