//! Leases in PostgreSQL: with `[state] postgres_url`, each unit of work, a (source,
//! tenant), is read by one replica at a time. A [`LeaseKeeper`] per replica heartbeats,
//! takes free or expired units up to its even share of the live replicas, renews what it
//! holds, gives back what is over its share so that a new replica gets work, and takes
//! over a unit whose holder stopped renewing (its generation + 1). Every lease time is
//! PostgreSQL's (`now()`): the replicas' clocks never meet.
//!
//! Two guards keep a unit's rows delivered once when a lease moves:
//! - the replica: a [`LeaseWatch`] per unit turns to "lost" a margin before the lease
//!   runs out unless a renewal went through, so a replica cut off from PostgreSQL stops
//!   delivering before anyone else may start;
//! - PostgreSQL: every commit of a unit's progress calls [`fence`] inside its own
//!   transaction, which refuses it unless the lease still has this holder and generation
//!   and has not run out (a frozen replica that wakes up commits nothing).
//!
//! How a source's run loop uses it:
//!
//! ```ignore
//! let mut lease = keeper.watch(&unit).expect("a unit the keeper was given");
//! while let Some(fence) = lease.held().await {
//!     // Held: read from the saved cursors, as a fresh start would.
//!     tokio::select! {
//!         () = lease.lost(&fence) => continue, // stop delivering this unit now
//!         () = poll_forever(&fence) => {}       // each commit: lease::fence(&tx, &fence)
//!     }
//! }
//! // None: the keeper stopped (shutdown); nothing of this unit is delivered any more.
//! ```
//!
//! Giving back: a unit above the share turns `Draining` (still held and renewed, its
//! commits still go through); the source ends its batch in flight and calls
//! [`LeaseWatch::give_back`], or the keeper takes it back a margin later. A source that
//! stopped for good gives its unit back with a hold-off: this replica does not take it
//! again before it ends, and another replica may take it beyond its full share.

mod held;
mod keeper;
mod round;
mod schema;
mod session;
mod share;
mod timing;
mod units;
mod watch;

pub use keeper::{Connect, LeaseKeeper, LeaseSettings, connector};
pub use units::LeaseUnits;
#[cfg(any(test, feature = "__internals"))]
pub use watch::LeaseState;
pub use watch::{LeaseWatch, LossCause};

use std::fmt;

/// One unit of work held by one replica at a time: a source's reading of one tenant.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Unit {
    /// The source's name (`[sources.NAME]`).
    pub source: String,
    /// The tenant as the configuration writes it.
    pub tenant: String,
}

impl Unit {
    /// The unit of `source` reading `tenant`.
    pub fn new(source: impl Into<String>, tenant: impl Into<String>) -> Unit {
        Unit {
            source: source.into(),
            tenant: tenant.into(),
        }
    }
}

impl fmt::Display for Unit {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "{}/{}", self.source, self.tenant)
    }
}

/// What a commit of a unit's progress is made under: the lease as this replica took it.
/// Handed out by [`LeaseWatch::held`]; checked by [`fence`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fence {
    /// The unit.
    pub unit: Unit,
    /// This replica's name.
    pub holder: String,
    /// The lease's generation when this replica took it (+1 at each change of holder).
    pub generation: i64,
}

/// Why [`fence`] refused a commit.
#[derive(Debug, thiserror::Error)]
pub enum Fenced {
    /// The lease is another replica's now, or ran out: the caller must roll back.
    #[error("the lease on {0} has moved on or run out: nothing of it may be committed here")]
    Moved(Unit),
    /// PostgreSQL could not be asked: the caller must roll back too.
    #[error("cannot check the lease on {unit}: {error}")]
    Unchecked {
        /// The unit.
        unit: Unit,
        /// What PostgreSQL said.
        #[source]
        error: tokio_postgres::Error,
    },
}

/// Checks, inside the caller's transaction, that the lease behind `fence` is still this
/// holder's, at this generation, and has not run out (PostgreSQL's clock). The row stays
/// share-locked until the transaction ends, so a takeover waits for this commit and
/// then moves the generation on: a commit under a lease that moved is refused by
/// PostgreSQL itself, whatever the committing replica believes.
pub async fn fence(
    transaction: &tokio_postgres::Transaction<'_>,
    fence: &Fence,
) -> Result<(), Fenced> {
    let rows = transaction
        .query(
            "SELECT 1 FROM leases WHERE source = $1 AND tenant = $2 AND holder = $3 \
             AND generation = $4 AND expires_at > clock_timestamp() FOR SHARE",
            &[
                &fence.unit.source,
                &fence.unit.tenant,
                &fence.holder,
                &fence.generation,
            ],
        )
        .await
        .map_err(|error| Fenced::Unchecked {
            unit: fence.unit.clone(),
            error,
        })?;
    if rows.is_empty() {
        return Err(Fenced::Moved(fence.unit.clone()));
    }
    Ok(())
}
