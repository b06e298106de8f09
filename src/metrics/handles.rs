//! A batch's metric handles, looked up in the registry once per distinct label set
//! (by the labels' addresses: `label_sets`): the registry's look-ups hash every value,
//! and a page has only a handful of call types and currencies.

use crate::facts::label_sets::{Identity, LabelSets};

/// The handles of one metric looked up so far in a batch, by label values.
pub(super) struct Handles<'a, T: prometheus::core::MetricVecBuilder> {
    vec: &'a prometheus::core::MetricVec<T>,
    seen: LabelSets<'a, T::M>,
}

impl<'a, T: prometheus::core::MetricVecBuilder> Handles<'a, T> {
    pub(super) fn new(vec: &'a prometheus::core::MetricVec<T>) -> Self {
        Handles {
            vec,
            seen: LabelSets::new(Identity::Address),
        }
    }

    pub(super) fn get(&mut self, labels: &[&'a str]) -> &T::M {
        let vec = self.vec;
        self.seen
            .get_or_insert_with(labels, || vec.with_label_values(labels))
    }
}
