//! What the agent has done, in one SQLite file in `data_dir` (the default) or, with
//! `[state] postgres_url`, in PostgreSQL shared by replicas: per source (per unit =
//! source and tenant, in PostgreSQL), each sweep's cursor, the ids already delivered (kept until no sweep can read them again), the
//! dial-out report's totals last delivered per day, and, with
//! `[sources.NAME.directory]`, its copy of the directory.
//!
//! Users can open `state.sqlite3` with `sqlite3` to see progress (`sweeps`) and what
//! was delivered (`delivered`). Memory does not grow with volume: dedupe asks the
//! database, whose pages the OS caches.

pub mod config;
mod copy;
mod directory;
pub mod postgres;
mod schema;
mod source_state;
mod sqlite;
mod store;
mod units;
mod user_directory;

pub use config::StateConfig;
pub use copy::copy;
pub use postgres::PgStore;
pub use source_state::SqliteSource;
#[cfg(any(test, feature = "__internals"))]
pub use source_state::open_connections;
pub use sqlite::SqliteStore;
pub use store::StateStore;
pub use units::{DirectoryState, SourceState};
pub use user_directory::SqliteDirectory;

pub use directory::DirectoryLock;
#[cfg(any(test, feature = "__internals"))]
pub use directory::LOCK_FILE;
pub use source_state::PRUNE_SLICE;
pub use source_state::{Commit, StoredTotals};
pub use user_directory::{DirectoryFailures, DirectorySyncMark, DirectoryWrite, StoredUser};

use std::path::PathBuf;

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
        /// The database file (or PostgreSQL's `host:port/database`).
        path: PathBuf,
        /// Why, and how to recover.
        message: String,
    },
    /// PostgreSQL failed (unreachable, refused the login, an error in a statement).
    #[error("{at}: {message}")]
    Postgres {
        /// `postgresql host:port/database` (never the user or password).
        at: String,
        /// What failed, with the server's own words.
        message: String,
    },
    /// The lease on the unit moved on (another replica holds it, or it ran out):
    /// nothing written.
    #[error("write refused by the lease's fence: {0}")]
    Fenced(String),
    /// PostgreSQL could not be asked whether the lease is still this replica's (it is
    /// unreachable, or the statement failed): nothing written, and the lease may well
    /// still be held; not the same as [`StateError::Fenced`].
    #[error(
        "{at}: cannot check the lease on {unit} (is PostgreSQL reachable?), so nothing was written: {message}"
    )]
    FenceUnchecked {
        /// `postgresql host:port/database`.
        at: String,
        /// The unit (`source/tenant`).
        unit: String,
        /// What PostgreSQL (or the connection) said.
        message: String,
    },
    /// A blocking state task died.
    #[error("a state task died: {0}")]
    Internal(String),
}

/// Runs SQLite's blocking work off the async threads.
pub(crate) async fn run_blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, StateError> + Send + 'static,
) -> Result<T, StateError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|error| StateError::Internal(error.to_string()))?
}
