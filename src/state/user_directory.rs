//! One source's copy of the directory: user id → the bytes to put beside its rows
//! (opaque here), and where the next round of Graph's delta starts. Looking up a
//! page's users is one read transaction; writing a page of the directory is one write
//! transaction.

use super::StateError;
use super::schema::{connect, database_error};
use crate::time::Timestamp;
use rusqlite::{Connection, OptionalExtension, params};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

/// What state knows of one user id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoredUser {
    /// Never seen: worth asking Graph.
    Missing,
    /// Graph said it has no such user (404, or removed from the directory).
    Unknown,
    /// The stored bytes.
    Known(Vec<u8>),
}

/// Where the next round of the delta starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirectorySyncMark {
    /// Graph's `@odata.deltaLink`, when a round ended with one.
    pub delta_link: Option<String>,
    /// What that round selected: another selection needs a full read.
    pub selected: String,
    /// When the last round ended.
    pub synced_at: Timestamp,
}

/// Directory rounds that failed in a row, kept in state (the `meta` table, one key
/// per source: no new schema) so that `--once` runs from cron back off and give up a
/// failing deltaLink just as a running agent does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DirectoryFailures {
    /// Rounds that failed in a row.
    pub rounds: u32,
    /// Of those, the ones in a row that started from the kept deltaLink.
    pub from_delta_link: u32,
    /// When the last failed round started.
    pub last_started: Timestamp,
}

/// One page of the directory to write: users to store (bytes, or `None` for a user
/// Graph does not know), and, on a round's last page, the mark to keep.
#[derive(Debug, Default)]
pub struct DirectoryWrite {
    /// (user id, bytes or `None`).
    pub users: Vec<(String, Option<Vec<u8>>)>,
    /// When these users were read (`None`: long ago).
    pub read_at: Option<Timestamp>,
    /// Set on the last page of a round.
    pub mark: Option<DirectorySyncMark>,
    /// On a full read's last page, its start: every user read before it (one the
    /// full read did not see: gone from the directory) is removed.
    pub remove_read_before: Option<Timestamp>,
}

/// One source's directory, with its own connection (the sync writes while polls
/// read); blocking to use: call it from `spawn_blocking`.
#[derive(Debug, Clone)]
pub struct SqliteDirectory {
    path: PathBuf,
    source_id: i64,
    connection: Arc<Mutex<Connection>>,
}

impl SqliteDirectory {
    pub(super) fn open(path: &Path, source_id: i64) -> Result<Self, StateError> {
        Ok(SqliteDirectory {
            path: path.to_owned(),
            source_id,
            connection: Arc::new(Mutex::new(connect(path)?)),
        })
    }

    fn with<T>(
        &self,
        work: impl FnOnce(&mut Connection) -> Result<T, rusqlite::Error>,
    ) -> Result<T, StateError> {
        let mut connection = self
            .connection
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        work(&mut connection).map_err(database_error(&self.path))
    }

    /// What state knows of each id, in order, in one read transaction.
    pub fn users<S: AsRef<str>>(&self, ids: &[S]) -> Result<Vec<StoredUser>, StateError> {
        self.with(|connection| {
            let transaction = connection.transaction()?;
            let found = {
                let mut statement = transaction.prepare_cached(
                    "SELECT attributes FROM directory_users WHERE source_id = ?1 AND user_id = ?2",
                )?;
                ids.iter()
                    .map(|id| {
                        let row: Option<Option<Vec<u8>>> = statement
                            .query_row(params![self.source_id, id.as_ref()], |row| row.get(0))
                            .optional()?;
                        Ok(match row {
                            None => StoredUser::Missing,
                            Some(None) => StoredUser::Unknown,
                            Some(Some(bytes)) => StoredUser::Known(bytes),
                        })
                    })
                    .collect::<Result<Vec<_>, rusqlite::Error>>()?
            };
            transaction.commit()?;
            Ok(found)
        })
    }

    /// Writes one page of the directory (and the mark, on a round's last page).
    pub fn write(&self, write: &DirectoryWrite) -> Result<(), StateError> {
        self.with(|connection| {
            let transaction = connection.transaction()?;
            {
                let mut statement = transaction.prepare_cached(
                    "INSERT OR REPLACE INTO directory_users (source_id, user_id, attributes, read_ticks) VALUES (?1, ?2, ?3, ?4)",
                )?;
                let read_ticks = write.read_at.map_or(0, |at| at.ticks());
                for (id, bytes) in &write.users {
                    statement.execute(params![self.source_id, id, bytes, read_ticks])?;
                }
            }
            if let Some(start) = write.remove_read_before {
                transaction.execute(
                    "DELETE FROM directory_users WHERE source_id = ?1 AND read_ticks < ?2",
                    params![self.source_id, start.ticks()],
                )?;
            }
            if let Some(mark) = &write.mark {
                transaction.execute(
                    "INSERT OR REPLACE INTO directory_sync (source_id, delta_link, selected, synced_ticks) VALUES (?1, ?2, ?3, ?4)",
                    params![self.source_id, mark.delta_link, mark.selected, mark.synced_at.ticks()],
                )?;
            }
            transaction.commit()
        })
    }

    /// The mark the last round left, if any.
    pub fn mark(&self) -> Result<Option<DirectorySyncMark>, StateError> {
        self.with(|connection| {
            connection
                .query_row(
                    "SELECT delta_link, selected, synced_ticks FROM directory_sync WHERE source_id = ?1",
                    [self.source_id],
                    |row| {
                        Ok(DirectorySyncMark {
                            delta_link: row.get(0)?,
                            selected: row.get(1)?,
                            synced_at: Timestamp::from_ticks(row.get(2)?),
                        })
                    },
                )
                .optional()
        })
    }

    /// Forgets the deltaLink (Graph no longer accepts it): the next round reads all.
    pub fn forget_delta_link(&self) -> Result<(), StateError> {
        self.with(|connection| {
            connection
                .execute(
                    "UPDATE directory_sync SET delta_link = NULL WHERE source_id = ?1",
                    [self.source_id],
                )
                .map(|_| ())
        })
    }

    fn failures_key(&self) -> String {
        format!("directory_failures/{}", self.source_id)
    }

    /// The failed rounds in a row, if the last round failed.
    pub fn failures(&self) -> Result<Option<DirectoryFailures>, StateError> {
        let text: Option<String> = self.with(|connection| {
            connection
                .query_row(
                    "SELECT value FROM meta WHERE key = ?1",
                    [self.failures_key()],
                    |row| row.get(0),
                )
                .optional()
        })?;
        // Written by `set_failures` only; anything else reads as no failures.
        Ok(text.and_then(|text| {
            let mut parts = text.split(' ').map(str::parse::<i64>);
            let (Some(Ok(rounds)), Some(Ok(from_delta_link)), Some(Ok(ticks))) =
                (parts.next(), parts.next(), parts.next())
            else {
                return None;
            };
            Some(DirectoryFailures {
                rounds: u32::try_from(rounds).ok()?,
                from_delta_link: u32::try_from(from_delta_link).ok()?,
                last_started: Timestamp::from_ticks(ticks),
            })
        }))
    }

    /// Keeps the failed rounds in a row (`None`: the last round succeeded).
    pub fn set_failures(&self, failures: Option<&DirectoryFailures>) -> Result<(), StateError> {
        self.with(|connection| {
            match failures {
                Some(failures) => connection.execute(
                    "INSERT OR REPLACE INTO meta (key, value) VALUES (?1, ?2)",
                    params![
                        self.failures_key(),
                        format!(
                            "{} {} {}",
                            failures.rounds,
                            failures.from_delta_link,
                            failures.last_started.ticks()
                        )
                    ],
                ),
                None => {
                    connection.execute("DELETE FROM meta WHERE key = ?1", [self.failures_key()])
                }
            }
            .map(|_| ())
        })
    }

    /// How many user ids are stored (known or not).
    #[cfg(test)]
    pub fn user_count(&self) -> Result<u64, StateError> {
        self.with(|connection| {
            connection.query_row(
                "SELECT COUNT(*) FROM directory_users WHERE source_id = ?1",
                [self.source_id],
                |row| row.get::<_, i64>(0),
            )
        })
        .map(|count| count.max(0) as u64)
    }
}

#[cfg(test)]
mod tests {
    use super::super::SqliteStore;
    use super::*;

    #[test]
    fn users_are_missing_unknown_or_known_and_the_mark_round_trips() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(dir.path()).unwrap();
        let directory = store
            .source("a", "pstn_calls", "t")
            .unwrap()
            .directory()
            .unwrap();
        assert_eq!(directory.mark().unwrap(), None);
        let mark = DirectorySyncMark {
            delta_link: Some("https://graph/x?$deltatoken=1".into()),
            selected: "id,department".into(),
            synced_at: Timestamp::from_ticks(7),
        };
        directory
            .write(&DirectoryWrite {
                users: vec![("u1".into(), Some(b"{}".to_vec())), ("u2".into(), None)],
                read_at: Some(Timestamp::from_ticks(5)),
                mark: Some(mark.clone()),
                remove_read_before: None,
            })
            .unwrap();
        assert_eq!(
            directory.users(&["u1", "u2", "u3"]).unwrap(),
            [
                StoredUser::Known(b"{}".to_vec()),
                StoredUser::Unknown,
                StoredUser::Missing
            ]
        );
        assert_eq!(directory.mark().unwrap(), Some(mark));
        directory.forget_delta_link().unwrap();
        assert_eq!(directory.mark().unwrap().unwrap().delta_link, None);
        assert_eq!(directory.user_count().unwrap(), 2);
        // A full read that saw only u2 and started at 6: u1 is gone from the directory.
        directory
            .write(&DirectoryWrite {
                users: vec![("u2".into(), Some(b"{}".to_vec()))],
                read_at: Some(Timestamp::from_ticks(6)),
                mark: None,
                remove_read_before: Some(Timestamp::from_ticks(6)),
            })
            .unwrap();
        assert_eq!(
            directory.users(&["u1", "u2"]).unwrap(),
            [StoredUser::Missing, StoredUser::Known(b"{}".to_vec())]
        );
        let other = store
            .source("b", "pstn_calls", "t")
            .unwrap()
            .directory()
            .unwrap();
        assert_eq!(other.users(&["u1"]).unwrap(), [StoredUser::Missing]);
    }

    #[test]
    fn failed_rounds_are_kept_per_source_until_cleared() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(dir.path()).unwrap();
        let a = store
            .source("a", "pstn_calls", "t")
            .unwrap()
            .directory()
            .unwrap();
        let b = store
            .source("b", "pstn_calls", "t")
            .unwrap()
            .directory()
            .unwrap();
        assert_eq!(a.failures().unwrap(), None);
        let failures = DirectoryFailures {
            rounds: 4,
            from_delta_link: 2,
            last_started: Timestamp::from_ticks(1_234_567),
        };
        a.set_failures(Some(&failures)).unwrap();
        assert_eq!(a.failures().unwrap(), Some(failures));
        assert_eq!(b.failures().unwrap(), None, "another source's are its own");
        a.set_failures(None).unwrap();
        assert_eq!(a.failures().unwrap(), None);
    }
}
