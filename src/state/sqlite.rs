//! State in one SQLite file in `data_dir` (the default): one agent per `data_dir`,
//! which it locks.

use super::directory;
use super::source_state::Tenants;
use super::{DATABASE_FILE, DirectoryLock, SqliteSource, StateError, schema};
use std::path::{Path, PathBuf};

/// The SQLite state database of one agent.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    path: PathBuf,
    _lock: std::sync::Arc<DirectoryLock>,
    /// A connection held open while the store lives: sources close theirs between
    /// polls, and the last connection's close would checkpoint and delete the WAL.
    _anchor: std::sync::Arc<std::sync::Mutex<rusqlite::Connection>>,
}

impl SqliteStore {
    /// Opens (creating if needed) `data_dir/state.sqlite3`: directory 0700, file 0600,
    /// and locks `data_dir` for this agent until the store (and its clones) are dropped.
    pub fn open(data_dir: &Path) -> Result<SqliteStore, StateError> {
        let lock = lock_data_dir(data_dir)?;
        let path = data_dir.join(DATABASE_FILE);
        directory::prepare_file(&path)?;
        let connection = schema::connect(&path)?;
        schema::migrate(&connection, &path)?;
        Ok(SqliteStore {
            path,
            _lock: std::sync::Arc::new(lock),
            _anchor: std::sync::Arc::new(std::sync::Mutex::new(connection)),
        })
    }

    /// What [`SqliteStore::open`] would refuse in `data_dir`'s state file (not ours,
    /// garbled, from a newer release), found read-only and without the lock, so
    /// `validate` can say it while an agent runs. A missing file is fine (a first start).
    pub fn check(data_dir: &Path) -> Result<(), StateError> {
        let path = data_dir.join(DATABASE_FILE);
        if !path.is_file() {
            return Ok(());
        }
        schema::check_read_only(&path)
    }

    /// The database file.
    #[cfg(any(test, feature = "__internals"))]
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The database file (for `state copy`, which reads it whole).
    pub(crate) fn database_path(&self) -> PathBuf {
        self.path.clone()
    }

    /// The state of one source, with its own connection.
    pub fn source(
        &self,
        name: &str,
        kind: &str,
        tenant_id: &str,
    ) -> Result<SqliteSource, StateError> {
        SqliteSource::open(&self.path, name, kind, tenant_id, Tenants::One)
    }

    /// The state of one tenant of a source with `count` (`tenants`): its own row per
    /// (name, tenant), with its own connection.
    pub fn tenant_source(
        &self,
        name: &str,
        kind: &str,
        tenant_id: &str,
        count: usize,
    ) -> Result<SqliteSource, StateError> {
        SqliteSource::open(&self.path, name, kind, tenant_id, Tenants::OneOf(count))
    }
}

/// Creates `data_dir` (private to this user) and locks it for this agent: what is
/// local to one replica (dead letters, the SQLite file) is used by one process.
pub(super) fn lock_data_dir(data_dir: &Path) -> Result<DirectoryLock, StateError> {
    directory::prepare_directory(data_dir)?;
    directory::lock(data_dir)
}
