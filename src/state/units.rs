//! One source's state and its directory's, in SQLite or PostgreSQL: async methods that
//! run SQLite's work on `spawn_blocking` and PostgreSQL's on its async client.

use super::postgres::{PgDirectory, PgSource};
use super::{
    Commit, DirectoryFailures, DirectorySyncMark, DirectoryWrite, SqliteDirectory, SqliteSource,
    StateError, StoredTotals, StoredUser, run_blocking,
};
use crate::facts::{Month, MonthSum};
use crate::lease::Fence;
use crate::time::Timestamp;
use std::time::Duration;

/// One source's state (cheap to clone).
#[derive(Debug, Clone)]
pub enum SourceState {
    /// In the SQLite file.
    Sqlite(SqliteSource),
    /// In PostgreSQL.
    Postgres(PgSource),
}

/// Runs `$work` on the SQLite arm's clone off the async threads, or awaits the
/// PostgreSQL arm's.
macro_rules! either {
    ($self:expr, $sqlite:ident => $blocking:expr, $pg:ident => $async:expr) => {
        match $self {
            Self::Sqlite(state) => {
                let $sqlite = state.clone();
                run_blocking(move || $blocking).await
            }
            Self::Postgres($pg) => $async.await,
        }
    };
}

impl SourceState {
    /// This source's copy of the directory, on a connection of its own.
    pub async fn directory(&self) -> Result<DirectoryState, StateError> {
        match self {
            SourceState::Sqlite(state) => {
                let state = state.clone();
                run_blocking(move || state.directory())
                    .await
                    .map(DirectoryState::Sqlite)
            }
            SourceState::Postgres(state) => state.directory().await.map(DirectoryState::Postgres),
        }
    }

    /// Closes what the source keeps open between polls: in SQLite its connection
    /// (opened again by the next use); PostgreSQL's pool is the store's.
    pub async fn rest(&self) {
        if let SourceState::Sqlite(state) = self {
            let state = state.clone();
            let _ = run_blocking(move || {
                state.rest();
                Ok(())
            })
            .await;
        }
    }

    /// The saved cursors as (delay, cursor), shortest delay first.
    pub async fn cursors(&self) -> Result<Vec<(Duration, Timestamp)>, StateError> {
        either!(self, state => state.cursors(), state => state.cursors())
    }

    /// Replaces the saved sweeps with this set (the ladder changed, or a first run).
    pub async fn replace_cursors(
        &self,
        cursors: Vec<(Duration, Timestamp)>,
    ) -> Result<(), StateError> {
        either!(self, state => state.replace_cursors(&cursors), state => state.replace_cursors(&cursors))
    }

    /// For each (key, call start), whether it has NOT been delivered yet; the rows come
    /// back with the answer.
    pub async fn unseen<K: AsRef<[u8]> + Send + 'static>(
        &self,
        rows: Vec<(K, Timestamp)>,
    ) -> Result<(Vec<(K, Timestamp)>, Vec<bool>), StateError> {
        either!(
            self,
            state => state.unseen(&rows).map(|unseen| (rows, unseen)),
            state => async move { state.unseen(&rows).await.map(|unseen| (rows, unseen)) }
        )
    }

    /// This source's state written only under the lease `fence` (PostgreSQL with
    /// replicas): every write of it and of its directory checks the fence inside its
    /// own transaction (`crate::lease::fence`) and is refused once the lease moved on.
    /// SQLite has one agent per file: nothing to fence.
    pub fn under(self, fence: Fence) -> SourceState {
        match self {
            SourceState::Sqlite(state) => SourceState::Sqlite(state),
            SourceState::Postgres(state) => SourceState::Postgres(state.under(fence)),
        }
    }

    /// Records a batch every sink accepted, and the sweeps' progress, atomically
    /// (under the lease's fence, if [`SourceState::under`] one).
    pub async fn commit(&self, commit: Commit) -> Result<(), StateError> {
        either!(self, state => state.commit(&commit), state => state.commit(&commit))
    }

    /// [`SourceState::commit`] under `fence` instead of the handle's own (tests).
    #[cfg(any(test, feature = "__internals"))]
    pub async fn commit_fenced(
        &self,
        commit: Commit,
        fence: Option<&Fence>,
    ) -> Result<(), StateError> {
        match fence {
            Some(fence) => self.clone().under(fence.clone()).commit(commit).await,
            None => self.commit(commit).await,
        }
    }

    /// Outbound Calling Plans seconds of calls that started in `month`, by license.
    pub async fn plan_usage(&self, month: Month) -> Result<Vec<(String, f64)>, StateError> {
        either!(self, state => state.plan_usage(month), state => state.plan_usage(month))
    }

    /// The chargeback sums of calls that started in `month`.
    pub async fn chargeback(&self, month: Month) -> Result<Vec<MonthSum>, StateError> {
        either!(self, state => state.chargeback(month), state => state.chargeback(month))
    }

    /// Forgets delivered keys no sweep reads again, in slices, asking `keep_going`
    /// between them; returns how many keys went.
    pub async fn prune(
        &self,
        before: Timestamp,
        keep_going: impl Fn() -> bool + Send + 'static,
    ) -> Result<usize, StateError> {
        either!(self, state => state.prune(before, keep_going), state => state.prune(before, keep_going))
    }

    /// The dial-out totals last delivered for each row of `day` (`YYYY-MM-DD`).
    pub async fn dialout_totals(
        &self,
        day: String,
    ) -> Result<Vec<(Vec<u8>, StoredTotals)>, StateError> {
        either!(self, state => state.dialout_totals(&day), state => state.dialout_totals(&day))
    }

    /// Records the totals of rows of `day` every sink accepted, in one transaction.
    pub async fn commit_dialout(
        &self,
        day: String,
        rows: Vec<(Vec<u8>, StoredTotals)>,
    ) -> Result<(), StateError> {
        either!(self, state => state.commit_dialout(&day, &rows), state => state.commit_dialout(&day, &rows))
    }

    /// Forgets the dial-out totals of days before `first_day`.
    pub async fn prune_dialout(&self, first_day: String) -> Result<usize, StateError> {
        either!(self, state => state.prune_dialout(&first_day), state => state.prune_dialout(&first_day))
    }
}

/// One source's copy of the directory (cheap to clone).
#[derive(Debug, Clone)]
pub enum DirectoryState {
    /// In the SQLite file.
    Sqlite(SqliteDirectory),
    /// In PostgreSQL.
    Postgres(PgDirectory),
}

impl DirectoryState {
    /// What state knows of each id, in order, in one read.
    pub async fn users(&self, ids: Vec<String>) -> Result<Vec<StoredUser>, StateError> {
        either!(self, state => state.users(&ids), state => state.users(&ids))
    }

    /// Writes one page of the directory (and the mark, on a round's last page).
    pub async fn write(&self, write: DirectoryWrite) -> Result<(), StateError> {
        either!(self, state => state.write(&write), state => state.write(&write))
    }

    /// The mark the last round left, if any.
    pub async fn mark(&self) -> Result<Option<DirectorySyncMark>, StateError> {
        either!(self, state => state.mark(), state => state.mark())
    }

    /// Forgets the deltaLink (Graph no longer accepts it): the next round reads all.
    pub async fn forget_delta_link(&self) -> Result<(), StateError> {
        either!(self, state => state.forget_delta_link(), state => state.forget_delta_link())
    }

    /// The failed rounds in a row, if the last round failed.
    pub async fn failures(&self) -> Result<Option<DirectoryFailures>, StateError> {
        either!(self, state => state.failures(), state => state.failures())
    }

    /// Keeps the failed rounds in a row (`None`: the last round succeeded).
    pub async fn set_failures(
        &self,
        failures: Option<DirectoryFailures>,
    ) -> Result<(), StateError> {
        either!(self, state => state.set_failures(failures.as_ref()), state => state.set_failures(failures.as_ref()))
    }
}
