//! A page's chargeback, for sources with a directory: its calls grouped once by (month,
//! department, cost centre, currency), so the sums added to state with the page's keys
//! and the chargeback metrics work on groups, not rows (issue 28: five label look-ups
//! a row, two of them SipHash, cost about a tenth of the agent's instructions).

use super::label_sets::LabelSets;
use super::{CallFacts, Dimension, Month, MonthSum};
use crate::model::UserAttributes;
use rustc_hash::FxHashMap;
use std::sync::Arc;

/// The label of a row whose user the directory does not know.
pub const UNKNOWN: &str = "unknown";
/// The label of a known user without the attribute.
pub const NONE: &str = "none";
/// The label of every value past a source's cap.
pub const OTHER: &str = "other";

/// Whom a call is booked to for one attribute: the user's value, or why there is none.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Booked<'a> {
    /// The directory does not know the user: `unknown`.
    UnknownUser,
    /// A known user without the attribute: `none`.
    NoValue,
    /// The user's value of the attribute.
    Value(&'a str),
}

impl<'a> Booked<'a> {
    /// Its label before any cap.
    pub(crate) fn label(self) -> &'a str {
        match self {
            Booked::UnknownUser => UNKNOWN,
            Booked::NoValue => NONE,
            Booked::Value(value) => value,
        }
    }
}

/// A page's calls of one (month of their start, department, cost centre, currency),
/// grouped once per page: the month's ledger and the chargeback metrics both read them.
#[derive(Debug)]
pub struct ChargebackGroup {
    pub month: Month,
    /// The user of the group's first call: whom every call of the group is booked to.
    user: Option<Arc<UserAttributes>>,
    pub currency: &'static str,
    /// Sum of the charges (millionths, each at least zero, as counters add) of the
    /// calls that have one; `None` when none has.
    pub charge_micros: Option<i128>,
    /// Sum of the durations of the calls that have one; `None` when none has.
    pub seconds: Option<f64>,
    /// What the month's ledger adds: the charges that fit in an `i64` (as stored;
    /// sums saturate, as the stores' do), `None` when no call's does...
    pub ledger_micros: Option<i64>,
    /// ...and whether any call adds to it at all (a charge that fits in an `i64`, or
    /// a duration other than zero).
    pub ledger_counts: bool,
}

impl ChargebackGroup {
    /// The department the group's calls are booked to.
    pub(crate) fn department(&self) -> Booked<'_> {
        booked(self.user.as_deref(), UserAttributes::department)
    }

    /// The cost centre the group's calls are booked to.
    pub(crate) fn cost_center(&self) -> Booked<'_> {
        booked(self.user.as_deref(), UserAttributes::cost_center)
    }
}

/// Whom a call of `user` is booked to for the attribute `value` reads.
fn booked(
    user: Option<&UserAttributes>,
    value: impl FnOnce(&UserAttributes) -> Option<&str>,
) -> Booked<'_> {
    match user {
        None => Booked::UnknownUser,
        Some(user) => value(user).map_or(Booked::NoValue, Booked::Value),
    }
}

/// Groups a page has room for before its index grows (the simulator's pages of 1,000
/// calls have about 300; a page of 1,000 calls can have 1,000).
const GROUPS_ROOM: usize = 512;

/// The page's calls grouped, in the order each group's first call came.
pub(crate) fn groups(facts: &[CallFacts]) -> Vec<ChargebackGroup> {
    type Key<'a> = (Month, Booked<'a>, Booked<'a>, &'static str);
    // Sized for a page's usual groups: growing from empty rehashed the index about
    // eight times a page, a fifth of this function's cost.
    let room = facts.len().min(GROUPS_ROOM);
    let mut index: FxHashMap<Key<'_>, usize> =
        FxHashMap::with_capacity_and_hasher(room, Default::default());
    let mut groups: Vec<ChargebackGroup> = Vec::with_capacity(room);
    for call in facts {
        let user = call.user.as_deref();
        let department = booked(user, UserAttributes::department);
        let cost_center = booked(user, UserAttributes::cost_center);
        let month = Month::of(call.start);
        let key = (month, department, cost_center, call.currency);
        let position = *index.entry(key).or_insert_with(|| {
            groups.push(ChargebackGroup {
                month,
                user: call.user.clone(),
                currency: call.currency,
                charge_micros: None,
                seconds: None,
                ledger_micros: None,
                ledger_counts: false,
            });
            groups.len() - 1
        });
        let group = &mut groups[position];
        if let Some(micros) = call.charge_micros {
            let sum = group.charge_micros.get_or_insert(0);
            *sum = sum.saturating_add(micros.max(0));
        }
        if let Some(seconds) = call.duration_seconds {
            *group.seconds.get_or_insert(0.0) += seconds;
        }
        let ledger = call
            .charge_micros
            .and_then(|micros| i64::try_from(micros).ok());
        if let Some(micros) = ledger {
            let sum = group.ledger_micros.get_or_insert(0);
            *sum = sum.saturating_add(micros);
        }
        group.ledger_counts |= ledger.is_some() || call.duration_seconds.unwrap_or(0.0) != 0.0;
    }
    groups
}

/// The month of the calls' start, and that month's sums by (value, currency) for each
/// dimension (in [`Dimension::ALL`]'s order): charge in millionths, seconds.
type MonthOfSums<'a> = (Month, [LabelSets<'a, (i64, f64)>; 2]);

/// The sums of a page's delivered calls: per month of their start (a page rarely spans
/// two), per (dimension, value, currency), the charge in millionths and the seconds.
/// A call without a charge counts its seconds by department; the cost centre sums
/// charges only.
pub(super) fn month_sums(groups: &[ChargebackGroup]) -> Vec<MonthSum> {
    let mut months: Vec<MonthOfSums<'_>> = Vec::new();
    for group in groups.iter().filter(|group| group.ledger_counts) {
        let [departments, cost_centers] =
            match months.iter().position(|(seen, _)| *seen == group.month) {
                Some(index) => &mut months[index].1,
                None => {
                    months.push((group.month, Default::default()));
                    &mut months.last_mut().expect("just pushed").1
                }
            };
        let sum = departments.get_or_insert_with(
            &[group.department().label(), group.currency],
            Default::default,
        );
        sum.0 = sum.0.saturating_add(group.ledger_micros.unwrap_or(0));
        sum.1 += group.seconds.unwrap_or(0.0);
        if let Some(micros) = group.ledger_micros {
            let sum = cost_centers.get_or_insert_with(
                &[group.cost_center().label(), group.currency],
                Default::default,
            );
            sum.0 = sum.0.saturating_add(micros);
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

#[cfg(test)]
mod tests {
    use super::*;

    fn call(start: &str, charge: &str, seconds: &str, department: Option<&str>) -> CallFacts {
        let raw = format!(
            r#"{{"id":"x","startDateTime":"{start}","callType":"user_out","currency":"EUR","charge":{charge},"duration":{seconds}}}"#
        );
        let user = department.map(|department| match department {
            "" => Vec::new(),
            _ => vec![("department", department)],
        });
        CallFacts::test_call(&raw, user.as_deref())
    }

    #[test]
    fn calls_group_by_month_and_whom_they_are_booked_to_in_the_order_first_seen() {
        let may = "2024-05-31T23:00:00Z";
        let calls = [
            call(may, "0.10", "60", Some("Sales")),
            call(may, "null", "5", Some("none")),
            call(may, "0.25", "30", Some("Sales")),
            call(may, "0.5", "1", Some("")),
            call("2024-06-01T00:10:00Z", "0.05", "90", Some("Sales")),
            call(may, "-1", "0", None),
        ];
        let groups = groups(&calls);
        let summary: Vec<(&str, Booked<'_>, Option<i128>, Option<f64>)> = groups
            .iter()
            .map(|group| {
                let month = if group.month == Month::parse("2024-05").unwrap() {
                    "may"
                } else {
                    "june"
                };
                (
                    month,
                    group.department(),
                    group.charge_micros,
                    group.seconds,
                )
            })
            .collect();
        assert_eq!(
            summary,
            [
                ("may", Booked::Value("Sales"), Some(350_000), Some(90.0)),
                ("may", Booked::Value("none"), None, Some(5.0)),
                ("may", Booked::NoValue, Some(500_000), Some(1.0)),
                ("june", Booked::Value("Sales"), Some(50_000), Some(90.0)),
                ("may", Booked::UnknownUser, Some(0), Some(0.0)),
            ],
            "a department named none is not a user without one; a negative charge adds nothing"
        );
        assert_eq!(
            groups[4].ledger_micros,
            Some(-1_000_000),
            "the ledger keeps the charge as stored"
        );
        assert!(groups[4].ledger_counts);
        assert_eq!(groups[1].ledger_micros, None);
        assert!(groups[1].ledger_counts, "no charge, but seconds");
        let huge = [
            call(may, "10000000000000", "0", Some("Big")),
            call(may, "null", "0", Some("Big")),
        ];
        let big = &super::groups(&huge)[0];
        assert_eq!(
            (big.charge_micros, big.ledger_micros, big.ledger_counts),
            (Some(10_000_000_000_000_000_000), None, false),
            "a charge past i64 is counted by the metrics, not by the ledger"
        );
        assert!(month_sums(&super::groups(&huge)).is_empty());
    }
}
