//! Changing a running keeper's units (SIGHUP re-reads a `tenants_file`): an added unit
//! gets a slot and a watch and is taken within the share from the next round; a
//! removed one is given back by this replica and no longer taken here (its state stays
//! in PostgreSQL). Every replica should be given the same change: meanwhile a unit only
//! this replica knows is read by it alone, and one removed here may be taken by a
//! replica that still has it.

use super::keeper::Keeper;
use super::timing::guarded;
use super::{LeaseWatch, Unit};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};

/// One change of the units, to the keeper's task; answered once applied.
pub(super) struct Change {
    added: Vec<Unit>,
    removed: Vec<Unit>,
    applied: oneshot::Sender<()>,
}

/// The watches of a keeper's units, shared by its handles and its task.
pub(super) type Watches = Arc<Mutex<Vec<LeaseWatch>>>;

/// A running keeper's units, cloneable into the tasks that follow the configuration:
/// each unit's watch, and the way to add and remove units while it runs.
#[derive(Debug, Clone)]
pub struct LeaseUnits {
    pub(super) watches: Watches,
    pub(super) changes: mpsc::UnboundedSender<Change>,
    pub(super) ttl: Duration,
}

impl LeaseUnits {
    /// The watch of `unit`'s lease; `None` for a unit the keeper does not have.
    pub fn watch(&self, unit: &Unit) -> Option<LeaseWatch> {
        lock(&self.watches)
            .iter()
            .find(|watch| watch.unit() == unit)
            .cloned()
    }

    /// The keeper's `lease_ttl`.
    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    /// Adds `added` (taken within the share from the next round; their watches from
    /// [`watch`](Self::watch) once this returns) and removes `removed` (their watches
    /// turn lost then close, their leases are given back; their sources should have
    /// stopped first). Returns once the keeper applied it (PostgreSQL answering or
    /// not: a lease not given back runs out after `lease_ttl`), or at once when it stopped.
    /// No change (a SIGHUP with the same tenants, a log rotation's) costs nothing.
    pub async fn change(&self, added: Vec<Unit>, removed: Vec<Unit>) {
        if added.is_empty() && removed.is_empty() {
            return;
        }
        let (applied, done) = oneshot::channel();
        let change = Change {
            added,
            removed,
            applied,
        };
        if self.changes.send(change).is_ok() {
            let _ = done.await;
        }
    }
}

/// The watches, whether or not a holder of the lock panicked (a list stays whole).
fn lock(watches: &Watches) -> MutexGuard<'_, Vec<LeaseWatch>> {
    watches
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Keeper {
    /// Applies `change`: slots and watches added and dropped, the removed leases given
    /// back and the added units registered in PostgreSQL.
    pub(super) async fn change(&mut self, change: Change, every: Duration) {
        let Change {
            added,
            removed,
            applied,
        } = change;
        let given: Vec<(Unit, i64)> = removed
            .iter()
            .filter_map(|unit| Some((unit.clone(), self.held.remove(unit)?)))
            .collect();
        let added: Vec<Unit> = added
            .into_iter()
            .filter(|unit| self.held.add(unit))
            .collect();
        let replica = self.session.settings.replica.clone();
        {
            let mut watches = lock(&self.watches);
            watches.retain(|watch| !removed.contains(watch.unit()));
            watches.extend(
                added
                    .iter()
                    .filter_map(|unit| self.held.watch(unit, &replica)),
            );
        }
        self.session.units.retain(|unit| !removed.contains(unit));
        self.session.units.extend(added);
        tracing::info!(
            units = self.session.units.len(),
            given_back = given.len(),
            "lease units changed"
        );
        let changed = guarded(&mut self.held, every, self.session.change(&given)).await;
        if let Err(error) = changed {
            self.failed(&error);
        }
        let _ = applied.send(());
    }
}
