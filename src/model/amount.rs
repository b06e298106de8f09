//! Graph's Decimal fields (`charge`, `connectionCharge`, `callCharge`), kept as written
//! and read exactly: sums of charges are kept in millionths, never in binary floats.

use std::borrow::Cow;

/// Millionths of a currency unit per unit: the precision charges are summed at.
pub const MICROS_PER_UNIT: i128 = 1_000_000;

/// A Decimal as Graph sent it: usually a JSON number, sometimes a string.
#[derive(Debug, Clone, PartialEq)]
pub enum Amount<'a> {
    /// A JSON number literal, as written.
    Number(&'a str),
    /// A JSON string holding the amount.
    Text(Cow<'a, str>),
}

impl Amount<'_> {
    fn text(&self) -> &str {
        match self {
            Amount::Number(text) => text,
            Amount::Text(text) => text.as_ref(),
        }
    }

    /// The amount as a float, for histograms; `None` when the text is not a number.
    pub fn value(&self) -> Option<f64> {
        self.text()
            .trim()
            .parse::<f64>()
            .ok()
            .filter(|value| value.is_finite())
    }

    /// The amount in millionths of a unit, read from its decimal text without a float
    /// on the way (`0.10` is exactly 100,000); digits past the sixth decimal are rounded
    /// half away from zero. `None` when the text is not a decimal number or is absurdly large.
    pub fn micros(&self) -> Option<i128> {
        decimal_micros(self.text().trim())
    }
}

/// `[-+]digits[.digits][e[-+]digits]` in millionths.
fn decimal_micros(text: &str) -> Option<i128> {
    let (negative, rest) = match text.as_bytes().first()? {
        b'-' => (true, &text[1..]),
        b'+' => (false, &text[1..]),
        _ => (false, text),
    };
    let (mantissa, exponent) = match rest.find(['e', 'E']) {
        Some(at) => (&rest[..at], rest[at + 1..].parse::<i32>().ok()?),
        None => (rest, 0),
    };
    let (whole, fraction) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    if whole.is_empty() && fraction.is_empty() {
        return None;
    }
    // Read in place, not copied out (two allocations a charge were 5% of the agent's
    // allocations: issue 28).
    let digits = || {
        whole
            .bytes()
            .chain(fraction.bytes())
            .map(|byte| byte - b'0')
    };
    if !whole
        .bytes()
        .chain(fraction.bytes())
        .all(|byte| byte.is_ascii_digit())
    {
        return None;
    }
    // The value is digits × 10^(exponent - fraction.len()); in millionths, shift by 6 more.
    let shift = exponent
        .checked_sub(i32::try_from(fraction.len()).ok()?)?
        .checked_add(6)?;
    let significant = || digits().skip_while(|digit| *digit == 0);
    let length = significant().count();
    if length == 0 {
        return Some(0);
    }
    if i64::from(shift) + length as i64 > 30 {
        return None; // more than 10^24 units: not a charge
    }
    let kept = if shift >= 0 {
        length
    } else {
        length.saturating_sub(shift.unsigned_abs() as usize)
    };
    let mut micros: i128 = significant()
        .take(kept)
        .fold(0, |total, digit| total * 10 + i128::from(digit));
    if shift > 0 {
        micros *= 10i128.pow(shift.unsigned_abs());
    } else if significant()
        .nth(kept)
        .is_some_and(|first_dropped| first_dropped >= 5)
    {
        micros += 1;
    }
    Some(if negative { -micros } else { micros })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn micros(text: &str) -> Option<i128> {
        Amount::Number(text).micros()
    }

    #[test]
    fn amounts_are_read_exactly_in_millionths() {
        assert_eq!(micros("0.10"), Some(100_000));
        assert_eq!(micros("2.6"), Some(2_600_000));
        assert_eq!(micros("0"), Some(0));
        assert_eq!(micros("0.00"), Some(0));
        assert_eq!(micros("12"), Some(12_000_000));
        assert_eq!(micros("-0.35"), Some(-350_000));
        assert_eq!(micros("1.5E2"), Some(150_000_000));
        assert_eq!(micros("25e-3"), Some(25_000));
        assert_eq!(micros("0.0000015"), Some(2), "rounded half away from zero");
        assert_eq!(micros("0.0000014"), Some(1));
        assert_eq!(micros(".5"), Some(500_000));
        assert_eq!(Amount::Text(" 3.05 ".into()).micros(), Some(3_050_000));
        for bad in ["", "-", ".", "abc", "1.2.3", "1e", "NaN", "1e400", "0x10"] {
            assert_eq!(micros(bad), None, "{bad}");
        }
    }
}
