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
// foldhash, not SipHash: these sets are asked about every row (Cargo.toml).
use foldhash::{HashSet, HashSetExt};

/// Keys remembered at most, in two generations of half as many: about 25 bytes each
/// (0.8 MB when full, nothing for a source without call ids); at 100,000 calls a day
/// that is the last two to four hours of deliveries, which the first sweeps of the
/// late-row plan re-read. The first generation grows with the keys it holds; only a
/// source that filled one gets the next sized whole at once.
pub(super) const RECENT_KEYS: usize = 16_384;

/// A committed key: the 16 bytes of a call id (as `DedupeKey` stores a GUID) and the
/// call's start in ticks.
type Compact = ([u8; 16], i64);

/// Keys of a commit in flight, to remember once it succeeded.
#[derive(Debug)]
pub(super) struct Pending(Vec<Compact>);

/// The most recently committed keys: when the current generation is full the previous
/// one is forgotten, so the oldest keys go first, half the capacity at a time (no
/// queue of keys beside the tables). The first table grows as keys come: sized whole
/// at the first commit, it held 0.4 MB for every tenant, 376 MB of the 490 MB of
/// 1,000 quiet tenants (heaptrack, `cargo bench --bench tenants`).
#[derive(Debug)]
pub(super) struct RecentKeys {
    generation: usize,
    current: HashSet<Compact>,
    previous: HashSet<Compact>,
}

impl Default for RecentKeys {
    fn default() -> Self {
        RecentKeys::with_capacity(RECENT_KEYS)
    }
}

impl RecentKeys {
    /// An empty cache of at most `capacity` keys (at least two).
    pub(super) fn with_capacity(capacity: usize) -> RecentKeys {
        RecentKeys {
            generation: (capacity / 2).max(1),
            current: HashSet::new(),
            previous: HashSet::new(),
        }
    }

    fn compact(key: &[u8], start: Timestamp) -> Option<Compact> {
        Some((key.try_into().ok()?, start.ticks()))
    }

    /// Whether this key was committed recently (`false` says nothing: ask state).
    pub(super) fn committed(&self, key: &[u8], start: Timestamp) -> bool {
        RecentKeys::compact(key, start)
            .is_some_and(|key| self.current.contains(&key) || self.previous.contains(&key))
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

    /// Remembers the keys of a commit that succeeded; past the capacity the older
    /// generation goes.
    pub(super) fn remember(&mut self, committed: Pending) {
        for key in committed.0 {
            if self.previous.contains(&key) {
                continue;
            }
            if self.current.len() == self.generation && !self.current.contains(&key) {
                let fresh = HashSet::with_capacity(self.generation);
                self.previous = std::mem::replace(&mut self.current, fresh);
            }
            self.current.insert(key);
        }
    }

    /// How many keys it holds.
    #[cfg(test)]
    pub(super) fn len(&self) -> usize {
        self.current.len() + self.previous.len()
    }

    /// How many keys its tables have room for.
    #[cfg(test)]
    fn room(&self) -> usize {
        self.current.capacity() + self.previous.capacity()
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
    fn a_source_that_committed_few_keys_holds_room_for_few() {
        let mut recent = RecentKeys::default();
        let keys: Vec<(Vec<u8>, Timestamp)> = (1..=3).map(|n| (call(n), at(n.into()))).collect();
        recent.remember(RecentKeys::pending(&keys));
        assert_eq!(recent.len(), 3);
        assert!(recent.room() < 64, "room for {} keys", recent.room());
    }

    #[test]
    fn only_remembered_keys_are_committed_and_the_oldest_go_first() {
        let mut recent = RecentKeys::with_capacity(4);
        assert!(!recent.committed(&call(1), at(1)));
        let keys: Vec<(Vec<u8>, Timestamp)> = (1..=6).map(|n| (call(n), at(n.into()))).collect();
        recent.remember(RecentKeys::pending(&keys[..3]));
        assert!(recent.committed(&call(1), at(1)));
        assert!(
            !recent.committed(&call(1), at(2)),
            "same id, another start: not this key"
        );
        recent.remember(RecentKeys::pending(&keys[..4]));
        assert_eq!(recent.len(), 4, "a repeat is not kept twice");
        recent.remember(RecentKeys::pending(&keys[4..]));
        assert_eq!(recent.len(), 4);
        assert!(!recent.committed(&call(1), at(1)), "the oldest went first");
        assert!(!recent.committed(&call(2), at(2)));
        for n in 3..=6 {
            assert!(recent.committed(&call(n), at(n.into())), "{n}");
        }
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
