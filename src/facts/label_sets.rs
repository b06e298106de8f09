//! The label sets one batch has used so far, with what each maps to: a batch of a
//! page looks each row's labels up here instead of hashing them into the registry.
//! A handful of sets (call types, currencies) are compared one by one; past
//! [`LINEAR_UP_TO`] (departments, cost centres, countries) a hash index takes over, so
//! a row never scans a long list. The index hashes with FxHash: a page's label sets are
//! at most its rows, so a crafted collision costs at most a page's worth of compares.

use rustc_hash::{FxHashMap, FxHasher};
use std::hash::{Hash, Hasher};

/// Below this many sets, a scan (comparing the last label first: the first is
/// usually the source, the same for every set) beats hashing the labels.
const LINEAR_UP_TO: usize = 8;

/// What makes two labels the same label.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Identity {
    /// Equal texts: the sets become entries of their own (a month's sums by value).
    Text,
    /// The very same text in memory (address and length). For a batch's metric
    /// handles and sums, whose labels are mostly texts of closed lists and the source's
    /// own names: hashing two words a label is much cheaper than hashing its bytes
    /// (issue 28). One text at two addresses (a department of two users) gets two
    /// entries, which name the same series: a second look-up, never a wrong count.
    Address,
}

/// Label sets, in the order first seen, each with its value. `H` hashes them for the
/// index (tests give one that makes every set collide).
pub(crate) struct LabelSets<'a, V, H = FxHasher> {
    identity: Identity,
    entries: Vec<Entry<'a, V>>,
    /// The first entry of each hash of labels; the others of that hash follow it
    /// through [`Entry::next`].
    index: FxHashMap<u64, usize>,
    hasher: std::marker::PhantomData<H>,
}

#[derive(Debug)]
struct Entry<'a, V> {
    labels: Vec<&'a str>,
    value: V,
    /// The entry seen before this one with the same hash.
    next: Option<usize>,
}

impl<V: std::fmt::Debug, H> std::fmt::Debug for LabelSets<'_, V, H> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LabelSets")
            .field("identity", &self.identity)
            .field("entries", &self.entries)
            .finish_non_exhaustive()
    }
}

impl<V> Default for LabelSets<'_, V> {
    fn default() -> Self {
        LabelSets::new(Identity::Text)
    }
}

impl<'a, V, H: Hasher + Default> LabelSets<'a, V, H> {
    /// No sets yet; labels compared by `identity`.
    pub(crate) fn new(identity: Identity) -> Self {
        LabelSets {
            identity,
            entries: Vec::new(),
            index: FxHashMap::default(),
            hasher: std::marker::PhantomData,
        }
    }

    /// The value of `labels`, made by `make` the first time.
    pub(crate) fn get_or_insert_with(
        &mut self,
        labels: &[&'a str],
        make: impl FnOnce() -> V,
    ) -> &mut V {
        let hash = (self.entries.len() >= LINEAR_UP_TO).then(|| self.hash(labels));
        let found = match hash {
            None => self
                .entries
                .iter()
                .position(|entry| self.same(&entry.labels, labels)),
            Some(hash) => {
                let mut at = self.index.get(&hash).copied();
                while let Some(position) =
                    at.filter(|p| !self.same(&self.entries[*p].labels, labels))
                {
                    at = self.entries[position].next;
                }
                at
            }
        };
        let position = match found {
            Some(position) => position,
            None => {
                let hash = hash.unwrap_or_else(|| self.hash(labels));
                let next = self.index.insert(hash, self.entries.len());
                self.entries.push(Entry {
                    labels: labels.to_vec(),
                    value: make(),
                    next,
                });
                self.entries.len() - 1
            }
        };
        &mut self.entries[position].value
    }

    /// Every set and its value, in the order first seen.
    pub(crate) fn drain(&mut self) -> impl Iterator<Item = (Vec<&'a str>, V)> + '_ {
        self.index.clear();
        self.entries
            .drain(..)
            .map(|entry| (entry.labels, entry.value))
    }

    /// Whether no set was used.
    pub(crate) fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The hash of `labels` under this set's identity.
    fn hash(&self, labels: &[&str]) -> u64 {
        let mut hasher = H::default();
        match self.identity {
            Identity::Text => labels.hash(&mut hasher),
            Identity::Address => {
                for label in labels {
                    hasher.write_usize(label.as_ptr() as usize);
                    hasher.write_usize(label.len());
                }
            }
        }
        hasher.finish()
    }

    /// Whether two label sets are the same set, comparing the last label first (the
    /// first is usually the source, the same for every set) and addresses first: equal
    /// labels are most often the very same text, and a compare of their bytes is a call
    /// to memcmp (issue 28).
    fn same(&self, seen: &[&str], labels: &[&str]) -> bool {
        seen.len() == labels.len()
            && seen
                .iter()
                .rev()
                .zip(labels.iter().rev())
                .all(|(a, b)| std::ptr::eq(*a, *b) || (self.identity == Identity::Text && a == b))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_label_set_keeps_its_value_past_the_scan_and_into_the_index() {
        let names: Vec<String> = (0..40).map(|index| format!("department-{index}")).collect();
        let mut sets: LabelSets<'_, u32> = LabelSets::default();
        for round in 0..3 {
            for name in &names {
                *sets.get_or_insert_with(&["s", name, "EUR"], || 0) += 1;
                *sets.get_or_insert_with(&["s", name, "USD"], || 100) += round;
            }
        }
        let all: Vec<(Vec<&str>, u32)> = sets.drain().collect();
        assert_eq!(all.len(), 80);
        assert_eq!(all[0], (vec!["s", "department-0", "EUR"], 3));
        assert_eq!(all[1], (vec!["s", "department-0", "USD"], 103));
        assert_eq!(all[79], (vec!["s", "department-39", "USD"], 103));
        assert!(sets.is_empty());
    }

    #[test]
    fn by_address_a_set_is_its_very_texts_before_and_past_the_scan() {
        let names: Vec<String> = (0..20).map(|index| format!("country-{index}")).collect();
        let copies = names.clone();
        let mut sets: LabelSets<'_, u32> = LabelSets::new(Identity::Address);
        for round in 0..3 {
            for (name, copy) in names.iter().zip(&copies) {
                *sets.get_or_insert_with(&["s", name], || 0) += 1;
                *sets.get_or_insert_with(&["s", copy], || 10) += round;
            }
        }
        let all: Vec<(Vec<&str>, u32)> = sets.drain().collect();
        assert_eq!(all.len(), 40, "a text at another address is another entry");
        assert_eq!(all[0], (vec!["s", "country-0"], 3));
        assert_eq!(all[1], (vec!["s", "country-0"], 13));
        assert!(std::ptr::eq(all[0].0[1], names[0].as_str()));
        assert!(std::ptr::eq(all[39].0[1], copies[19].as_str()));
        let mut by_text: LabelSets<'_, u32> = LabelSets::new(Identity::Text);
        for (name, copy) in names.iter().zip(&copies) {
            *by_text.get_or_insert_with(&["s", name], || 0) += 1;
            *by_text.get_or_insert_with(&["s", copy], || 0) += 1;
        }
        assert!(
            by_text.drain().all(|(_, count)| count == 2),
            "by text: one entry"
        );
    }

    /// A hasher under which every label set collides.
    #[derive(Default)]
    struct Collide;

    impl Hasher for Collide {
        fn finish(&self) -> u64 {
            7
        }
        fn write(&mut self, _: &[u8]) {}
    }

    #[test]
    fn sets_that_share_a_hash_are_each_found_through_the_chain() {
        let names: Vec<String> = (0..30).map(|index| format!("cc-{index}")).collect();
        for identity in [Identity::Text, Identity::Address] {
            let mut sets: LabelSets<'_, usize, Collide> = LabelSets::new(identity);
            for round in 1..=2 {
                for (index, name) in names.iter().enumerate() {
                    *sets.get_or_insert_with(&["s", name], || index * 100) += round;
                }
            }
            let all: Vec<(Vec<&str>, usize)> = sets.drain().collect();
            let expected: Vec<(Vec<&str>, usize)> = names
                .iter()
                .enumerate()
                .map(|(index, name)| (vec!["s", name.as_str()], index * 100 + 3))
                .collect();
            assert_eq!(all, expected, "{identity:?}");
        }
    }
}
