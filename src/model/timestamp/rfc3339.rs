//! A strict, allocation-free RFC 3339 parser and a Graph-shaped formatter.
//!
//! Written here rather than taken from a date crate because it runs once per row on
//! the hot path and must keep all seven of Graph's fractional digits exactly.

use super::Timestamp;

/// Why a timestamp could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TimestampError {
    /// The text is not `YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM)`.
    #[error("not an RFC 3339 timestamp (expected like 2024-05-01T08:15:03.7730000Z)")]
    Malformed,
    /// A field is out of its range (month 13, hour 25, day 31 in April...).
    #[error("timestamp field out of range")]
    OutOfRange,
}

const TICKS_PER_DAY: i64 = 86_400 * Timestamp::TICKS_PER_SECOND;

fn digits(bytes: &[u8], at: usize, count: usize) -> Result<i64, TimestampError> {
    let slice = bytes.get(at..at + count).ok_or(TimestampError::Malformed)?;
    let mut value = 0i64;
    for &byte in slice {
        if !byte.is_ascii_digit() {
            return Err(TimestampError::Malformed);
        }
        value = value * 10 + i64::from(byte - b'0');
    }
    Ok(value)
}

fn expect(bytes: &[u8], at: usize, wanted: &[u8]) -> Result<u8, TimestampError> {
    match bytes.get(at) {
        Some(byte) if wanted.contains(byte) => Ok(*byte),
        _ => Err(TimestampError::Malformed),
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let month_index = (month + 9) % 12;
    let day_of_year = (153 * month_index + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

pub(super) fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let days = days + 719_468;
    let era = days.div_euclid(146_097);
    let day_of_era = days - era * 146_097;
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_index = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_index + 2) / 5 + 1;
    let month = if month_index < 10 {
        month_index + 3
    } else {
        month_index - 9
    };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        2 if (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

pub(super) fn parse(text: &str) -> Result<Timestamp, TimestampError> {
    let bytes = text.as_bytes();
    let year = digits(bytes, 0, 4)?;
    expect(bytes, 4, b"-")?;
    let month = digits(bytes, 5, 2)?;
    expect(bytes, 7, b"-")?;
    let day = digits(bytes, 8, 2)?;
    expect(bytes, 10, b"Tt ")?;
    let hour = digits(bytes, 11, 2)?;
    expect(bytes, 13, b":")?;
    let minute = digits(bytes, 14, 2)?;
    expect(bytes, 16, b":")?;
    let second = digits(bytes, 17, 2)?;
    let mut at = 19;
    let mut fraction_ticks = 0i64;
    if bytes.get(at) == Some(&b'.') {
        at += 1;
        let start = at;
        while bytes.get(at).is_some_and(u8::is_ascii_digit) {
            let position = at - start;
            if position < 7 {
                fraction_ticks += i64::from(bytes[at] - b'0') * 10i64.pow(6 - position as u32);
            }
            at += 1;
        }
        if at == start {
            return Err(TimestampError::Malformed);
        }
    }
    let offset_seconds = match expect(bytes, at, b"Zz+-")? {
        b'Z' | b'z' => {
            at += 1;
            0
        }
        sign => {
            let hours = digits(bytes, at + 1, 2)?;
            expect(bytes, at + 3, b":")?;
            let minutes = digits(bytes, at + 4, 2)?;
            if hours > 23 || minutes > 59 {
                return Err(TimestampError::OutOfRange);
            }
            at += 6;
            let magnitude = hours * 3600 + minutes * 60;
            if sign == b'-' { -magnitude } else { magnitude }
        }
    };
    if at != bytes.len() {
        return Err(TimestampError::Malformed);
    }
    if !(1..=12).contains(&month)
        || day < 1
        || day > days_in_month(year, month)
        || hour > 23
        || minute > 59
        || second > 60
    {
        return Err(TimestampError::OutOfRange);
    }
    let seconds = days_from_civil(year, month, day) * 86_400 + hour * 3600 + minute * 60 + second
        - offset_seconds;
    Ok(Timestamp(
        seconds * Timestamp::TICKS_PER_SECOND + fraction_ticks,
    ))
}

pub(super) fn format(timestamp: Timestamp) -> String {
    let ticks = timestamp.ticks();
    let days = ticks.div_euclid(TICKS_PER_DAY);
    let in_day = ticks.rem_euclid(TICKS_PER_DAY);
    let (year, month, day) = civil_from_days(days);
    let seconds = in_day / Timestamp::TICKS_PER_SECOND;
    let fraction = in_day % Timestamp::TICKS_PER_SECOND;
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{fraction:07}Z",
        seconds / 3600,
        seconds / 60 % 60,
        seconds % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seven_fractional_digits_survive_a_round_trip() {
        let text = "2019-11-01T00:00:08.2589935Z";
        let parsed = parse(text).unwrap();
        assert_eq!(format(parsed), text);
    }

    #[test]
    fn the_epoch_and_year_one_are_placed_correctly() {
        assert_eq!(parse("1970-01-01T00:00:00Z").unwrap().ticks(), 0);
        let year_one = parse("0001-01-01T00:00:00Z").unwrap();
        assert_eq!(
            year_one.ticks(),
            -62_135_596_800 * Timestamp::TICKS_PER_SECOND
        );
        assert_eq!(format(year_one), "0001-01-01T00:00:00.0000000Z");
    }

    #[test]
    fn offsets_are_folded_into_utc() {
        let plus_two = parse("2024-05-01T10:00:00+02:00").unwrap();
        assert_eq!(plus_two, parse("2024-05-01T08:00:00Z").unwrap());
    }

    #[test]
    fn digits_past_the_seventh_are_truncated() {
        let nine = parse("2024-05-01T08:00:00.123456789Z").unwrap();
        assert_eq!(format(nine), "2024-05-01T08:00:00.1234567Z");
    }

    #[test]
    fn leap_days_and_month_ends_are_checked() {
        assert!(parse("2024-02-29T00:00:00Z").is_ok());
        assert_eq!(
            parse("2023-02-29T00:00:00Z"),
            Err(TimestampError::OutOfRange)
        );
        assert_eq!(
            parse("2024-04-31T00:00:00Z"),
            Err(TimestampError::OutOfRange)
        );
    }

    #[test]
    fn malformed_text_is_refused_not_guessed() {
        for bad in [
            "",
            "2024-05-01",
            "2024-05-01T08:00:00",
            "2024-05-01T08:00:00.Z",
            "2024-05-01T08:00:00Zjunk",
            "24-05-01T08:00:00Z",
            "2024-05-01T08:00:00+0200",
        ] {
            assert_eq!(parse(bad), Err(TimestampError::Malformed), "{bad}");
        }
    }

    #[test]
    fn civil_conversion_agrees_for_every_day_of_four_centuries() {
        let start = days_from_civil(1900, 1, 1);
        for days in start..start + 146_097 {
            let (year, month, day) = civil_from_days(days);
            assert_eq!(days_from_civil(year, month, day), days);
        }
    }
}
