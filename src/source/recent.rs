//! The keys this source committed most recently, in memory, in front of state
//! (issue 28): a sweep re-reading rows delivered minutes or hours ago finds them here
//! and asks the database only about the rest.
//!
//! Only keys whose commit succeeded go in, so a key found here was delivered; the
//! cache starts empty on every start and state stays the truth (a key not here is
//! looked up as before). Keys are kept compact: keys of 16 bytes (a call id's GUID, as
//! `DedupeKey` stores it) and the call's start; other keys (text ids, content hashes)
//! are simply not cached. Equal here means equal bytes, as in state.

use crate::time::Timestamp;
use std::collections::{HashSet, VecDeque};

/// Keys remembered at most: about 40 bytes each, so about 1.3 MB when full; at
/// 100,000 calls a day that is the last eight hours of deliveries, which the first
/// sweeps of the late-row plan re-read.
pub(super) const RECENT_KEYS: usize = 32_768;

/// A committed key: the 16 bytes of a call id (as `DedupeKey` stores a GUID) and the
/// call's start in ticks.
type Compact = (u128, i64);

/// Keys of a commit in flight, to remember once it succeeded.
#[derive(Debug)]
pub(super) struct Pending(Vec<Compact>);

/// The most recently committed keys, oldest dropped first.
#[derive(Debug)]
pub(super) struct RecentKeys {
    capacity: usize,
    keys: HashSet<Compact>,
    order: VecDeque<Compact>,
}

impl Default for RecentKeys {
    fn default() -> Self {
        RecentKeys::with_capacity(RECENT_KEYS)
    }
}

impl RecentKeys {
    /// An empty cache of at most `capacity` keys.
    pub(super) fn with_capacity(capacity: usize) -> RecentKeys {
        RecentKeys {
            capacity,
            keys: HashSet::new(),
            order: VecDeque::new(),
        }
    }

    fn compact(key: &[u8], start: Timestamp) -> Option<Compact> {
        let id: [u8; 16] = key.try_into().ok()?;
        Some((u128::from_be_bytes(id), start.ticks()))
    }

    /// Whether this key was committed recently (`false` says nothing: ask state).
    pub(super) fn committed(&self, key: &[u8], start: Timestamp) -> bool {
        RecentKeys::compact(key, start).is_some_and(|key| self.keys.contains(&key))
    }

    /// The keys of a commit about to be made, in the cache's form (no allocation per
    /// key); [`RecentKeys::remember`] them once the commit succeeded.
    pub(super) fn pending(keys: &[(Vec<u8>, Timestamp)]) -> Pending {
        Pending(
            keys.iter()
                .filter_map(|(key, start)| RecentKeys::compact(key, *start))
                .collect(),
        )
    }

    /// Remembers the keys of a commit that succeeded, dropping the oldest past the
    /// capacity.
    pub(super) fn remember(&mut self, committed: Pending) {
        for key in committed.0 {
            if self.keys.insert(key) {
                self.order.push_back(key);
            }
            while self.order.len() > self.capacity {
                if let Some(oldest) = self.order.pop_front() {
                    self.keys.remove(&oldest);
                }
            }
        }
    }

    /// How many keys it holds.
    #[cfg(test)]
    pub(super) fn len(&self) -> usize {
        self.keys.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::DedupeKey;

    fn at(seconds: i64) -> Timestamp {
        Timestamp::from_unix_seconds(1_714_521_600 + seconds)
    }

    fn call(n: u32) -> Vec<u8> {
        DedupeKey::of(&format!("9c4984c7-6c3c-427d-a30c-{n:012x}")).into_bytes()
    }

    #[test]
    fn only_remembered_keys_are_committed_and_the_oldest_go_first() {
        let mut recent = RecentKeys::with_capacity(3);
        assert!(!recent.committed(&call(1), at(1)));
        let keys: Vec<(Vec<u8>, Timestamp)> = (1..=4).map(|n| (call(n), at(n.into()))).collect();
        recent.remember(RecentKeys::pending(&keys[..3]));
        assert!(recent.committed(&call(1), at(1)));
        assert!(
            !recent.committed(&call(1), at(2)),
            "same id, another start: not this key"
        );
        recent.remember(RecentKeys::pending(&keys[3..]));
        assert_eq!(recent.len(), 3);
        assert!(!recent.committed(&call(1), at(1)), "the oldest was dropped");
        assert!(recent.committed(&call(4), at(4)));
        recent.remember(RecentKeys::pending(&keys[3..]));
        assert!(
            recent.committed(&call(2), at(2)),
            "a repeat does not push others out"
        );
    }

    #[test]
    fn keys_that_are_not_call_ids_are_never_cached() {
        let mut recent = RecentKeys::default();
        let text = DedupeKey::of("not-a-guid").into_bytes();
        let content = DedupeKey::of_content(r#"{"a":1}"#).into_bytes();
        recent.remember(RecentKeys::pending(&[
            (text.clone(), at(0)),
            (content.clone(), at(0)),
        ]));
        assert_eq!(recent.len(), 0);
        assert!(!recent.committed(&text, at(0)));
        assert!(!recent.committed(&content, at(0)));
    }
}
