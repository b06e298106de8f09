//! A page's chargeback sums by the month of each call's start, for sources with a
//! directory: added to state with the page's keys, so this month's gauges are exact
//! and right after a restart.

use crate::metrics::CallFacts;
use crate::metrics::label_sets::LabelSets;
use crate::state::MonthSum;

/// The label of a row whose user the directory does not know.
const UNKNOWN: &str = "unknown";
/// The label of a known user without the attribute.
const NONE: &str = "none";

/// (year, month) of the calls' start, and that month's sums by (dimension, value,
/// currency): charge in millionths, seconds.
type MonthOfSums<'a> = ((i64, i64), LabelSets<'a, (i64, f64)>);

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
        let month = call.start.year_month();
        let sums = match months.iter().position(|(seen, _)| *seen == month) {
            Some(index) => &mut months[index].1,
            None => {
                months.push((month, LabelSets::default()));
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
        let department = sums.get_or_insert_with(
            &["department", department, call.currency],
            Default::default,
        );
        department.0 += micros.unwrap_or(0);
        department.1 += seconds;
        if let Some(micros) = micros {
            sums.get_or_insert_with(
                &["cost_center", cost_center, call.currency],
                Default::default,
            )
            .0 += micros;
        }
    }
    let mut out = Vec::new();
    for ((year, month), mut sums) in months {
        for (labels, (micros, seconds)) in sums.drain() {
            out.push(MonthSum {
                month: format!("{year:04}-{month:02}"),
                dimension: labels[0].to_owned(),
                value: labels[1].to_owned(),
                currency: labels[2].to_owned(),
                micros,
                seconds,
            });
        }
    }
    out
}
