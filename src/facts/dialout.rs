//! The facts of a dial-out report row: how much its totals grew since they were last
//! delivered, with bounded labels (the report's rows are running totals of a day).

use super::labels::{self, CURRENCIES};
use crate::model::DialoutTotals;

/// How much one report row grew, with bounded labels.
#[derive(Debug, Clone, PartialEq)]
pub struct DialoutGrowth {
    /// `destinationContext`: `domestic`, `international`, `other` or `none`.
    pub destination: &'static str,
    /// `currency` (ISO 4217), `other` or `none`.
    pub currency: &'static str,
    /// The growth of each total.
    pub growth: DialoutTotals,
}

impl DialoutGrowth {
    /// The growth of a row with these `destinationContext` and `currency` values.
    pub fn new(destination: Option<&str>, currency: Option<&str>, growth: DialoutTotals) -> Self {
        DialoutGrowth {
            destination: labels::destination(destination),
            currency: labels::from_sorted(currency, CURRENCIES),
            growth,
        }
    }
}
