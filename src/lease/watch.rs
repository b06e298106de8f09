//! One unit's lease as its source sees it: held (with the generation to commit under),
//! held but wanted back (rebalancing: finish the batch in flight first), or lost; and
//! the way back to the keeper when the source is done with it.

use super::{Fence, Unit};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{mpsc, watch};

/// Why this replica stopped holding a unit's lease, as the keeper saw it: what a
/// source reports when the loss cut its read short (`--once`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LossCause {
    /// PostgreSQL answered that another replica holds it now (or it ran out there).
    MovedOn,
    /// No renewal came through before the margin: PostgreSQL unreachable or too slow.
    NotRenewed,
    /// Wanted back to even out the share and not given back within the margin.
    WantedBack,
    /// Given back by its source.
    GivenBack,
    /// The keeper stopped (shutdown).
    KeeperStopped,
    /// The unit was removed from the configuration (SIGHUP): given back, not claimed.
    Removed,
}

impl std::fmt::Display for LossCause {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str(match self {
            LossCause::MovedOn => "PostgreSQL says another replica holds it now",
            LossCause::NotRenewed => {
                "it could not be renewed in time (PostgreSQL unreachable or too slow), so this replica stopped before it could run out"
            }
            LossCause::WantedBack => {
                "it was wanted back to even out the share and not given back within the margin"
            }
            LossCause::GivenBack => "its source gave it back",
            LossCause::KeeperStopped => "the lease keeper stopped",
            LossCause::Removed => "the unit was removed from the configuration",
        })
    }
}

/// The last [`LossCause`] of one unit, shared by the keeper's book and the watches.
pub(super) type LastLoss = Arc<Mutex<Option<LossCause>>>;

/// Whether this replica holds a unit's lease.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LeaseState {
    /// Not held here: nothing of the unit may be delivered or committed.
    Lost,
    /// Held here under this generation until at least a margin before it runs out.
    Held {
        /// The lease's generation, which every commit is fenced with.
        generation: i64,
    },
    /// Still held under this generation (commits go through), but the keeper wants it
    /// back to even out the share: the source ends its batch in flight, then gives the
    /// unit back ([`LeaseWatch::give_back`]); after the margin the keeper takes it.
    Draining {
        /// The lease's generation.
        generation: i64,
    },
}

impl LeaseState {
    /// Whether this is the lease taken under `generation`, still held (or draining).
    fn holds(self, generation: i64) -> bool {
        matches!(self, LeaseState::Held { generation: held } | LeaseState::Draining { generation: held } if held == generation)
    }
}

/// A source done with its unit's lease, to the keeper: give it back now, and do not
/// take it again here for `hold_off` (zero: at the next round, as usual).
#[derive(Debug, Clone)]
pub(super) struct Release {
    pub(super) unit: Unit,
    pub(super) generation: i64,
    pub(super) hold_off: Duration,
}

/// A source's view of one unit's lease, from [`LeaseKeeper::watch`](super::LeaseKeeper::watch).
#[derive(Debug, Clone)]
pub struct LeaseWatch {
    unit: Unit,
    holder: String,
    receiver: watch::Receiver<LeaseState>,
    releases: mpsc::UnboundedSender<Release>,
    last_loss: LastLoss,
}

impl LeaseWatch {
    pub(super) fn new(
        unit: Unit,
        holder: String,
        receiver: watch::Receiver<LeaseState>,
        releases: mpsc::UnboundedSender<Release>,
        last_loss: LastLoss,
    ) -> Self {
        LeaseWatch {
            unit,
            holder,
            receiver,
            releases,
            last_loss,
        }
    }

    /// Why the lease was last lost here, if it ever was.
    pub fn last_loss(&self) -> Option<LossCause> {
        *self
            .last_loss
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The unit watched.
    pub fn unit(&self) -> &Unit {
        &self.unit
    }

    /// The lease's state now (tests look).
    #[cfg(any(test, feature = "__internals"))]
    pub fn state(&self) -> LeaseState {
        *self.receiver.borrow()
    }

    /// Waits until this replica holds the unit and returns the fence to commit under;
    /// `None` once the keeper has stopped (the unit is not delivered any more).
    pub async fn held(&mut self) -> Option<Fence> {
        // A closed channel (the keeper stopped) keeps its last value: never hand it out.
        self.receiver.has_changed().ok()?;
        let state = *self
            .receiver
            .wait_for(|state| matches!(state, LeaseState::Held { .. }))
            .await
            .ok()?;
        let LeaseState::Held { generation } = state else {
            return None;
        };
        Some(Fence {
            unit: self.unit.clone(),
            holder: self.holder.clone(),
            generation,
        })
    }

    /// Resolves once the lease `fence` was taken under is no longer held here: lost
    /// (renewal failed until the margin before it runs out), given back to balance,
    /// taken over, or the keeper stopped. From then on the source must deliver nothing
    /// of the unit; a commit already under way is refused by [`fence`](super::fence).
    pub async fn lost(&mut self, fence: &Fence) {
        let generation = fence.generation;
        let _ = self
            .receiver
            .wait_for(|state| !state.holds(generation))
            .await;
    }

    /// Resolves once the keeper wants the lease `fence` was taken under back (to even
    /// out the share), or it is lost: the source should end its batch in flight, commit
    /// it (the lease is still valid) and [`give_back`](Self::give_back) the unit.
    pub async fn draining(&mut self, fence: &Fence) {
        let generation = fence.generation;
        let _ = self
            .receiver
            .wait_for(|state| *state != LeaseState::Held { generation })
            .await;
    }

    /// Gives the lease `fence` was taken under back to the keeper, which frees it in
    /// PostgreSQL at once and does not take it again here for `hold_off` (a source
    /// that stopped on a permanent error: so that another replica tries the unit).
    /// From now on the source must deliver nothing of the unit.
    pub fn give_back(&self, fence: &Fence, hold_off: Duration) {
        let _ = self.releases.send(Release {
            unit: self.unit.clone(),
            generation: fence.generation,
            hold_off,
        });
    }
}
