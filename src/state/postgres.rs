//! State in PostgreSQL, shared by replicas (`[state] postgres_url`): the same rows as
//! the SQLite file (cursors, delivered keys, ledgers, directory, dial-out totals), per
//! unit = (source name, tenant id), each replica on connections of its own that come
//! back by themselves after PostgreSQL restarts.

mod copy;
mod directory;
mod schema;
mod source;

pub(crate) use copy::copy_unit;

pub use directory::PgDirectory;
pub use source::PgSource;

use super::StateError;
use crate::lease::{Fence, Fenced, Unit};
use std::sync::Arc;
use tokio_postgres::Client;

/// Where state lives in PostgreSQL: the parsed URL (with its password) and how to
/// reach the server over TLS. Cheap to clone.
#[derive(Clone)]
pub struct PgStore {
    config: Arc<tokio_postgres::Config>,
    tls: tokio_postgres_rustls::MakeRustlsConnect,
    /// `host:port/database`, naming the server in errors without user or password.
    at: Arc<str>,
    /// How long PostgreSQL lets a session of this store sit idle inside a transaction
    /// before it ends the session (see [`PgStore::ending_idle_transactions_after`]).
    idle_in_transaction: Option<std::time::Duration>,
}

impl std::fmt::Debug for PgStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PgStore({})", self.at)
    }
}

/// `host:port/database` of a parsed URL: what errors name (never the user or password).
pub(crate) fn place(config: &tokio_postgres::Config) -> String {
    let hosts: Vec<String> = config
        .get_hosts()
        .iter()
        .zip(config.get_ports().iter().chain(std::iter::repeat(&5432)))
        .map(|(host, port)| match host {
            tokio_postgres::config::Host::Tcp(name) => format!("{name}:{port}"),
            tokio_postgres::config::Host::Unix(path) => path.display().to_string(),
        })
        .collect();
    format!(
        "postgresql {}/{}",
        hosts.join(","),
        config.get_dbname().unwrap_or("")
    )
}

/// A PostgreSQL error with its causes (the server's own message is a cause).
pub(crate) fn describe(error: &tokio_postgres::Error) -> String {
    if let Some(db) = error.as_db_error() {
        return format!("{}: {}", db.severity(), db.message());
    }
    let mut text = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

impl PgStore {
    /// Parses `url` (a problem line's words when it is not a PostgreSQL URL) and sets up
    /// TLS: rustls with ring, trusting what the platform trusts, as every HTTPS client
    /// of the agent does. `sslmode` in the URL decides whether TLS is required.
    pub fn new(url: &str) -> Result<PgStore, String> {
        let config: tokio_postgres::Config = url.parse().map_err(|_| {
            "not a PostgreSQL URL like postgres://user:password@host:5432/database".to_owned()
        })?;
        if config.get_hosts().is_empty() {
            return Err("names no host (postgres://user:password@host:5432/database)".into());
        }
        let _ = rustls::crypto::ring::default_provider().install_default();
        use rustls_platform_verifier::BuilderVerifierExt;
        let tls = rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .and_then(|builder| builder.with_platform_verifier())
        .map_err(|error| format!("cannot set up TLS: {error}"))?
        .with_no_client_auth();
        Ok(PgStore {
            at: place(&config).into(),
            config: Arc::new(config),
            tls: tokio_postgres_rustls::MakeRustlsConnect::new(tls),
            idle_in_transaction: None,
        })
    }

    /// The same store, its sessions ended by PostgreSQL when idle inside a transaction
    /// for `limit` (the lease's time to live). A commit share-locks its lease's row
    /// (`lease::fence`) and the others' takeover skips locked rows: a replica frozen
    /// (SIGSTOP, a paused VM) in the middle of a commit would otherwise keep its units
    /// from every other replica until it woke. Our own transactions never wait between
    /// statements on anything but PostgreSQL.
    pub fn ending_idle_transactions_after(self, limit: std::time::Duration) -> PgStore {
        PgStore {
            // PostgreSQL takes at most i32::MAX ms (24 days); a longer ttl is held to it.
            idle_in_transaction: Some(limit.clamp(
                std::time::Duration::from_millis(1),
                std::time::Duration::from_millis(i32::MAX as u64),
            )),
            ..self
        }
    }

    /// The error naming this server (`host:port/database`).
    pub(crate) fn failed(&self, message: impl Into<String>) -> StateError {
        StateError::Postgres {
            at: self.at.to_string(),
            message: message.into(),
        }
    }

    /// A new connection, its driver running on the current runtime until it closes.
    pub(crate) async fn connect(&self) -> Result<Client, StateError> {
        let (client, connection) = self
            .config
            .connect(self.tls.clone())
            .await
            .map_err(|error| self.failed(format!("cannot connect: {}", describe(&error))))?;
        let at = self.at.clone();
        tokio::spawn(async move {
            if let Err(error) = connection.await {
                tracing::debug!(%at, error = %describe(&error), "PostgreSQL connection closed");
            }
        });
        if let Some(limit) = self.idle_in_transaction {
            // A plain SET rather than a startup option: poolers refuse unknown ones.
            client
                .batch_execute(&format!(
                    "SET idle_in_transaction_session_timeout = {}",
                    limit.as_millis()
                ))
                .await
                .map_err(|error| {
                    self.failed(format!("cannot set up the session: {}", describe(&error)))
                })?;
        }
        Ok(client)
    }

    /// Connects and brings the schema up to date (refusing one from a newer release).
    pub async fn open(&self) -> Result<(), StateError> {
        let mut client = self.connect().await?;
        schema::migrate(self, &mut client).await
    }

    /// How the lease keeper opens its sessions: this URL, this TLS.
    pub fn lease_connector(&self) -> crate::lease::Connect {
        crate::lease::connector((*self.config).clone(), self.tls.clone())
    }

    /// The state of one unit (created if new), on a connection of its own.
    pub async fn source(
        &self,
        name: &str,
        kind: &str,
        tenant_id: &str,
    ) -> Result<PgSource, StateError> {
        PgSource::open(self, name, kind, tenant_id).await
    }
}

/// Checks, inside `transaction` just before it commits, that this replica still holds `unit`'s
/// lease under `fence` (nothing to check without one: no replicas, or a test). Every
/// write of a unit's rows goes through here, so a replica whose lease moved on changes
/// none of them: the lease row stays share-locked until the transaction ends, so the
/// lease cannot move between the check and the commit either. Checked last, not first:
/// a replica frozen (SIGSTOP) mid-transaction must not hold the lock that a takeover
/// would wait for.
pub(crate) async fn check_fence(
    transaction: &tokio_postgres::Transaction<'_>,
    fence: Option<&Fence>,
    unit: &Unit,
    store: &PgStore,
) -> Result<(), StateError> {
    let Some(fence) = fence else {
        return Ok(());
    };
    if &fence.unit != unit {
        return Err(StateError::Fenced(format!(
            "the lease is on {}, this state is {unit}",
            fence.unit
        )));
    }
    crate::lease::fence(transaction, fence)
        .await
        .map_err(|fenced| match fenced {
            Fenced::Moved(_) => StateError::Fenced(fenced.to_string()),
            Fenced::Unchecked { unit, error } => StateError::FenceUnchecked {
                at: store.at.to_string(),
                unit: unit.to_string(),
                message: describe(&error),
            },
        })
}

/// One connection, made again on first use after it closed (PostgreSQL restarted):
/// the next operation after a restart works, the one that was cut off fails.
#[derive(Clone)]
pub(crate) struct Link {
    pub(crate) store: PgStore,
    client: Arc<tokio::sync::Mutex<Client>>,
}

impl Link {
    pub(crate) async fn new(store: &PgStore) -> Result<Link, StateError> {
        Ok(Link {
            client: Arc::new(tokio::sync::Mutex::new(store.connect().await?)),
            store: store.clone(),
        })
    }

    /// The connection, for one operation at a time.
    pub(crate) async fn client(&self) -> Result<tokio::sync::MutexGuard<'_, Client>, StateError> {
        let mut client = self.client.lock().await;
        if client.is_closed() {
            *client = self.store.connect().await?;
        }
        Ok(client)
    }

    /// Maps a PostgreSQL error to state's, naming the server.
    pub(crate) fn failed(&self) -> impl Fn(tokio_postgres::Error) -> StateError + '_ {
        move |error| self.store.failed(describe(&error))
    }
}
