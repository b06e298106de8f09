//! One unit's lease as its source sees it: held (with the generation to commit under)
//! or lost.

use super::{Fence, Unit};
use tokio::sync::watch;

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
}

/// A source's view of one unit's lease, from [`LeaseKeeper::watch`](super::LeaseKeeper::watch).
#[derive(Debug, Clone)]
pub struct LeaseWatch {
    unit: Unit,
    holder: String,
    receiver: watch::Receiver<LeaseState>,
}

impl LeaseWatch {
    pub(super) fn new(unit: Unit, holder: String, receiver: watch::Receiver<LeaseState>) -> Self {
        LeaseWatch {
            unit,
            holder,
            receiver,
        }
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
            .wait_for(|state| *state != LeaseState::Held { generation })
            .await;
    }
}
