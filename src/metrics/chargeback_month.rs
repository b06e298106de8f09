//! This month's chargeback as gauges, set from state after every poll: charges and
//! seconds of calls that *started* this calendar month (UTC), so a month's total per
//! department is exactly the sum of its rows, and is right after a restart (the
//! `_total` counters count at delivery and start at zero with the process).
//!
//! Labels are bounded as the counters' are: per source and label, the
//! `max_label_values` values with the largest charges (then seconds) keep their name,
//! the rest are summed into `other`.

use super::SourceId;
use super::registrar::{MetricsError, Registrar};
use crate::facts::chargeback::OTHER;
use crate::facts::{Dimension, MonthSum};
use prometheus::GaugeVec;
use std::collections::{BTreeMap, HashMap};
use std::sync::{Mutex, PoisonError};

/// The three gauges, and which label sets each source set last (to remove those a
/// new month, or a value pushed into `other`, leaves behind).
#[derive(Debug)]
pub(super) struct ChargebackMonth {
    charge_by_department: GaugeVec,
    charge_by_cost_center: GaugeVec,
    seconds_by_department: GaugeVec,
    set_last: Mutex<HashMap<String, Vec<SetLabels>>>,
}

/// One series set: which gauge, and its value and currency labels (currency empty
/// for seconds).
type SetLabels = (Series, [String; 2]);

/// Which gauge a label set belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Series {
    ChargeByDepartment,
    ChargeByCostCenter,
    SecondsByDepartment,
}

impl ChargebackMonth {
    pub(super) fn new(registry: &Registrar<'_>) -> Result<Self, MetricsError> {
        Ok(ChargebackMonth {
            charge_by_department: registry.gauge("pstn_call_charge_by_department_month", "Sum of the charge of calls that started this calendar month (UTC), by the user's department (directory), in their currency; from state, exact, right after a restart.", &["source", "tenant", "department", "currency"])?,
            charge_by_cost_center: registry.gauge("pstn_call_charge_by_cost_center_month", "Sum of the charge of calls that started this calendar month (UTC), by the user's cost centre (directory), in their currency; from state, exact, right after a restart.", &["source", "tenant", "cost_center", "currency"])?,
            seconds_by_department: registry.gauge("pstn_call_by_department_month_seconds", "Seconds of calls that started this calendar month (UTC), by the user's department (directory); from state, right after a restart.", &["source", "tenant", "department"])?,
            set_last: Mutex::default(),
        })
    }

    fn gauge(&self, series: Series) -> &GaugeVec {
        match series {
            Series::ChargeByDepartment => &self.charge_by_department,
            Series::ChargeByCostCenter => &self.charge_by_cost_center,
            Series::SecondsByDepartment => &self.seconds_by_department,
        }
    }

    /// Sets `source`'s gauges to this month's `sums` (as state keeps them).
    pub(super) fn set(&self, source: SourceId<'_>, sums: &[MonthSum], max_label_values: usize) {
        let mut values: Vec<(Series, [String; 2], f64)> = Vec::new();
        for dimension in Dimension::ALL {
            let charge_series = match dimension {
                Dimension::Department => Series::ChargeByDepartment,
                Dimension::CostCenter => Series::ChargeByCostCenter,
            };
            let rows: Vec<&MonthSum> = sums.iter().filter(|s| s.dimension == dimension).collect();
            let kept = largest(&rows, max_label_values);
            let label = |value: &str| {
                if kept.contains_key(value) {
                    value.to_owned()
                } else {
                    OTHER.to_owned()
                }
            };
            let mut charges: BTreeMap<[String; 2], i64> = BTreeMap::new();
            let mut seconds: BTreeMap<String, f64> = BTreeMap::new();
            for row in rows {
                *charges
                    .entry([label(&row.value), row.currency.clone()])
                    .or_default() += row.micros;
                *seconds.entry(label(&row.value)).or_default() += row.seconds;
            }
            for (labels, micros) in charges {
                values.push((charge_series, labels, micros as f64 / 1_000_000.0));
            }
            if charge_series == Series::ChargeByDepartment {
                for (department, total) in seconds {
                    values.push((
                        Series::SecondsByDepartment,
                        [department, String::new()],
                        total,
                    ));
                }
            }
        }
        let mut set_last = self.set_last.lock().unwrap_or_else(PoisonError::into_inner);
        let before = set_last.remove(&source.key()).unwrap_or_default();
        for (series, labels) in &before {
            if !values.iter().any(|(s, l, _)| s == series && l == labels) {
                // Gone from this month (a new month, or now summed into `other`).
                let _ = self
                    .gauge(*series)
                    .remove_label_values(&label_values(source, *series, labels));
            }
        }
        for (series, labels, value) in &values {
            self.gauge(*series)
                .with_label_values(&label_values(source, *series, labels))
                .set(*value);
        }
        set_last.insert(
            source.key(),
            values.into_iter().map(|(s, l, _)| (s, l)).collect(),
        );
    }
}

/// The label values of one series: (source, value) or (source, value, currency).
fn label_values<'a>(source: SourceId<'a>, series: Series, labels: &'a [String; 2]) -> Vec<&'a str> {
    match series {
        Series::SecondsByDepartment => vec![source.name, source.tenant, &labels[0]],
        _ => vec![source.name, source.tenant, &labels[0], &labels[1]],
    }
}

/// The `max` values with the largest charges (summed over currencies), then seconds.
fn largest<'a>(rows: &[&'a MonthSum], max: usize) -> HashMap<&'a str, ()> {
    let mut totals: HashMap<&str, (i64, f64)> = HashMap::new();
    for row in rows {
        let total = totals.entry(row.value.as_str()).or_default();
        total.0 += row.micros;
        total.1 += row.seconds;
    }
    let mut ranked: Vec<(&str, (i64, f64))> = totals.into_iter().collect();
    ranked.sort_by(|a, b| {
        b.1.0
            .cmp(&a.1.0)
            .then(b.1.1.total_cmp(&a.1.1))
            .then(a.0.cmp(b.0))
    });
    ranked
        .into_iter()
        .take(max)
        .map(|(value, _)| (value, ()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::facts::Month;

    fn sum(dimension: &str, value: &str, currency: &str, micros: i64, seconds: f64) -> MonthSum {
        MonthSum {
            month: Month::parse("2024-05").unwrap(),
            dimension: Dimension::parse(dimension).unwrap(),
            value: value.into(),
            currency: currency.into(),
            micros,
            seconds,
        }
    }

    #[test]
    fn this_months_sums_become_gauges_with_the_smallest_values_summed_into_other() {
        let registry = crate::metrics::Exposition::default();
        let month = ChargebackMonth::new(&Registrar(&registry)).unwrap();
        let sums = [
            sum("department", "Sales", "EUR", 450_000, 90.0),
            sum("department", "Legal", "EUR", 2_600_000, 10.0),
            sum("department", "IT", "EUR", 100_000, 5.0),
            sum("department", "IT", "USD", 50_000, 5.0),
            sum("cost_center", "CC-1", "EUR", 3_050_000, 0.0),
        ];
        month.set(SourceId::test("s"), &sums, 2);
        let text = crate::metrics::text_of(&registry);
        for line in [
            r#"pstn_call_charge_by_department_month{currency="EUR",department="Legal",source="s",tenant="t"} 2.6"#,
            r#"pstn_call_charge_by_department_month{currency="EUR",department="Sales",source="s",tenant="t"} 0.45"#,
            r#"pstn_call_charge_by_department_month{currency="EUR",department="other",source="s",tenant="t"} 0.1"#,
            r#"pstn_call_charge_by_department_month{currency="USD",department="other",source="s",tenant="t"} 0.05"#,
            r#"pstn_call_charge_by_cost_center_month{cost_center="CC-1",currency="EUR",source="s",tenant="t"} 3.05"#,
            r#"pstn_call_by_department_month_seconds{department="Sales",source="s",tenant="t"} 90"#,
            r#"pstn_call_by_department_month_seconds{department="other",source="s",tenant="t"} 10"#,
        ] {
            assert!(text.lines().any(|found| found == line), "{line} in\n{text}");
        }
        // A new month: last month's series are gone, not left at their old values.
        month.set(
            SourceId::test("s"),
            &[sum("department", "IT", "EUR", 1_000_000, 60.0)],
            2,
        );
        let text = crate::metrics::text_of(&registry);
        assert!(!text.contains("Legal"), "{text}");
        assert!(!text.contains("CC-1"), "{text}");
        assert!(text.contains(r#"pstn_call_charge_by_department_month{currency="EUR",department="IT",source="s",tenant="t"} 1"#), "{text}");
    }
}
