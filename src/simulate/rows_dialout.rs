//! The audio-conferencing dial-out report (`getPstnOnlineMeetingDialoutReport`): the
//! dial-out calls of a range summed per organizer, usage location, destination context
//! and currency, like Microsoft's example. The calls are the generator's own (a pure
//! function of seed and slot, visible after their lateness), so a report of today
//! grows as the clock moves and the same range at the same instant always gives the
//! same rows.

use super::call_core::CallCore;
use super::directory::user_id;
use super::fields::{COUNTRIES, USERS, country, quoted};
use super::random::CallRandom;
use std::collections::BTreeMap;
use std::fmt::Write;

/// One dial-out call's share of a report row.
struct DialoutCall {
    /// Index into [`USERS`]: the meeting's organizer, who is charged.
    user: usize,
    international: bool,
    seconds: i64,
    /// Communications Credits spent, in millionths of the user's currency.
    charge_micros: i64,
}

/// What one dial-out call was: its organizer, destination and charge (domestic calls
/// a cent and a half a minute, international ones the destination's rate).
fn dialout_call(seed: u64, call: &CallCore) -> DialoutCall {
    let mut random = CallRandom::new(seed, 0x4449_414C ^ 0x00D3_7A11, call.slot as u64);
    let user = random.below(USERS.len());
    let home = country(USERS[user].country);
    let international = random.unit() < 0.3;
    let per_minute = if international {
        let other = COUNTRIES[random.below(COUNTRIES.len())];
        if other.0 == home.0 { 0.015 } else { other.4 }
    } else {
        0.015
    };
    let minutes = (call.duration_seconds as f64 / 60.0).ceil() as i64;
    DialoutCall {
        user,
        international,
        seconds: call.duration_seconds,
        charge_micros: (per_minute * 1e6).round() as i64 * minutes,
    }
}

/// Millionths as a decimal: at least two digits after the point, no trailing zeros past them.
fn decimal(micros: i64) -> String {
    let text = format!("{}.{:06}", micros / 1_000_000, micros % 1_000_000);
    let trimmed = text.trim_end_matches('0');
    match trimmed.len() - trimmed.find('.').unwrap_or(0) {
        length if length < 3 => text[..trimmed.find('.').unwrap_or(0) + 3].to_owned(),
        _ => trimmed.to_owned(),
    }
}

/// Writes one `pstnOnlineMeetingDialoutReport` row.
fn write_row(user: usize, international: bool, totals: (i64, i64, i64), out: &mut String) {
    let person = &USERS[user];
    let home = country(person.country);
    let (calls, seconds, charge_micros) = totals;
    let _ = write!(
        out,
        "{{\"userId\":\"{}\",\"userPrincipalName\":{},\"userDisplayName\":{},\"usageLocation\":\"{}\",\
\"destinationContext\":\"{}\",\"currency\":\"{}\",\"totalCalls\":{calls},\"totalCallCharge\":{},\"totalCallSeconds\":{seconds}}}",
        user_id(user as u64),
        quoted(&format!("{}@contoso.com", person.upn)),
        quoted(person.name),
        person.country,
        if international {
            "International"
        } else {
            "Domestic"
        },
        home.2,
        decimal(charge_micros),
    );
}

/// The report's rows for these dial-out calls, summed per organizer and destination
/// context, in a fixed order.
pub(super) fn report(seed: u64, calls: impl Iterator<Item = CallCore>) -> Vec<String> {
    let mut sums: BTreeMap<(usize, bool), (i64, i64, i64)> = BTreeMap::new();
    for call in calls {
        let dialout = dialout_call(seed, &call);
        let sum = sums
            .entry((dialout.user, dialout.international))
            .or_default();
        sum.0 += 1;
        sum.1 += dialout.seconds;
        sum.2 += dialout.charge_micros;
    }
    sums.into_iter()
        .map(|((user, international), totals)| {
            let mut row = String::with_capacity(400);
            write_row(user, international, totals, &mut row);
            row
        })
        .collect()
}

/// The report row of one dial-out call alone (its own range's report).
pub(super) fn dialout_row(seed: u64, call: &CallCore, out: &mut String) {
    let dialout = dialout_call(seed, call);
    write_row(
        dialout.user,
        dialout.international,
        (1, dialout.seconds, dialout.charge_micros),
        out,
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::LogKind;
    use crate::simulate::{Generator, Lateness};
    use crate::time::Timestamp;
    use std::time::Duration;

    #[test]
    fn charges_print_as_decimals() {
        assert_eq!(decimal(12_830_000), "12.83");
        assert_eq!(decimal(15_000), "0.015");
        assert_eq!(decimal(0), "0.00");
        assert_eq!(decimal(2_000_000), "2.00");
    }

    #[test]
    fn a_days_report_grows_through_the_day_and_sums_its_calls() {
        let generator = Generator::new(5, 5000.0, Lateness::None);
        let day = Timestamp::parse("2024-05-20T00:00:00Z").unwrap();
        let end = day.saturating_add(Duration::from_secs(86_400));
        let total = |rows: &[String]| -> i64 {
            rows.iter()
                .map(|row| {
                    let row: serde_json::Value = serde_json::from_str(row).unwrap();
                    row["totalCalls"].as_i64().unwrap()
                })
                .sum()
        };
        let noon = generator.dialout_report(
            day,
            end,
            false,
            day.saturating_add(Duration::from_secs(12 * 3600)),
        );
        let evening = generator.dialout_report(
            day,
            end,
            false,
            day.saturating_add(Duration::from_secs(20 * 3600)),
        );
        let calls = generator
            .visible_calls(
                LogKind::PstnDialoutReport,
                day,
                end,
                false,
                end.saturating_add(Duration::from_secs(86_400)),
            )
            .count() as i64;
        assert!(
            0 < total(&noon) && total(&noon) < total(&evening),
            "{} then {}",
            total(&noon),
            total(&evening)
        );
        assert!(total(&evening) <= calls);
        assert_eq!(
            noon,
            generator.dialout_report(
                day,
                end,
                false,
                day.saturating_add(Duration::from_secs(12 * 3600))
            )
        );
        let before = generator.dialout_report(
            day.saturating_sub(Duration::from_secs(86_400)),
            day,
            false,
            end,
        );
        assert_ne!(before, evening, "another day, other rows");
    }
}
