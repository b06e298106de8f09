//! The replica's own book of its leases: per unit, the watch its source reads and,
//! while held, the generation and the instant (on this machine's monotonic clock) at
//! which the lease counts as lost unless a renewal moved it on; whether it is
//! draining (wanted back, until when) and whether this replica avoids taking it.

use super::Unit;
use super::watch::{LastLoss, LeaseState, LeaseWatch, LossCause, Release};
use crate::metrics::LeaseMetrics;
use std::collections::BTreeMap;
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;

/// One unit's slot.
#[derive(Debug)]
struct Slot {
    sender: watch::Sender<LeaseState>,
    /// (generation, when it counts as lost) while held.
    lease: Option<(i64, Instant)>,
    /// While held and wanted back: when the keeper takes it back if the source has not
    /// given it back by then.
    draining: Option<Instant>,
    /// Not taken here before this (its source stopped here on a permanent error).
    avoid_until: Option<Instant>,
    /// Held beyond the share: taken while another replica avoided it.
    rescued: bool,
    /// Why it was last lost, for its watches.
    last_loss: LastLoss,
}

impl Slot {
    /// A unit's slot before its first take (at start, or added while running).
    fn new() -> Slot {
        let (sender, _) = watch::channel(LeaseState::Lost);
        Slot {
            sender,
            lease: None,
            draining: None,
            avoid_until: None,
            rescued: false,
            last_loss: LastLoss::default(),
        }
    }
}

/// Every unit the keeper was given, held or not.
#[derive(Debug)]
pub(super) struct Held {
    slots: BTreeMap<Unit, Slot>,
    metrics: LeaseMetrics,
    releases: mpsc::UnboundedSender<Release>,
}

impl Held {
    pub(super) fn new(
        units: &[Unit],
        metrics: LeaseMetrics,
        releases: mpsc::UnboundedSender<Release>,
    ) -> Held {
        let slots = units
            .iter()
            .map(|unit| (unit.clone(), Slot::new()))
            .collect();
        metrics.units_held(0);
        Held {
            slots,
            metrics,
            releases,
        }
    }

    /// Every unit given, in order.
    pub(super) fn units(&self) -> impl Iterator<Item = &Unit> {
        self.slots.keys()
    }

    /// A watch of `unit`, `None` for a unit the keeper was not given.
    pub(super) fn watch(&self, unit: &Unit, holder: &str) -> Option<LeaseWatch> {
        let slot = self.slots.get(unit)?;
        Some(LeaseWatch::new(
            unit.clone(),
            holder.to_owned(),
            slot.sender.subscribe(),
            self.releases.clone(),
            slot.last_loss.clone(),
        ))
    }

    /// Adds a slot for `unit` (not held); `false` when it has one already.
    pub(super) fn add(&mut self, unit: &Unit) -> bool {
        if self.slots.contains_key(unit) {
            return false;
        }
        self.slots.insert(unit.clone(), Slot::new());
        true
    }

    /// Drops `unit`'s slot (its watches turn lost, then closed: its source ends); the
    /// generation it was held under, to give back.
    pub(super) fn remove(&mut self, unit: &Unit) -> Option<i64> {
        let generation = self
            .slots
            .get(unit)?
            .lease
            .map(|(generation, _)| generation);
        self.lose(unit, LossCause::Removed);
        self.slots.remove(unit);
        generation
    }

    /// The units held now with their generations.
    pub(super) fn holding(&self) -> Vec<(Unit, i64)> {
        self.slots
            .iter()
            .filter_map(|(unit, slot)| slot.lease.map(|(generation, _)| (unit.clone(), generation)))
            .collect()
    }

    /// How many units are held now.
    pub(super) fn count(&self) -> usize {
        self.slots
            .values()
            .filter(|slot| slot.lease.is_some())
            .count()
    }

    /// The unit is held under `generation` until `lost_at` (a renewal or a take); a
    /// renewal keeps it draining.
    pub(super) fn hold(&mut self, unit: &Unit, generation: i64, lost_at: Instant) {
        if let Some(slot) = self.slots.get_mut(unit) {
            if slot.lease.is_none_or(|(held, _)| held != generation) {
                slot.draining = None;
                slot.rescued = false;
            }
            slot.lease = Some((generation, lost_at));
            let state = match slot.draining {
                Some(_) => LeaseState::Draining { generation },
                None => LeaseState::Held { generation },
            };
            slot.sender.send_if_modified(|now| replace(now, state));
        }
        self.metrics.units_held(self.count());
    }

    /// Asks the source of a held unit to give it back (rebalancing) by `deadline`
    /// (kept if it was asked already).
    pub(super) fn drain(&mut self, unit: &Unit, deadline: Instant) {
        let Some(slot) = self.slots.get_mut(unit) else {
            return;
        };
        let Some((generation, _)) = slot.lease else {
            return;
        };
        slot.draining.get_or_insert(deadline);
        slot.sender
            .send_if_modified(|state| replace(state, LeaseState::Draining { generation }));
    }

    /// The draining leases whose source has not given them back by their deadline
    /// (whether or not they are still above the share: the source was told to stop).
    pub(super) fn overdue(&self, now: Instant) -> Vec<(Unit, i64)> {
        self.slots
            .iter()
            .filter(|(_, slot)| slot.draining.is_some_and(|deadline| deadline <= now))
            .filter_map(|(unit, slot)| Some((unit.clone(), slot.lease?.0)))
            .collect()
    }

    /// The held `unit` was taken while another replica avoided it: it is held beyond
    /// the share, never given back to even it out.
    pub(super) fn rescued(&mut self, unit: &Unit) {
        if let Some(slot) = self.slots.get_mut(unit) {
            slot.rescued = slot.lease.is_some();
        }
    }

    /// The held units that are held beyond the share (rescued).
    pub(super) fn beyond_share(&self) -> Vec<Unit> {
        self.slots
            .iter()
            .filter(|(_, slot)| slot.lease.is_some() && slot.rescued)
            .map(|(unit, _)| unit.clone())
            .collect()
    }

    /// Does not take `unit` here before `until`.
    pub(super) fn avoid(&mut self, unit: &Unit, until: Instant) {
        if let Some(slot) = self.slots.get_mut(unit) {
            slot.avoid_until = Some(until);
        }
    }

    /// The units this replica may take now (every unit but those it avoids).
    pub(super) fn takeable(&self, now: Instant) -> Vec<Unit> {
        self.slots
            .iter()
            .filter(|(_, slot)| slot.avoid_until.is_none_or(|until| until <= now))
            .map(|(unit, _)| unit.clone())
            .collect()
    }

    /// The unit is not held here any more, for `cause`.
    pub(super) fn lose(&mut self, unit: &Unit, cause: LossCause) {
        if let Some(slot) = self.slots.get_mut(unit) {
            if slot.lease.is_some() {
                *slot
                    .last_loss
                    .lock()
                    .unwrap_or_else(|poisoned| poisoned.into_inner()) = Some(cause);
            }
            slot.lease = None;
            slot.draining = None;
            slot.rescued = false;
            slot.sender
                .send_if_modified(|state| replace(state, LeaseState::Lost));
        }
        self.metrics.units_held(self.count());
    }

    /// When the next held lease counts as lost, if any is held.
    pub(super) fn next_deadline(&self) -> Option<Instant> {
        self.slots
            .values()
            .filter_map(|slot| slot.lease.map(|(_, lost_at)| lost_at))
            .min()
    }

    /// Marks lost every lease whose deadline has come; how many.
    pub(super) fn expire_due(&mut self, now: Instant) -> usize {
        let due: Vec<Unit> = self
            .slots
            .iter()
            .filter(|(_, slot)| slot.lease.is_some_and(|(_, lost_at)| lost_at <= now))
            .map(|(unit, _)| unit.clone())
            .collect();
        for unit in &due {
            tracing::warn!(%unit, "lease not renewed in time: this replica stops delivering it");
            self.lose(unit, LossCause::NotRenewed);
        }
        due.len()
    }
}

impl Drop for Held {
    /// A keeper that stops (shut down, or dropped without giving anything back) holds
    /// nothing any more as far as its sources know.
    fn drop(&mut self) {
        for slot in self.slots.values() {
            if slot.lease.is_some() {
                *slot
                    .last_loss
                    .lock()
                    .unwrap_or_else(|poisoned| poisoned.into_inner()) =
                    Some(LossCause::KeeperStopped);
            }
            slot.sender
                .send_if_modified(|state| replace(state, LeaseState::Lost));
        }
    }
}

/// Sets `state` to `new`, saying whether it changed (so watchers wake only on a change).
fn replace(state: &mut LeaseState, new: LeaseState) -> bool {
    let changed = *state != new;
    *state = new;
    changed
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn book(units: &[Unit]) -> Held {
        let metrics = crate::metrics::Metrics::new()
            .and_then(|metrics| metrics.leases())
            .expect("metrics register");
        Held::new(units, metrics, mpsc::unbounded_channel().0)
    }

    #[tokio::test(start_paused = true)]
    async fn a_lease_not_renewed_turns_lost_at_its_deadline_and_its_watch_says_so() {
        let unit = Unit::new("pstn", "contoso");
        let mut held = book(std::slice::from_ref(&unit));
        let mut watch = held.watch(&unit, "replica-a").expect("a given unit");
        let start = Instant::now();
        held.hold(&unit, 7, start + Duration::from_secs(20));
        let fence = watch.held().await.expect("held");
        assert_eq!(fence.generation, 7);
        assert_eq!(held.next_deadline(), Some(start + Duration::from_secs(20)));
        assert_eq!(held.expire_due(start + Duration::from_secs(19)), 0);
        assert_eq!(watch.state(), LeaseState::Held { generation: 7 });
        assert_eq!(watch.last_loss(), None);
        assert_eq!(held.expire_due(start + Duration::from_secs(20)), 1);
        watch.lost(&fence).await;
        assert_eq!(watch.last_loss(), Some(LossCause::NotRenewed));
        assert_eq!(watch.state(), LeaseState::Lost);
        assert_eq!(held.count(), 0);
        assert_eq!(held.next_deadline(), None);
    }

    #[tokio::test(start_paused = true)]
    async fn a_new_generation_ends_the_old_fence_and_a_dropped_book_ends_every_watch() {
        let unit = Unit::new("pstn", "contoso");
        let mut held = book(std::slice::from_ref(&unit));
        let mut watch = held.watch(&unit, "replica-a").expect("a given unit");
        let later = Instant::now() + Duration::from_secs(20);
        held.hold(&unit, 1, later);
        let first = watch.held().await.expect("held");
        held.hold(&unit, 2, later);
        watch.lost(&first).await;
        let second = watch.held().await.expect("held again");
        assert_eq!(second.generation, 2);
        drop(held);
        watch.lost(&second).await;
        assert_eq!(watch.held().await, None);
        assert!(book(&[]).watch(&unit, "replica-a").is_none());
    }

    #[tokio::test(start_paused = true)]
    async fn a_draining_lease_stays_draining_when_renewed_and_is_overdue_after_its_deadline() {
        let unit = Unit::new("pstn", "contoso");
        let mut held = book(std::slice::from_ref(&unit));
        let mut watch = held.watch(&unit, "replica-a").expect("a given unit");
        let start = Instant::now();
        let later = start + Duration::from_secs(20);
        held.hold(&unit, 3, later);
        let fence = watch.held().await.expect("held");
        held.drain(&unit, start + Duration::from_secs(5));
        watch.draining(&fence).await;
        held.hold(&unit, 3, later);
        assert_eq!(watch.state(), LeaseState::Draining { generation: 3 });
        assert!(held.overdue(start + Duration::from_secs(4)).is_empty());
        // Asked again: the first deadline holds.
        held.drain(&unit, start + Duration::from_secs(50));
        assert_eq!(
            held.overdue(start + Duration::from_secs(5)),
            [(unit.clone(), 3)]
        );
        // Taken anew (another generation): held, no longer draining.
        held.lose(&unit, LossCause::MovedOn);
        assert_eq!(watch.last_loss(), Some(LossCause::MovedOn));
        held.hold(&unit, 4, later);
        assert_eq!(watch.state(), LeaseState::Held { generation: 4 });
        assert!(held.overdue(start + Duration::from_secs(60)).is_empty());
    }
}
