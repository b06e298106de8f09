//! What a page produces besides its events, with one owner: the typed facts of each
//! delivered row (bounded labels, exact amounts, the user's directory attributes; for
//! a dial-out report row, how much its totals grew) that metrics count, and the monthly ledgers state keeps beside the row keys (outbound
//! calling-plan seconds; with a directory, chargeback sums by department and cost
//! centre) so this month's gauges are exact and right after a restart.
//!
//! source builds them from a page, state stores the ledgers, metrics reads both: a new
//! chargeback measure is an edit here and in the series that shows it.

mod call;
pub(crate) mod chargeback;
mod dialout;
pub(crate) mod label_sets;
pub(crate) mod labels;
mod ledger;

pub use call::CallFacts;
pub use chargeback::ChargebackGroup;
pub use dialout::DialoutGrowth;
pub use ledger::{Dimension, Month, MonthSum, PlanUsage};

use crate::model::LogKind;

/// What one page's delivered rows add: each row's facts, in delivery order, and what
/// they add to the monthly ledgers.
#[derive(Debug, Default)]
pub struct PageFacts {
    /// One per delivered row.
    pub calls: Vec<CallFacts>,
    /// Outbound calling-plan seconds by (month, licence) (PSTN calls only).
    pub plan_usage: Vec<PlanUsage>,
    /// Chargeback sums by (month, dimension, value, currency) (calls of a source with
    /// a directory only).
    pub chargeback: Vec<MonthSum>,
    /// The calls grouped by whom they are booked to, from which `chargeback` was
    /// summed; the chargeback metrics count the same groups (with a directory only).
    pub chargeback_groups: Vec<ChargebackGroup>,
}

impl PageFacts {
    /// The ledgers' additions of `calls`, rows of `kind`; `chargeback` when the
    /// source has a directory (without one every call would be `unknown`).
    pub fn of(calls: Vec<CallFacts>, kind: LogKind, chargeback: bool) -> PageFacts {
        let plan_usage = if kind == LogKind::Pstn {
            ledger::plan_usage(&calls)
        } else {
            Vec::new()
        };
        let chargeback_groups = if chargeback && kind.is_call() {
            chargeback::groups(&calls)
        } else {
            Vec::new()
        };
        PageFacts {
            chargeback: chargeback::month_sums(&chargeback_groups),
            calls,
            plan_usage,
            chargeback_groups,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Enrichment, Row, UserAttributes};
    use std::sync::Arc;

    fn call(kind: LogKind, raw: &str, department: Option<&str>) -> CallFacts {
        let user = department.map(|department| {
            let values = [("department".to_owned(), department.to_owned())].into();
            Arc::new(UserAttributes::new(values))
        });
        let enrichment = Enrichment {
            other_party_country: None,
            user,
        };
        CallFacts::of(&Row::parse_as(raw, kind).unwrap(), kind).with_enrichment(&enrichment)
    }

    fn page(kind: LogKind) -> Vec<CallFacts> {
        [
            (r#"{"id":"a","startDateTime":"2024-05-31T23:00:00Z","callType":"user_out","licenseCapability":"MCOPSTN1","duration":60,"charge":0.10,"currency":"EUR"}"#, Some("Sales")),
            (r#"{"id":"b","startDateTime":"2024-05-31T23:30:00Z","callType":"user_out","licenseCapability":"MCOPSTN1","duration":30,"charge":0.25,"currency":"EUR"}"#, Some("Sales")),
            (r#"{"id":"c","startDateTime":"2024-06-01T00:10:00Z","callType":"user_in","licenseCapability":"MCOPSTN1","duration":90,"charge":0,"currency":"EUR"}"#, None),
        ]
        .iter()
        .map(|(raw, department)| call(kind, raw, *department))
        .collect()
    }

    #[test]
    fn a_pstn_page_adds_its_outbound_plan_seconds_by_month_and_licence() {
        let facts = PageFacts::of(page(LogKind::Pstn), LogKind::Pstn, false);
        assert_eq!(facts.calls.len(), 3);
        assert_eq!(
            facts.plan_usage,
            [PlanUsage {
                month: Month::parse("2024-05").unwrap(),
                license: "MCOPSTN1",
                seconds: 90.0,
            }],
            "inbound calls draw nothing from the plan"
        );
        assert!(facts.chargeback.is_empty(), "no directory, no chargeback");
    }

    #[test]
    fn with_a_directory_a_page_adds_chargeback_sums_by_month_dimension_and_value() {
        let facts = PageFacts::of(page(LogKind::DirectRouting), LogKind::DirectRouting, true);
        assert!(
            facts.plan_usage.is_empty(),
            "Direct Routing has no calling plan"
        );
        let sum = |month: &str, dimension, value: &str| {
            facts
                .chargeback
                .iter()
                .find(|sum| {
                    sum.month == Month::parse(month).unwrap()
                        && sum.dimension == dimension
                        && sum.value == value
                })
                .map(|sum| (sum.currency.as_str(), sum.micros, sum.seconds))
        };
        let may = "2024-05";
        assert_eq!(
            sum(may, Dimension::Department, "Sales"),
            Some(("EUR", 350_000, 90.0))
        );
        assert_eq!(
            sum(may, Dimension::CostCenter, "none"),
            Some(("EUR", 350_000, 0.0))
        );
        assert_eq!(
            sum("2024-06", Dimension::Department, "unknown"),
            Some(("EUR", 0, 90.0))
        );
        assert_eq!(facts.chargeback.len(), 4, "{:?}", facts.chargeback);
    }
}
