//! One unit's copy of the directory in PostgreSQL: users, the delta mark, failed rounds.
//! Every write is checked by the unit's lease fence (as its [`super::PgSource`] was
//! opened under) inside its own transaction, last before it commits.

use super::{Link, PgSource, check_fence};
use crate::lease::{Fence, Unit};
use crate::state::{DirectoryFailures, DirectorySyncMark, DirectoryWrite, StateError, StoredUser};
use crate::time::Timestamp;

/// One unit's directory, on a connection of its own (the sync writes while polls read).
#[derive(Clone)]
pub struct PgDirectory {
    link: Link,
    unit_id: i64,
    unit: Unit,
    fence: Option<Fence>,
}

impl std::fmt::Debug for PgDirectory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PgDirectory({})", self.unit_id)
    }
}

impl PgDirectory {
    pub(super) async fn open(source: &PgSource) -> Result<PgDirectory, StateError> {
        Ok(PgDirectory {
            link: Link::new(&source.link.store).await?,
            unit_id: source.unit_id,
            unit: source.unit.clone(),
            fence: source.fence.clone(),
        })
    }

    /// Commits `transaction` after checking the fence (if any) inside it, last (as
    /// [`super::PgSource`]'s writes do).
    async fn finish(&self, transaction: tokio_postgres::Transaction<'_>) -> Result<(), StateError> {
        check_fence(
            &transaction,
            self.fence.as_ref(),
            &self.unit,
            &self.link.store,
        )
        .await?;
        transaction.commit().await.map_err(self.link.failed())
    }

    /// What state knows of each id, in order: one query.
    pub async fn users<S: AsRef<str>>(&self, ids: &[S]) -> Result<Vec<StoredUser>, StateError> {
        let asked: Vec<&str> = ids.iter().map(AsRef::as_ref).collect();
        let client = self.link.client().await?;
        let rows = client
            .query(
                "SELECT u.i, d.attributes FROM unnest($2::text[]) WITH ORDINALITY AS u(id, i)
                 JOIN directory_users d ON d.unit_id = $1 AND d.user_id = u.id",
                &[&self.unit_id, &asked],
            )
            .await
            .map_err(self.link.failed())?;
        let mut found = vec![StoredUser::Missing; asked.len()];
        for row in rows {
            let index = row.get::<_, i64>(0) - 1;
            if let Some(slot) = usize::try_from(index).ok().and_then(|i| found.get_mut(i)) {
                *slot = match row.get::<_, Option<Vec<u8>>>(1) {
                    None => StoredUser::Unknown,
                    Some(bytes) => StoredUser::Known(bytes),
                };
            }
        }
        Ok(found)
    }

    /// Writes one page of the directory (and the mark, on a round's last page), in
    /// one transaction.
    pub async fn write(&self, write: &DirectoryWrite) -> Result<(), StateError> {
        let mut client = self.link.client().await?;
        let failed = self.link.failed();
        let transaction = client.transaction().await.map_err(self.link.failed())?;
        let read_ticks = write.read_at.map_or(0, |at| at.ticks());
        for (id, bytes) in &write.users {
            transaction
                .execute(
                    "INSERT INTO directory_users (unit_id, user_id, attributes, read_ticks) VALUES ($1, $2, $3, $4)
                     ON CONFLICT (unit_id, user_id) DO UPDATE SET attributes = excluded.attributes, read_ticks = excluded.read_ticks",
                    &[&self.unit_id, id, bytes, &read_ticks],
                )
                .await
                .map_err(&failed)?;
        }
        if let Some(start) = write.remove_read_before {
            transaction
                .execute(
                    "DELETE FROM directory_users WHERE unit_id = $1 AND read_ticks < $2",
                    &[&self.unit_id, &start.ticks()],
                )
                .await
                .map_err(&failed)?;
        }
        if let Some(mark) = &write.mark {
            transaction
                .execute(
                    "INSERT INTO directory_sync (unit_id, delta_link, selected, synced_ticks) VALUES ($1, $2, $3, $4)
                     ON CONFLICT (unit_id) DO UPDATE SET delta_link = excluded.delta_link, selected = excluded.selected, synced_ticks = excluded.synced_ticks",
                    &[&self.unit_id, &mark.delta_link, &mark.selected, &mark.synced_at.ticks()],
                )
                .await
                .map_err(&failed)?;
        }
        self.finish(transaction).await
    }

    /// The mark the last round left, if any.
    pub async fn mark(&self) -> Result<Option<DirectorySyncMark>, StateError> {
        let client = self.link.client().await?;
        let row = client
            .query_opt(
                "SELECT delta_link, selected, synced_ticks FROM directory_sync WHERE unit_id = $1",
                &[&self.unit_id],
            )
            .await
            .map_err(self.link.failed())?;
        Ok(row.map(|row| DirectorySyncMark {
            delta_link: row.get(0),
            selected: row.get(1),
            synced_at: Timestamp::from_ticks(row.get(2)),
        }))
    }

    /// Forgets the deltaLink: the next round reads all.
    pub async fn forget_delta_link(&self) -> Result<(), StateError> {
        let mut client = self.link.client().await?;
        let transaction = client.transaction().await.map_err(self.link.failed())?;
        transaction
            .execute(
                "UPDATE directory_sync SET delta_link = NULL WHERE unit_id = $1",
                &[&self.unit_id],
            )
            .await
            .map_err(self.link.failed())?;
        self.finish(transaction).await
    }

    /// The failed rounds in a row, if the last round failed.
    pub async fn failures(&self) -> Result<Option<DirectoryFailures>, StateError> {
        let client = self.link.client().await?;
        let row = client
            .query_opt(
                "SELECT rounds, from_delta_link, last_started FROM directory_failures WHERE unit_id = $1",
                &[&self.unit_id],
            )
            .await
            .map_err(self.link.failed())?;
        Ok(row.and_then(|row| {
            Some(DirectoryFailures {
                rounds: u32::try_from(row.get::<_, i64>(0)).ok()?,
                from_delta_link: u32::try_from(row.get::<_, i64>(1)).ok()?,
                last_started: Timestamp::from_ticks(row.get(2)),
            })
        }))
    }

    /// Keeps the failed rounds in a row (`None`: the last round succeeded).
    pub async fn set_failures(
        &self,
        failures: Option<&DirectoryFailures>,
    ) -> Result<(), StateError> {
        let mut client = self.link.client().await?;
        let transaction = client.transaction().await.map_err(self.link.failed())?;
        let done = match failures {
            Some(failures) => {
                transaction
                    .execute(
                        "INSERT INTO directory_failures (unit_id, rounds, from_delta_link, last_started) VALUES ($1, $2, $3, $4)
                         ON CONFLICT (unit_id) DO UPDATE SET rounds = excluded.rounds, from_delta_link = excluded.from_delta_link, last_started = excluded.last_started",
                        &[
                            &self.unit_id,
                            &i64::from(failures.rounds),
                            &i64::from(failures.from_delta_link),
                            &failures.last_started.ticks(),
                        ],
                    )
                    .await
            }
            None => {
                transaction
                    .execute("DELETE FROM directory_failures WHERE unit_id = $1", &[&self.unit_id])
                    .await
            }
        };
        done.map_err(self.link.failed())?;
        self.finish(transaction).await
    }
}
