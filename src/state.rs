//! What the agent has done, in one SQLite file in `data_dir`: per source, each sweep's
//! cursor, the ids already delivered (kept until no sweep can read them again), the
//! dial-out report's totals last delivered per day, and, with
//! `[sources.NAME.directory]`, its copy of the directory.
//!
//! Users can open `state.sqlite3` with `sqlite3` to see progress (`sweeps`) and what
//! was delivered (`delivered`). Memory does not grow with volume: dedupe asks the
//! database, whose pages the OS caches.

mod directory;
mod schema;
mod source_state;
mod user_directory;

pub use directory::DirectoryLock;
#[cfg(any(test, feature = "__internals"))]
pub use directory::LOCK_FILE;
pub use source_state::{Commit, SourceState, StoredTotals};
#[cfg(any(test, feature = "__internals"))]
pub use source_state::PRUNE_SLICE;
pub use user_directory::{
    DirectoryFailures, DirectoryState, DirectorySyncMark, DirectoryWrite, StoredUser,
};

use std::path::{Path, PathBuf};

/// File name of the database inside `data_dir`.
pub const DATABASE_FILE: &str = "state.sqlite3";

/// Why state could not be read or written.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StateError {
    /// The directory could not be created or used.
    #[error("{path}: {message}")]
    Directory {
        /// The directory.
        path: PathBuf,
        /// What went wrong, and what to do.
        message: String,
    },
    /// SQLite failed (disk full, read-only, corrupt...).
    #[error("{path}: {source}")]
    Database {
        /// The database file.
        path: PathBuf,
        /// SQLite's error.
        source: rusqlite::Error,
    },
    /// Another agent uses the same `data_dir`.
    #[error(
        "{path} is locked by {holder}: two agents on one data_dir would both deliver every row; give each agent its own data_dir, or stop the other one"
    )]
    Locked {
        /// The lock file.
        path: PathBuf,
        /// Who holds it, as far as can be told.
        holder: String,
    },
    /// The file is not ours, or from a newer release.
    #[error("{path}: {message}")]
    Refused {
        /// The database file.
        path: PathBuf,
        /// Why, and how to recover.
        message: String,
    },
}

/// The state database of one agent.
#[derive(Debug, Clone)]
pub struct StateStore {
    path: PathBuf,
    _lock: std::sync::Arc<DirectoryLock>,
}

impl StateStore {
    /// Opens (creating if needed) `data_dir/state.sqlite3`: directory 0700, file 0600,
    /// and locks `data_dir` for this agent until the store (and its clones) are dropped.
    pub fn open(data_dir: &Path) -> Result<StateStore, StateError> {
        directory::prepare_directory(data_dir)?;
        let lock = directory::lock(data_dir)?;
        let path = data_dir.join(DATABASE_FILE);
        directory::prepare_file(&path)?;
        let connection = schema::connect(&path)?;
        schema::migrate(&connection, &path)?;
        Ok(StateStore {
            path,
            _lock: std::sync::Arc::new(lock),
        })
    }

    /// What [`StateStore::open`] would refuse in `data_dir`'s state file (not ours,
    /// garbled, from a newer release), found read-only and without the lock, so
    /// `validate` can say it while an agent runs. A missing file is fine (a first start).
    pub fn check(data_dir: &Path) -> Result<(), StateError> {
        let path = data_dir.join(DATABASE_FILE);
        if !path.is_file() {
            return Ok(());
        }
        schema::check_read_only(&path)
    }

    #[cfg(any(test, feature = "__internals"))]
    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The state of one source, with its own connection.
    pub fn source(
        &self,
        name: &str,
        kind: &str,
        tenant_id: &str,
    ) -> Result<SourceState, StateError> {
        SourceState::open(&self.path, name, kind, tenant_id)
    }
}
