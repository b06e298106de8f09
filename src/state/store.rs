//! The state of one agent, in SQLite (the default) or PostgreSQL (`[state]
//! postgres_url`): one enum, so call sites do not care which.

use super::config::StateConfig;
use super::source_state::Tenants;
use super::sqlite::{SqliteStore, lock_data_dir};
use super::{DirectoryLock, PgStore, SourceState, StateError};
use std::path::Path;
use std::sync::Arc;

/// Where this agent's state lives.
#[derive(Debug, Clone)]
pub enum StateStore {
    /// `data_dir/state.sqlite3`, one agent per `data_dir`.
    Sqlite(SqliteStore),
    /// PostgreSQL shared by replicas; `data_dir` is still locked (it holds what is local
    /// to this replica: dead letters).
    Postgres {
        /// The database.
        store: PgStore,
        /// The lock on `data_dir`, held while the store lives.
        _lock: Arc<DirectoryLock>,
    },
}

impl StateStore {
    /// Opens the SQLite state in `data_dir` (see [`SqliteStore::open`]).
    pub fn open(data_dir: &Path) -> Result<StateStore, StateError> {
        SqliteStore::open(data_dir).map(StateStore::Sqlite)
    }

    /// Opens the state `[state]` says: PostgreSQL with `postgres_url` (migrated, and
    /// `data_dir` locked), else SQLite in `data_dir`.
    pub async fn open_configured(
        config: &StateConfig,
        data_dir: &Path,
    ) -> Result<StateStore, StateError> {
        let Some(url) = &config.postgres_url else {
            let data_dir = data_dir.to_owned();
            return super::run_blocking(move || StateStore::open(&data_dir)).await;
        };
        let store = PgStore::new(url.expose())
            .map_err(|message| StateError::Postgres {
                at: "state.postgres_url".into(),
                message,
            })?
            .ending_idle_transactions_after(config.lease_ttl);
        let dir = data_dir.to_owned();
        let lock = super::run_blocking(move || lock_data_dir(&dir)).await?;
        store.open().await?;
        Ok(StateStore::Postgres {
            store,
            _lock: Arc::new(lock),
        })
    }

    /// The SQLite database file, when state is in SQLite.
    #[cfg(any(test, feature = "__internals"))]
    pub fn path(&self) -> Option<&Path> {
        match self {
            StateStore::Sqlite(store) => Some(store.path()),
            StateStore::Postgres { .. } => None,
        }
    }

    /// The state of one source (one unit: the source and its tenant), on a connection
    /// of its own.
    pub async fn source(
        &self,
        name: &str,
        kind: &str,
        tenant_id: &str,
    ) -> Result<SourceState, StateError> {
        self.unit(name, kind, tenant_id, Tenants::One).await
    }

    /// The state of one tenant of a source with several (`tenants`, `tenants_file`):
    /// in SQLite a row of its own per (name, tenant), where a source of one tenant is
    /// refused another tenant; PostgreSQL keys every unit so already.
    pub async fn tenant_source(
        &self,
        name: &str,
        kind: &str,
        tenant_id: &str,
        count: usize,
    ) -> Result<SourceState, StateError> {
        self.unit(name, kind, tenant_id, Tenants::OneOf(count))
            .await
    }

    async fn unit(
        &self,
        name: &str,
        kind: &str,
        tenant_id: &str,
        tenants: Tenants,
    ) -> Result<SourceState, StateError> {
        match self {
            StateStore::Sqlite(store) => {
                let store = store.clone();
                let (name, kind, tenant_id) =
                    (name.to_owned(), kind.to_owned(), tenant_id.to_owned());
                super::run_blocking(move || match tenants {
                    Tenants::One => store.source(&name, &kind, &tenant_id),
                    Tenants::OneOf(count) => store.tenant_source(&name, &kind, &tenant_id, count),
                })
                .await
                .map(SourceState::Sqlite)
            }
            StateStore::Postgres { store, .. } => store
                .source(name, kind, tenant_id)
                .await
                .map(SourceState::Postgres),
        }
    }
}
