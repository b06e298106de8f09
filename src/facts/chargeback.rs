//! A page's chargeback sums by the month of each call's start, for sources with a
//! directory: added to state with the page's keys, so this month's gauges are exact
//! and right after a restart.

use super::label_sets::LabelSets;
use super::{CallFacts, Dimension, Month, MonthSum};

/// The label of a row whose user the directory does not know.
pub const UNKNOWN: &str = "unknown";
/// The label of a known user without the attribute.
pub const NONE: &str = "none";
/// The label of every value past a source's cap.
pub const OTHER: &str = "other";

/// The month of the calls' start, and that month's sums by (value, currency) for each
/// dimension (in [`Dimension::ALL`]'s order): charge in millionths, seconds.
type MonthOfSums<'a> = (Month, [LabelSets<'a, (i64, f64)>; 2]);

/// The sums of a page's delivered calls: per month of their start (a page rarely spans
/// two), per (dimension, value, currency), the charge in millionths and the seconds.
pub(super) fn month_sums(facts: &[CallFacts]) -> Vec<MonthSum> {
    let mut months: Vec<MonthOfSums<'_>> = Vec::new();
    for call in facts {
        let micros = call
            .charge_micros
            .and_then(|micros| i64::try_from(micros).ok());
        let seconds = call.duration_seconds.unwrap_or(0.0);
        if micros.is_none() && seconds == 0.0 {
            continue;
        }
        let month = Month::of(call.start);
        let [departments, cost_centers] = match months.iter().position(|(seen, _)| *seen == month) {
            Some(index) => &mut months[index].1,
            None => {
                months.push((month, Default::default()));
                &mut months.last_mut().expect("just pushed").1
            }
        };
        let (department, cost_center) = match &call.user {
            None => (UNKNOWN, UNKNOWN),
            Some(user) => (
                user.department().unwrap_or(NONE),
                user.cost_center().unwrap_or(NONE),
            ),
        };
        let sum = departments.get_or_insert_with(&[department, call.currency], Default::default);
        sum.0 += micros.unwrap_or(0);
        sum.1 += seconds;
        if let Some(micros) = micros {
            cost_centers
                .get_or_insert_with(&[cost_center, call.currency], Default::default)
                .0 += micros;
        }
    }
    let mut out = Vec::new();
    for (month, dimensions) in months {
        for (dimension, mut sums) in Dimension::ALL.into_iter().zip(dimensions) {
            for (labels, (micros, seconds)) in sums.drain() {
                out.push(MonthSum {
                    month,
                    dimension,
                    value: labels[0].to_owned(),
                    currency: labels[1].to_owned(),
                    micros,
                    seconds,
                });
            }
        }
    }
    out
}
