//! The other party's country from its E.164 number, with Google's libphonenumber
//! metadata (the `rlibphonenumber` port). A country is given only when the digits
//! prove it: a calling code that belongs to one country (`+49` is DE), a NANP area
//! code (`+1 416` is CA, `+1 809` is DO: never "+1 means US"), or, for the other shared
//! codes (`+7`, `+44`, `+39`, ...), a whole number libphonenumber places in one region.
//! A masked number (`+4930123***`) is read up to its first `*` and gets no more than
//! that prefix proves.

mod calling_codes;
mod table;

use crate::model::CountryCode;
use calling_codes::Code;
use rlibphonenumber::{PHONE_NUMBER_UTIL, PhoneNumber};

/// The first digits of a number, on the stack (a `Vec` a row was an allocation a row:
/// issue 28): 16 hold every whole international number (15 at most) and more than the
/// prefix of a masked one is ever read for (a code and a NANP area code).
struct Digits {
    kept: [u8; 16],
    count: usize,
}

impl Digits {
    fn as_slice(&self) -> &[u8] {
        &self.kept[..self.count.min(self.kept.len())]
    }
}

/// The digits of an international number up to its first `*`, and whether it was masked.
/// `None` when it is not written internationally (`+...`): a national number's country
/// is the caller's, which the row does not say for sure.
fn digits(number: &str) -> Option<(Digits, bool)> {
    let number = number.trim();
    let number = number.strip_prefix("tel:").unwrap_or(number);
    let rest = number.strip_prefix('+')?;
    let mut digits = Digits {
        kept: [0; 16],
        count: 0,
    };
    for byte in rest.bytes() {
        match byte {
            b'0'..=b'9' => {
                if let Some(slot) = digits.kept.get_mut(digits.count) {
                    *slot = byte - b'0';
                }
                digits.count += 1;
            }
            b'*' | b'X' | b'x' => return Some((digits, true)),
            b' ' | b'-' | b'.' | b'(' | b')' => {}
            _ => return None,
        }
    }
    (digits.count <= 15).then_some((digits, false))
}

fn value(digits: &[u8]) -> usize {
    digits
        .iter()
        .fold(0, |total, digit| total * 10 + usize::from(*digit))
}

/// The region libphonenumber gives the whole number `+{code}{national}`, when it is
/// valid. The number is built from its digits rather than parsed from text: parsing
/// would repeat the normalisation `digits` already did, at several times the cost.
fn region_of(code: usize, national: &[u8]) -> Option<CountryCode> {
    let zeros = national.iter().take_while(|digit| **digit == 0).count();
    let number = PhoneNumber {
        country_code: i32::try_from(code).ok()?,
        national_number: u64::try_from(value(national)).ok()?,
        italian_leading_zero: (zeros > 0).then_some(true),
        number_of_leading_zeros: (zeros > 1).then(|| i32::try_from(zeros).ok()).flatten(),
        ..PhoneNumber::default()
    };
    let region = PHONE_NUMBER_UTIL.get_region_for_number(&number)?;
    CountryCode::parse(&region.to_string())
}

/// The country of a NANP number from its area code (`national` starts with it): the
/// table built from the metadata when it has the area code (no regexes compiled),
/// else libphonenumber.
fn nanp(national: &[u8], masked: bool) -> Option<CountryCode> {
    if !masked && national.len() != 10 {
        return None; // not a NANP number: too short or too long
    }
    let area = national.get(..3)?;
    if let Some(country) = table::nanp_area(value(area)) {
        // What the old per-area-code memory answered once the area code had been seen:
        // every number libphonenumber accepts in it is this country's.
        return Some(country);
    }
    // Not in the table (800, whose numbers split between US and DO past the area code,
    // and unassigned area codes): the library on this number alone. Remembering its
    // answer per area code, as before, gave US toll-free numbers DO after a `+18001...`.
    nanp_by_library(national, masked)
}

/// What libphonenumber says of a NANP number: the whole number's region, or for a
/// masked one the region every valid completion agrees on.
fn nanp_by_library(national: &[u8], masked: bool) -> Option<CountryCode> {
    if !masked {
        return region_of(1, national);
    }
    // Only the area code (and maybe the exchange's first digits) is shown: ask about
    // numbers that complete it, and answer only if every valid one agrees.
    let mut agreed = None;
    for fill in 2..=9 {
        let mut whole = national[..national.len().min(10)].to_vec();
        whole.resize(10, fill);
        match (agreed, region_of(1, &whole)) {
            (_, None) => {}
            (None, Some(country)) => agreed = Some(country),
            (Some(before), Some(country)) if before == country => {}
            (Some(_), Some(_)) => return None,
        }
    }
    agreed
}

/// The country of an international number, when its digits prove one.
pub fn country_of_number(number: &str) -> Option<CountryCode> {
    country_with(number, nanp)
}

/// `country_of_number` with the NANP answered by `nanp` (the tests compare the table's
/// answers with the library's).
fn country_with(number: &str, nanp: fn(&[u8], bool) -> Option<CountryCode>) -> Option<CountryCode> {
    let (digits, masked) = digits(number)?;
    let digits = digits.as_slice();
    for length in 1..=3 {
        let code = digits.get(..length)?;
        match calling_codes::code(value(code)) {
            Code::Unassigned => continue,
            Code::Country(country) => return Some(country),
            Code::Shared if value(code) == 1 => return nanp(&digits[1..], masked),
            Code::Shared => {
                return (!masked)
                    .then(|| region_of(value(code), &digits[length..]))
                    .flatten();
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn country(number: &str) -> Option<String> {
        country_of_number(number).map(|code| code.to_string())
    }

    #[test]
    fn nanp_numbers_resolve_by_area_code_not_by_plus_one() {
        assert_eq!(country("+16505550100").as_deref(), Some("US"));
        assert_eq!(country("+14165550123").as_deref(), Some("CA"));
        assert_eq!(country("+18095550123").as_deref(), Some("DO"));
        assert_eq!(country("+18765550123").as_deref(), Some("JM"));
        assert_eq!(country("+12684621234").as_deref(), Some("AG"));
        assert_eq!(country("+1 (604) 555-0199").as_deref(), Some("CA"));
    }

    #[test]
    fn single_country_codes_and_shared_codes_with_whole_numbers_resolve() {
        assert_eq!(country("+4930123456").as_deref(), Some("DE"));
        assert_eq!(country("+442071838750").as_deref(), Some("GB"));
        assert_eq!(country("+74951234567").as_deref(), Some("RU"));
        assert_eq!(country("+77172123456").as_deref(), Some("KZ"));
        assert_eq!(country("+390612345678").as_deref(), Some("IT"));
        assert_eq!(country("+81312345678").as_deref(), Some("JP"));
        assert_eq!(country("+5511987654321").as_deref(), Some("BR"));
    }

    #[test]
    fn masked_numbers_get_only_what_their_prefix_proves() {
        assert_eq!(
            country("+4930123***").as_deref(),
            Some("DE"),
            "+49 is Germany alone"
        );
        assert_eq!(country("+33142******").as_deref(), Some("FR"));
        assert_eq!(
            country("+1416555****").as_deref(),
            Some("CA"),
            "the area code is shown"
        );
        assert_eq!(country("+1809*******").as_deref(), Some("DO"));
        assert_eq!(
            country("+14*********"),
            None,
            "an incomplete area code proves nothing"
        );
        assert_eq!(country("+1**********"), None);
        assert_eq!(
            country("+44207******"),
            None,
            "+44 is shared with GG, JE, IM"
        );
        assert_eq!(country("+7495*******"), None, "+7 is shared by RU and KZ");
        assert_eq!(country("+***********"), None);
        assert_eq!(
            country("+4930123456789012345678***").as_deref(),
            Some("DE"),
            "a masked number longer than any whole one keeps its prefix"
        );
    }

    #[test]
    fn numbers_that_are_not_international_or_not_numbers_have_no_country() {
        assert_eq!(country("06501234567"), None);
        assert_eq!(country("anonymous"), None);
        assert_eq!(country(""), None);
        assert_eq!(country("+"), None);
        assert_eq!(country("+80012345678"), None, "+800 is no country");
        assert_eq!(country("+1234567890123456789"), None);
        assert_eq!(country("+1999"), None);
        assert_eq!(
            country("+1650555010"),
            None,
            "nine national digits are no NANP number"
        );
    }
}
