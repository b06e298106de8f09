//! A source's SQLite connection, open only while the source works. Between polls it
//! is closed ([`SourceConnection::rest`]): a thousand tenants asleep then hold no
//! connection each (about 59 kB apiece at 1,000 tenants: its schema, prepared
//! statements and page cache; BENCHMARKS, "a connection only while polling"). The
//! next use opens it again, with the same page cache size. The store keeps one
//! connection of its own open, so closing a source's is never the last close (which
//! would checkpoint and delete the WAL each time).

use super::super::StateError;
use super::super::schema::{connect, database_error};
use rusqlite::Connection;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError};

/// The connection of one source's state, opened on use and closed at rest.
#[derive(Debug)]
pub(super) struct SourceConnection {
    path: PathBuf,
    /// `PRAGMA cache_size` in KiB for a tenant of several; SQLite's default otherwise.
    cache_kib: Option<usize>,
    open: Mutex<Option<Connection>>,
}

/// Opens `path` as a source's connection: with a page cache of `cache_kib` when set.
pub(super) fn open(path: &Path, cache_kib: Option<usize>) -> Result<Connection, StateError> {
    let connection = connect(path)?;
    if let Some(kib) = cache_kib {
        connection
            .execute_batch(&format!("PRAGMA cache_size=-{kib};"))
            .map_err(database_error(path))?;
    }
    Ok(connection)
}

impl SourceConnection {
    /// Keeps `connection` (opened by [`open`] with `cache_kib`) until the first rest.
    pub(super) fn new(path: &Path, connection: Connection, cache_kib: Option<usize>) -> Self {
        #[cfg(any(test, feature = "__internals"))]
        counted::opened(path, 1);
        SourceConnection {
            path: path.to_owned(),
            cache_kib,
            open: Mutex::new(Some(connection)),
        }
    }

    /// Runs `work` on the connection, opening it first if it is at rest.
    pub(super) fn with<T>(
        &self,
        work: impl FnOnce(&mut Connection) -> Result<T, rusqlite::Error>,
    ) -> Result<T, StateError> {
        let mut open_now = self.open.lock().unwrap_or_else(PoisonError::into_inner);
        let connection = match &mut *open_now {
            Some(connection) => connection,
            None => {
                let connection = open(&self.path, self.cache_kib)?;
                #[cfg(any(test, feature = "__internals"))]
                counted::opened(&self.path, 1);
                open_now.insert(connection)
            }
        };
        work(connection).map_err(database_error(&self.path))
    }

    /// Closes the connection until the next use (no transaction is ever left open
    /// between uses: each `with` ends its own).
    pub(super) fn rest(&self) {
        let closed = self
            .open
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        #[cfg(any(test, feature = "__internals"))]
        if closed.is_some() {
            counted::opened(&self.path, -1);
        }
        drop(closed);
    }

    /// Whether the connection is open now.
    #[cfg(test)]
    pub(super) fn is_open(&self) -> bool {
        self.open
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .is_some()
    }
}

#[cfg(any(test, feature = "__internals"))]
impl Drop for SourceConnection {
    fn drop(&mut self) {
        self.rest();
    }
}

/// Sources' connections open now, by database file (built for the crate's own tests
/// only): the tests that run a whole agent see through it whether its sources rest between polls (descriptors cannot tell:
/// SQLite keeps a closed connection's descriptor while others hold locks on the file).
#[cfg(any(test, feature = "__internals"))]
pub(crate) mod counted {
    use std::collections::BTreeMap;
    use std::path::{Path, PathBuf};
    use std::sync::{Mutex, PoisonError};

    static OPEN: Mutex<BTreeMap<PathBuf, isize>> = Mutex::new(BTreeMap::new());

    pub(super) fn opened(path: &Path, change: isize) {
        let mut open = OPEN.lock().unwrap_or_else(PoisonError::into_inner);
        *open.entry(path.to_owned()).or_default() += change;
    }

    /// How many sources' connections to `path` are open now.
    pub fn open_connections(path: &Path) -> isize {
        let open = OPEN.lock().unwrap_or_else(PoisonError::into_inner);
        open.get(path).copied().unwrap_or(0)
    }
}
