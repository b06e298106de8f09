//! Counters of money, summed exactly: each label set keeps an integer count of
//! millionths, and a scrape shows it divided by a million. Float counters drift
//! (`0.1 + 0.35 + 2.6` is `3.0500000000000003` in f64), so a month's total per
//! department would not equal the sum of its rows; these do.

use crate::facts::label_sets::{Identity, LabelSets};
use crate::model::MICROS_PER_UNIT;
use prometheus::core::{Collector, Desc};
use prometheus::proto::{Counter, LabelPair, Metric, MetricFamily, MetricType};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

/// Each series' label values, in label-name order, as one key ([`write_key`]), and
/// its sum in millionths. (foldhash: every batch looks each of its label sets up here;
/// one key of bytes, so finding a series already there allocates nothing: issue 28.)
type Series = foldhash::HashMap<Box<[u8]>, i128>;

/// Writes `values` into `key` (cleared first) as a [`Series`] key: each value's length
/// (four bytes), then its bytes, so no value can run into the next.
fn write_key<'v>(values: impl IntoIterator<Item = &'v str>, key: &mut Vec<u8>) {
    key.clear();
    for value in values {
        let length = u32::try_from(value.len()).unwrap_or(u32::MAX);
        key.extend_from_slice(&length.to_le_bytes());
        key.extend_from_slice(value.as_bytes());
    }
}

/// The label values a [`Series`] key was written from.
fn values_of(key: &[u8]) -> Vec<&str> {
    let mut values = Vec::new();
    let mut rest = key;
    while let Some((length, tail)) = rest.split_first_chunk::<4>() {
        let length = usize::try_from(u32::from_le_bytes(*length)).unwrap_or(usize::MAX);
        let (value, tail) = tail.split_at_checked(length).unwrap_or((tail, &[]));
        values.push(std::str::from_utf8(value).unwrap_or_default());
        rest = tail;
    }
    values
}

/// Adds `micros` to the series `key` names, which starts at zero.
fn add_to(series: &mut Series, key: &[u8], micros: i128) {
    match series.get_mut(key) {
        Some(sum) => *sum += micros,
        None => {
            series.insert(Box::from(key), micros);
        }
    }
}

/// A counter vector whose values are exact decimal sums (in millionths).
#[derive(Debug, Clone)]
pub(crate) struct ExactCounterVec {
    desc: Arc<Desc>,
    labels: Arc<[String]>,
    values: Arc<Mutex<Series>>,
}

impl ExactCounterVec {
    /// A counter named `name` with these label names.
    pub(crate) fn new(name: &str, help: &str, labels: &[&str]) -> Result<Self, prometheus::Error> {
        let labels: Vec<String> = labels.iter().map(|label| (*label).to_owned()).collect();
        let desc = Desc::new(
            name.to_owned(),
            help.to_owned(),
            labels.clone(),
            HashMap::new(),
        )?;
        Ok(ExactCounterVec {
            desc: Arc::new(desc),
            labels: labels.into(),
            values: Arc::default(),
        })
    }

    /// Adds `micros` millionths to the series of `values` (one per label name);
    /// negative amounts add nothing (a counter never goes down).
    #[cfg(test)]
    pub(crate) fn add(&self, values: &[&str], micros: i128) {
        let mut series = self.values.lock().unwrap_or_else(PoisonError::into_inner);
        let mut key = Vec::new();
        write_key(values.iter().copied(), &mut key);
        add_to(&mut series, &key, micros.max(0));
    }

    /// Creates the series of `values` at zero, so it is there before the first amount.
    #[cfg(test)]
    pub(crate) fn touch(&self, values: &[&str]) {
        self.add(values, 0);
    }

    /// An accumulator for one batch: sums per label set, added under one lock.
    pub(crate) fn batch<'a>(&'a self) -> ExactSums<'a> {
        ExactSums {
            vec: self,
            sums: LabelSets::new(Identity::Address),
        }
    }
}

/// The sums of one batch for one [`ExactCounterVec`], added when dropped.
#[derive(Debug)]
pub(crate) struct ExactSums<'a> {
    vec: &'a ExactCounterVec,
    sums: LabelSets<'a, i128>,
}

impl<'a> ExactSums<'a> {
    /// Adds `micros` to the batch's sum for `values`.
    pub(crate) fn add(&mut self, values: &[&'a str], micros: i128) {
        *self.sums.get_or_insert_with(values, || 0) += micros.max(0);
    }
}

impl Drop for ExactSums<'_> {
    fn drop(&mut self) {
        if self.sums.is_empty() {
            return;
        }
        let mut series = self
            .vec
            .values
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let mut key = Vec::with_capacity(64);
        for (values, micros) in self.sums.drain() {
            write_key(values, &mut key);
            add_to(&mut series, &key, micros);
        }
    }
}

impl Collector for ExactCounterVec {
    fn desc(&self) -> Vec<&Desc> {
        vec![&self.desc]
    }

    fn collect(&self) -> Vec<MetricFamily> {
        let series = self.values.lock().unwrap_or_else(PoisonError::into_inner);
        let mut metrics: Vec<Metric> = series
            .iter()
            .map(|(values, micros)| {
                let mut pairs: Vec<LabelPair> = self
                    .labels
                    .iter()
                    .zip(values_of(values))
                    .map(|(name, value)| {
                        let mut pair = LabelPair::default();
                        pair.set_name(name.clone());
                        pair.set_value(value.to_string());
                        pair
                    })
                    .collect();
                pairs.sort_by(|a, b| a.name().cmp(b.name()));
                let mut counter = Counter::default();
                // An integer divided by 10^6 is the float nearest the exact decimal, which
                // prints as that decimal (3050000 / 1e6 prints as 3.05).
                counter.set_value(*micros as f64 / MICROS_PER_UNIT as f64);
                let mut metric = Metric::from_label(pairs);
                metric.set_counter(counter);
                metric
            })
            .collect();
        metrics.sort_by(|a, b| {
            let key = |m: &Metric| {
                m.get_label()
                    .iter()
                    .map(|p| p.value().to_owned())
                    .collect::<Vec<_>>()
            };
            key(a).cmp(&key(b))
        });
        let mut family = MetricFamily::default();
        family.set_name(self.desc.fq_name.clone());
        family.set_help(self.desc.help.clone());
        family.set_field_type(MetricType::COUNTER);
        family.set_metric(metrics);
        vec![family]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Amount;

    #[test]
    fn many_small_charges_sum_to_the_exact_decimal() {
        let registry = crate::metrics::Exposition::default();
        let counter =
            ExactCounterVec::new("pstn_test_charge_total", "help", &["source", "currency"])
                .unwrap();
        registry.register(&counter).unwrap();
        let mut float = 0.0_f64;
        for _ in 0..1000 {
            for text in ["0.10", "0.35", "2.6"] {
                counter.add(&["s", "EUR"], Amount::Number(text).micros().unwrap());
                float += text.parse::<f64>().unwrap();
            }
        }
        counter.add(&["s", "EUR"], -5_000_000);
        // Values that would run together if merely joined stay apart.
        counter.add(&["s\u{0}E", "UR"], 1);
        counter.add(&["s", "\u{0}EUR"], 2);
        counter.touch(&["s", "USD"]);
        assert_ne!(float, 3050.0, "a float sum drifts: {float}");
        let text = crate::metrics::text_of(&registry);
        assert!(
            text.contains("# TYPE pstn_test_charge_total counter"),
            "{text}"
        );
        assert!(
            text.contains(r#"pstn_test_charge_total{currency="EUR",source="s"} 3050"#),
            "{text}"
        );
        assert!(
            text.contains(r#"pstn_test_charge_total{currency="USD",source="s"} 0"#),
            "{text}"
        );
        assert_eq!(text.matches("pstn_test_charge_total{").count(), 4, "{text}");
    }

    #[test]
    fn a_series_key_gives_back_its_values() {
        let mut key = Vec::new();
        for values in [
            &["s", "", "Sales", "EUR"][..],
            &[""],
            &["é\u{0}x", "1234"],
            &[],
        ] {
            write_key(values.iter().copied(), &mut key);
            assert_eq!(values_of(&key), values);
        }
    }

    #[test]
    fn three_charges_print_as_their_decimal_sum() {
        let counter = ExactCounterVec::new("pstn_t_total", "help", &["source"]).unwrap();
        for text in ["0.10", "0.35", "2.6"] {
            counter.add(&["s"], Amount::Number(text).micros().unwrap());
        }
        let family = &counter.collect()[0];
        let value = family.get_metric()[0].get_counter().get_value();
        assert_eq!(value.to_string(), "3.05");
    }
}
