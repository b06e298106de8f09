//! A page's chargeback sums by the month of each call's start, for sources with a
//! directory: added to state with the page's keys, so this month's gauges are exact
//! and right after a restart.

use crate::metrics::CallFacts;
use crate::state::MonthSum;
use std::collections::HashMap;

/// The label of a row whose user the directory does not know.
const UNKNOWN: &str = "unknown";
/// The label of a known user without the attribute.
const NONE: &str = "none";

/// (year, month, dimension, currency): copied per row without allocating.
type Group = (i64, i64, &'static str, &'static str);

/// One page's sums, gathered row by row: per group, value → (charge micros, seconds).
#[derive(Debug, Default)]
pub(super) struct MonthSums {
    sums: HashMap<Group, HashMap<String, (i64, f64)>>,
}

impl MonthSums {
    /// Adds one delivered call: its charge and seconds under its user's department,
    /// its charge under its user's cost centre.
    pub(super) fn add(&mut self, call: &CallFacts) {
        let micros = call
            .charge_micros
            .and_then(|micros| i64::try_from(micros).ok());
        let seconds = call.duration_seconds.unwrap_or(0.0);
        if micros.is_none() && seconds == 0.0 {
            return;
        }
        let (year, month) = call.start.year_month();
        let attribute = |key: &str| match &call.user {
            None => UNKNOWN,
            Some(user) => user.get(key).unwrap_or(NONE),
        };
        let group = (year, month, "department", call.currency);
        self.add_to(group, attribute("department"), micros.unwrap_or(0), seconds);
        if let Some(micros) = micros {
            let group = (year, month, "cost_center", call.currency);
            self.add_to(group, attribute("costCenter"), micros, 0.0);
        }
    }

    fn add_to(&mut self, group: Group, value: &str, micros: i64, seconds: f64) {
        let values = self.sums.entry(group).or_default();
        let sum = match values.get_mut(value) {
            Some(sum) => sum,
            None => values.entry(value.to_owned()).or_default(),
        };
        sum.0 += micros;
        sum.1 += seconds;
    }

    /// The sums, as state keeps them.
    pub(super) fn into_month_sums(self) -> Vec<MonthSum> {
        let mut out = Vec::new();
        for ((year, month, dimension, currency), values) in self.sums {
            for (value, (micros, seconds)) in values {
                out.push(MonthSum {
                    month: format!("{year:04}-{month:02}"),
                    dimension: dimension.to_owned(),
                    value,
                    currency: currency.to_owned(),
                    micros,
                    seconds,
                });
            }
        }
        out
    }
}
