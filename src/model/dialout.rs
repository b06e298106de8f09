//! One row of Graph's audio-conferencing dial-out report
//! (`pstnOnlineMeetingDialoutReport`): the totals of one user, usage location,
//! destination context and currency over the range asked for. The row has no id; those
//! four fields are its key within one range, and its totals are what changes between
//! two reads of the same range.

use super::row::{amount, string};
use super::{BadRow, Timestamp};
use serde::Deserialize;
use serde_json::value::RawValue;
use std::borrow::Cow;

/// Ticks in one UTC day.
const TICKS_PER_DAY: i64 = 86_400 * Timestamp::TICKS_PER_SECOND;

/// The totals of a report row: what the agent compares between reads and counts the
/// growth of.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DialoutTotals {
    /// `totalCalls`.
    pub calls: i64,
    /// `totalCallSeconds`.
    pub seconds: i64,
    /// `totalCallCharge` in millionths of `currency`.
    pub charge_micros: i64,
}

impl DialoutTotals {
    /// How much each total grew since `before` (a total that shrank, as a corrected
    /// report can, grew by zero: counters never go down).
    pub fn growth_since(self, before: DialoutTotals) -> DialoutTotals {
        DialoutTotals {
            calls: self.calls.saturating_sub(before.calls).max(0),
            seconds: self.seconds.saturating_sub(before.seconds).max(0),
            charge_micros: self
                .charge_micros
                .saturating_sub(before.charge_micros)
                .max(0),
        }
    }
}

/// A dial-out report row: the raw JSON and what the agent reads from it.
#[derive(Debug, Clone)]
pub struct DialoutRow<'a> {
    /// The row exactly as Graph sent it.
    pub raw: &'a str,
    /// `userId`, `usageLocation`, `destinationContext` and `currency` as a JSON array:
    /// the row's identity within one day (opaque bytes to state).
    pub key: Vec<u8>,
    /// `destinationContext`: `Domestic`, `International`, or absent.
    pub destination_context: Option<Cow<'a, str>>,
    /// `currency` (ISO 4217).
    pub currency: Option<Cow<'a, str>>,
    /// The row's totals (absent or unreadable ones are zero).
    pub totals: DialoutTotals,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Fields<'a> {
    #[serde(borrow, default)]
    user_id: Option<&'a RawValue>,
    #[serde(borrow, default)]
    usage_location: Option<&'a RawValue>,
    #[serde(borrow, default)]
    destination_context: Option<&'a RawValue>,
    #[serde(borrow, default)]
    currency: Option<&'a RawValue>,
    #[serde(borrow, default)]
    total_calls: Option<&'a RawValue>,
    #[serde(borrow, default)]
    total_call_seconds: Option<&'a RawValue>,
    #[serde(borrow, default)]
    total_call_charge: Option<&'a RawValue>,
}

/// A whole number (Int32 as a number or a string), in millionths then back to units
/// so `723` and `"723"` and `723.0` read alike.
fn whole(raw: Option<&RawValue>) -> i64 {
    amount(raw)
        .and_then(|amount| amount.micros())
        .map(|micros| micros / super::MICROS_PER_UNIT)
        .and_then(|units| i64::try_from(units).ok())
        .unwrap_or(0)
}

impl<'a> DialoutRow<'a> {
    /// Reads one raw report row; only a row that is not a JSON object (or nests absurdly
    /// deep) is bad: every field is nullable, and a missing total reads as zero.
    pub fn parse(raw: &'a str) -> Result<DialoutRow<'a>, BadRow> {
        if !raw.starts_with('{') {
            return Err(BadRow::NotAnObject);
        }
        if super::bad_row::too_deep(raw) {
            return Err(BadRow::TooDeep);
        }
        let fields: Fields<'a> = serde_json::from_str(raw).map_err(|_| BadRow::NotAnObject)?;
        let destination_context = string(fields.destination_context);
        let currency = string(fields.currency);
        let key_parts = [
            string(fields.user_id),
            string(fields.usage_location),
            destination_context.clone(),
            currency.clone(),
        ];
        let key = serde_json::to_vec(&key_parts).map_err(|_| BadRow::NotAnObject)?;
        let charge_micros = amount(fields.total_call_charge)
            .and_then(|amount| amount.micros())
            .map(|micros| micros.clamp(i64::MIN.into(), i64::MAX.into()) as i64)
            .unwrap_or(0);
        Ok(DialoutRow {
            raw,
            key,
            destination_context,
            currency,
            totals: DialoutTotals {
                calls: whole(fields.total_calls),
                seconds: whole(fields.total_call_seconds),
                charge_micros,
            },
        })
    }
}

/// The start of the UTC day holding `instant`.
pub fn day_start(instant: Timestamp) -> Timestamp {
    Timestamp::from_ticks(instant.ticks().div_euclid(TICKS_PER_DAY) * TICKS_PER_DAY)
}

/// The start of the UTC day after the one starting at `day`.
pub fn next_day(day: Timestamp) -> Timestamp {
    Timestamp::from_ticks(day.ticks().saturating_add(TICKS_PER_DAY))
}

/// A day's start as `YYYY-MM-DD`.
pub fn day_text(day: Timestamp) -> String {
    let text = day.to_string();
    text.get(..10).unwrap_or(&text).to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    const ROW: &str = r#"{"userId":"03de33bb-51df-40de-889a-61949faae24f","userPrincipalName":"ruwini.perera@contoso.com","userDisplayName":"Ruwini Perera","usageLocation":"US","destinationContext":"International","currency":"USD","totalCalls":12,"totalCallCharge":12.83,"totalCallSeconds":723}"#;

    #[test]
    fn microsofts_example_row_reads_with_its_totals_and_key() {
        let row = DialoutRow::parse(ROW).unwrap();
        assert_eq!(row.raw, ROW);
        assert_eq!(
            row.totals,
            DialoutTotals {
                calls: 12,
                seconds: 723,
                charge_micros: 12_830_000
            }
        );
        assert_eq!(row.destination_context.as_deref(), Some("International"));
        assert_eq!(row.currency.as_deref(), Some("USD"));
        assert_eq!(
            String::from_utf8(row.key).unwrap(),
            r#"["03de33bb-51df-40de-889a-61949faae24f","US","International","USD"]"#
        );
    }

    #[test]
    fn the_key_ignores_totals_and_names_and_odd_values_read_as_zero() {
        let grown = ROW
            .replace("\"totalCalls\":12", "\"totalCalls\":\"13\"")
            .replace("Ruwini Perera", "R. Perera");
        let (before, after) = (
            DialoutRow::parse(ROW).unwrap(),
            DialoutRow::parse(&grown).unwrap(),
        );
        assert_eq!(before.key, after.key);
        assert_eq!(after.totals.calls, 13);
        let other_currency = ROW.replace("USD", "EUR");
        assert_ne!(DialoutRow::parse(&other_currency).unwrap().key, before.key);
        let odd = DialoutRow::parse(r#"{"totalCalls":true,"totalCallCharge":"abc"}"#).unwrap();
        assert_eq!(odd.totals, DialoutTotals::default());
        assert_eq!(String::from_utf8(odd.key).unwrap(), "[null,null,null,null]");
        assert_eq!(DialoutRow::parse("[1]").unwrap_err(), BadRow::NotAnObject);
    }

    #[test]
    fn growth_is_per_total_and_never_negative() {
        let before = DialoutTotals {
            calls: 3,
            seconds: 100,
            charge_micros: 500_000,
        };
        let after = DialoutTotals {
            calls: 5,
            seconds: 90,
            charge_micros: 750_000,
        };
        assert_eq!(
            after.growth_since(before),
            DialoutTotals {
                calls: 2,
                seconds: 0,
                charge_micros: 250_000
            }
        );
    }

    #[test]
    fn days_are_utc_calendar_days() {
        let noon = Timestamp::parse("2024-05-20T12:34:56Z").unwrap();
        let day = day_start(noon);
        assert_eq!(day.to_string(), "2024-05-20T00:00:00.0000000Z");
        assert_eq!(next_day(day).to_string(), "2024-05-21T00:00:00.0000000Z");
        assert_eq!(day_text(day), "2024-05-20");
        assert_eq!(day_start(day), day);
    }
}
