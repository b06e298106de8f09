//! What each calling code says by itself, written out from libphonenumber's metadata so
//! that a number of a one-country code (`+49`) or of a NANP area code in `table` never
//! loads the library: loading it costs about 6 MB of heap and 48 M instructions
//! (BENCHMARKS, session 13). Only a number of a shared code other than +1 (`+44`, `+7`,
//! ...) or of a NANP area code the table leaves out (`+1 800`) loads it. `tests` checks
//! it against the library.

use crate::model::CountryCode;
use std::sync::LazyLock;

/// What a calling code says by itself.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum Code {
    /// Not a calling code, or one of no country (`+800`, `+882`, ...).
    Unassigned,
    /// A code of exactly one country.
    Country(CountryCode),
    /// A code several countries share: the national digits decide.
    Shared,
}

/// Three-digit calling code (zero-padded) then its country's two letters, or `**` when
/// countries share it; ascending by code. `print_calling_code_table` writes it.
const CODES: &str = "\
    001**007**020EG027ZA030GR031NL032BE033FR034ES036HU039**040RO041CH043AT044**045DK\
    046SE047**048PL049DE051PE052MX053CU054AR055BR056CL057CO058VE060MY061**062ID063PH\
    064NZ065SG066TH081JP082KR084VN086CN090TR091IN092PK093AF094LK095MM098IR211SS212**\
    213DZ216TN218LY220GM221SN222MR223ML224GN225CI226BF227NE228TG229BJ230MU231LR232SL\
    233GH234NG235TD236CF237CM238CV239ST240GQ241GA242CG243CD244AO245GW246IO247AC248SC\
    249SD250RW251ET252SO253DJ254KE255TZ256UG257BI258MZ260ZM261MG262**263ZW264NA265MW\
    266LS267BW268SZ269KM290**291ER297AW298FO299GL350GI351PT352LU353IE354IS355AL356MT\
    357CY358**359BG370LT371LV372EE373MD374AM375BY376AD377MC378SM380UA381RS382ME383XK\
    385HR386SI387BA389MK420CZ421SK423LI500FK501BZ502GT503SV504HN505NI506CR507PA508PM\
    509HT590**591BO592GY593EC594GF595PY596MQ597SR598UY599**670TL672NF673BN674NR675PG\
    676TO677SB678VU679FJ680PW681WF682CK683NU685WS686KI687NC688TV689PF690TK691FM692MH\
    850KP852HK853MO855KH856LA880BD886TW960MV961LB962JO963SY964IQ965KW966SA967YE968OM\
    970PS971AE972IL973BH974QA975BT976MN977NP992TJ993TM994AZ995GE996KG998UZ\
";

/// `CODES` by code, 0 to 999, read once. Calling codes are 1 to 3 digits and none is a
/// prefix of another, so `country_with` takes the first that is assigned.
static BY_CODE: LazyLock<Vec<Code>> = LazyLock::new(|| {
    let mut by_code = vec![Code::Unassigned; 1000];
    for entry in CODES.as_bytes().chunks_exact(5) {
        let number = entry[..3].iter().fold(0, |total, digit| {
            total * 10 + usize::from(digit.wrapping_sub(b'0'))
        });
        let said = match &entry[3..] {
            b"**" => Code::Shared,
            letters => std::str::from_utf8(letters)
                .ok()
                .and_then(CountryCode::parse)
                .map_or(Code::Unassigned, Code::Country),
        };
        if let Some(slot) = by_code.get_mut(number) {
            *slot = said;
        }
    }
    by_code
});

/// What calling code `number` says by itself (`Unassigned` past 999).
pub(super) fn code(number: usize) -> Code {
    BY_CODE.get(number).copied().unwrap_or(Code::Unassigned)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rlibphonenumber::PHONE_NUMBER_UTIL;

    /// What the library says of `number`: the countries of its regions (non-geographic
    /// codes have a region of no country).
    fn library_code(number: usize) -> Code {
        let countries: Vec<CountryCode> = i32::try_from(number)
            .ok()
            .and_then(|number| PHONE_NUMBER_UTIL.get_regions_for_country_calling_code(number))
            .map(|regions| {
                regions
                    .filter_map(|region| CountryCode::parse(&region.to_string()))
                    .collect()
            })
            .unwrap_or_default();
        match countries.as_slice() {
            [] => Code::Unassigned,
            [one] => Code::Country(*one),
            _ => Code::Shared,
        }
    }

    #[test]
    fn every_code_says_what_the_library_says() {
        let differ: Vec<String> = (0..1000)
            .filter(|number| code(*number) != library_code(*number))
            .map(|number| {
                format!(
                    "+{number}: {:?}, library {:?}",
                    code(number),
                    library_code(number)
                )
            })
            .collect();
        assert!(differ.is_empty(), "{differ:#?}");
        assert_eq!(code(1000), Code::Unassigned);
    }

    #[test]
    fn the_table_is_sorted_and_well_formed() {
        assert_eq!(CODES.len() % 5, 0);
        let entries: Vec<&[u8]> = CODES.as_bytes().chunks(5).collect();
        assert!(entries.windows(2).all(|pair| pair[0][..3] < pair[1][..3]));
        for entry in entries {
            assert!(entry[..3].iter().all(u8::is_ascii_digit), "{entry:?}");
            assert!(
                &entry[3..] == b"**" || entry[3..].iter().all(u8::is_ascii_uppercase),
                "{entry:?}"
            );
        }
    }

    /// Prints `CODES` from the library:
    /// `cargo test --lib print_calling_code_table -- --ignored --nocapture`.
    #[test]
    #[ignore = "writes the table; run by hand when rlibphonenumber's metadata changes"]
    fn print_calling_code_table() {
        let mut table = String::new();
        for number in 0..1000 {
            match library_code(number) {
                Code::Unassigned => {}
                Code::Country(country) => table.push_str(&format!("{number:03}{country}")),
                Code::Shared => table.push_str(&format!("{number:03}**")),
            }
        }
        for line in table.as_bytes().chunks(80) {
            println!("{}\\", String::from_utf8_lossy(line));
        }
    }
}
