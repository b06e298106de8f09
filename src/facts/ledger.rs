//! The monthly ledgers state keeps beside the row keys: typed, so a month is never a
//! mis-sliced string and a chargeback dimension is one of a closed set.

use super::CallFacts;
use crate::time::Timestamp;
use std::fmt;

/// A calendar month (UTC), written `YYYY-MM` wherever it is stored or shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Month {
    year: i64,
    month: i64,
}

impl Month {
    /// The month (UTC) of an instant.
    pub fn of(instant: Timestamp) -> Month {
        let (year, month) = instant.year_month();
        Month { year, month }
    }

    /// A month written `YYYY-MM` (as [`Month`] displays), or `None` (tests name
    /// months this way; the agent only ever takes an instant's).
    #[cfg(any(test, feature = "__internals"))]
    pub fn parse(text: &str) -> Option<Month> {
        let (year, month) = text.split_once('-')?;
        if year.len() != 4 || month.len() != 2 {
            return None;
        }
        let year: i64 = year.parse().ok()?;
        let month: i64 = month.parse().ok()?;
        (1..=12).contains(&month).then_some(Month { year, month })
    }
}

impl fmt::Display for Month {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}", self.year, self.month)
    }
}

/// Which directory attribute a chargeback sum is by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Dimension {
    /// The user's `department`.
    Department,
    /// The user's `employeeOrgData/costCenter`.
    CostCenter,
}

impl Dimension {
    /// Every dimension, in the order the month's gauges are set.
    pub const ALL: [Dimension; 2] = [Dimension::Department, Dimension::CostCenter];

    /// The name stored in state (and a metric's label name).
    pub fn as_str(self) -> &'static str {
        match self {
            Dimension::Department => "department",
            Dimension::CostCenter => "cost_center",
        }
    }

    /// The dimension stored as `name`, or `None`.
    pub fn parse(name: &str) -> Option<Dimension> {
        Dimension::ALL.into_iter().find(|d| d.as_str() == name)
    }
}

/// Charges and seconds of calls that started in one month, for one value of one
/// directory attribute and one currency.
#[derive(Debug, Clone, PartialEq)]
pub struct MonthSum {
    /// The month (UTC) of the calls' start.
    pub month: Month,
    /// Which attribute.
    pub dimension: Dimension,
    /// Its value (or `unknown`, `none`).
    pub value: String,
    /// The calls' currency.
    pub currency: String,
    /// Sum of `charge`, in millionths.
    pub micros: i64,
    /// Sum of `duration`, in seconds.
    pub seconds: f64,
}

/// Outbound Calling Plans seconds of calls that started in one month, by licence.
#[derive(Debug, Clone, PartialEq)]
pub struct PlanUsage {
    /// The month (UTC) of the calls' start.
    pub month: Month,
    /// `licenseCapability`, `other` or `none`.
    pub license: &'static str,
    /// The seconds drawn from the plan's minute pool.
    pub seconds: f64,
}

/// The plan seconds of a page's delivered PSTN calls, by (month, licence).
pub(super) fn plan_usage(calls: &[CallFacts]) -> Vec<PlanUsage> {
    let mut usage: Vec<PlanUsage> = Vec::new();
    for call in calls {
        let Some(seconds) = call.plan_seconds() else {
            continue;
        };
        let month = Month::of(call.start);
        match usage
            .iter_mut()
            .find(|entry| entry.month == month && entry.license == call.license)
        {
            Some(entry) => entry.seconds += seconds,
            None => usage.push(PlanUsage {
                month,
                license: call.license,
                seconds,
            }),
        }
    }
    usage
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_month_is_written_as_state_has_always_stored_it_and_read_back() {
        let instant = Timestamp::parse("2024-05-31T23:59:59.9999999Z").unwrap();
        let month = Month::of(instant);
        assert_eq!(month.to_string(), "2024-05");
        assert_eq!(month.to_string(), instant.to_string()[..7]);
        assert_eq!(Month::parse("2024-05"), Some(month));
        assert_eq!(Month::of(Timestamp::UNIX_EPOCH).to_string(), "1970-01");
        for bad in ["2024-13", "2024-5", "24-05", "2024/05", ""] {
            assert_eq!(Month::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn dimensions_round_trip_through_their_stored_names() {
        for dimension in Dimension::ALL {
            assert_eq!(Dimension::parse(dimension.as_str()), Some(dimension));
        }
        assert_eq!(Dimension::parse("division"), None);
    }
}
