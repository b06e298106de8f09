//! The label sets one batch has used so far, with what each maps to: a batch of a
//! page looks each row's labels up here instead of hashing them into the registry.
//! A handful of sets (call types, currencies) are compared one by one; past
//! [`LINEAR_UP_TO`] (departments, cost centres, countries) a hash index takes over, so
//! a row never scans a long list. The index hashes with FxHash: a page's label sets are
//! at most its rows, so a crafted collision costs at most a page's worth of compares.

use rustc_hash::FxHashMap;

/// Up to this many sets, a scan (comparing the last label first: the first is
/// usually the source, the same for every set) beats hashing the labels.
const LINEAR_UP_TO: usize = 8;

/// Whether two labels are equal, by address first: equal labels are most often the
/// very same text (the source's name, a value of a closed list), and a compare of
/// their bytes is a call to memcmp (issue 28).
fn same(a: &str, b: &str) -> bool {
    std::ptr::eq(a, b) || a == b
}

/// Label sets, in the order first seen, each with its value.
#[derive(Debug)]
pub(crate) struct LabelSets<'a, V> {
    entries: Vec<(Vec<&'a str>, V)>,
    index: FxHashMap<Vec<&'a str>, usize>,
}

impl<V> Default for LabelSets<'_, V> {
    fn default() -> Self {
        LabelSets {
            entries: Vec::new(),
            index: FxHashMap::default(),
        }
    }
}

impl<'a, V> LabelSets<'a, V> {
    /// The value of `labels`, made by `make` the first time.
    pub(crate) fn get_or_insert_with(
        &mut self,
        labels: &[&'a str],
        make: impl FnOnce() -> V,
    ) -> &mut V {
        let found = if self.entries.len() <= LINEAR_UP_TO {
            self.entries.iter().position(|(seen, _)| {
                seen.len() == labels.len()
                    && seen
                        .iter()
                        .rev()
                        .zip(labels.iter().rev())
                        .all(|(a, b)| same(a, b))
            })
        } else {
            self.index.get(labels).copied()
        };
        let position = match found {
            Some(position) => position,
            None => {
                self.entries.push((labels.to_vec(), make()));
                self.index.insert(labels.to_vec(), self.entries.len() - 1);
                self.entries.len() - 1
            }
        };
        &mut self.entries[position].1
    }

    /// Every set and its value, in the order first seen.
    pub(crate) fn drain(&mut self) -> impl Iterator<Item = (Vec<&'a str>, V)> + '_ {
        self.index.clear();
        self.entries.drain(..)
    }

    /// Whether no set was used.
    pub(crate) fn is_empty(&self) -> bool {
        self.entries.is_empty()
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
}
