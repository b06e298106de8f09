//! The NANP area codes whose every valid number libphonenumber places in one country,
//! written out from its metadata so that the lookup compiles none of its regexes (they
//! were 12.6 MB of a 30 MB heap, issue 28). `tests` checks it against the library.

use crate::model::CountryCode;

/// Three-digit area code then the country's two letters, ascending by area code. 800
/// is left out by hand: its numbers are US (toll-free) or DO (`8001...`) by more than
/// the area code, which `print_nanp_table`'s two subscriber numbers did not show.
const NANP: &str = "\
    201US202US203US204CA205US206US207US208US209US210US212US213US214US215US216US217US\
    218US219US220US223US224US225US226CA227US228US229US231US234US235US236CA239US240US\
    242BS246BB248US249CA250CA251US252US253US254US256US257CA260US262US263CA264AI267US\
    268AG269US270US272US273CA274US276US279US281US283US284VG289CA301US302US303US304US\
    305US306CA307US308US309US310US312US313US314US315US316US317US318US319US320US321US\
    323US324US325US326US327US329US330US331US332US334US336US337US339US340VI341US343CA\
    345KY346US347US350US351US352US353US354CA360US361US363US364US365CA367CA368CA369US\
    380US382CA385US386US401US402US403CA404US405US406US407US408US409US410US412US413US\
    414US415US416CA417US418CA419US423US424US425US428CA430US431CA432US434US435US437CA\
    438CA440US441BM442US443US445US447US448US450CA458US463US464US468CA469US470US472US\
    473GD474CA475US478US479US480US484US500US501US502US503US504US505US506CA507US508US\
    509US510US512US513US514CA515US516US517US518US519CA520US521US522US523US524US525US\
    526US527US528US529US530US531US532US533US534US539US540US541US544US548CA551US557US\
    559US561US562US563US564US566US567US570US571US572US573US574US575US577US579CA580US\
    581CA582US584CA585US586US587CA588US600CA601US602US603US604CA605US606US607US608US\
    609US610US612US613CA614US615US616US617US618US619US620US622CA623US626US628US629US\
    630US631US633CA636US639CA640US641US645US646US647CA649TC650US651US656US657US658JM\
    659US660US661US662US664MS667US669US670MP671GU672CA678US680US681US682US683CA684AS\
    686US689US701US702US703US704US705CA706US707US708US709CA712US713US714US715US716US\
    717US718US719US720US721SX724US725US726US727US728US730US731US732US734US737US738US\
    740US742CA743US747US748US753CA754US757US758LC760US762US763US765US767DM769US770US\
    771US772US773US774US775US778CA779US780CA781US782CA784VC785US786US787PR801US802US\
    803US804US805US806US807CA808US809DO810US812US813US814US815US816US817US818US819CA\
    820US821US825CA826US828US829DO830US831US832US833US835US838US839US840US843US844US\
    845US847US848US849DO850US854US855US856US857US858US859US860US862US863US864US865US\
    866US867CA868TT869KN870US872US873CA876JM877US878US879CA888US900US901US902CA903US\
    904US905CA906US907US908US909US910US912US913US914US915US916US917US918US919US920US\
    925US928US929US930US931US934US936US937US938US939PR940US941US942CA943US945US947US\
    948US949US951US952US954US956US959US970US971US972US973US975US978US979US980US983US\
    984US985US986US989US\
";

/// The country of every valid number of this NANP area code, when the table has it.
pub(super) fn nanp_area(area: usize) -> Option<CountryCode> {
    let entries = NANP.as_bytes();
    let (mut low, mut high) = (0, entries.len() / 5);
    while low < high {
        let middle = (low + high) / 2;
        let entry = &entries[middle * 5..middle * 5 + 5];
        let code = entry[..3]
            .iter()
            .fold(0, |total, digit| total * 10 + usize::from(digit - b'0'));
        match code.cmp(&area) {
            std::cmp::Ordering::Less => low = middle + 1,
            std::cmp::Ordering::Greater => high = middle,
            std::cmp::Ordering::Equal => {
                return std::str::from_utf8(&entry[3..])
                    .ok()
                    .and_then(CountryCode::parse);
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::super::{country_of_number, country_with, nanp_by_library, region_of};
    use super::*;

    /// Numbers whose country the table decides, and tricky ones it must leave alone:
    /// every area code with exchanges and subscriber numbers across their range, masked
    /// at several points, plus the simulator's kinds of numbers and shared codes.
    fn numbers() -> Vec<String> {
        let mut numbers = Vec::new();
        for area in 100..1000usize {
            for exchange in [0usize, 100, 211, 234, 411, 555, 611, 700, 911, 958, 999] {
                numbers.push(format!("+1{area}{exchange:03}{}", 1000 + area * 7 % 9000));
            }
            numbers.push(format!("+1{area}*******"));
            numbers.push(format!("+1{area}1******"));
            numbers.push(format!("+1{area}55*****"));
        }
        numbers.extend(
            [
                "+16502345678",
                "+12122345678",
                "+14162345678",
                "+18092345678",
                "+18769345678",
                "+1416555****",
                "+1809*******",
                "+14*********",
                "+1**********",
                "+1 (604) 555-0199",
                "+165023456789",
                "+1650234567",
                "+442071838750",
                "+44207******",
                "+441481723456",
                "+441534723456",
                "+441624723456",
                "+74951234567",
                "+77172123456",
                "+7495*******",
                "+390612345678",
                "+390669812345",
                "+4722123456",
                "+4779123456",
                "+61291234567",
                "+61891621234",
                "+262262123456",
                "+262269601234",
                "+358912345678",
                "+35818123456",
                "+5907001234",
                "+590590271234",
                "+4930123456",
                "+80012345678",
                "+1234567890123456789",
                "",
            ]
            .map(String::from),
        );
        numbers
    }

    /// The old NANP path without its memory: libphonenumber on this number alone.
    fn library_nanp(national: &[u8], masked: bool) -> Option<CountryCode> {
        if (!masked && national.len() != 10) || national.len() < 3 {
            return None;
        }
        nanp_by_library(national, masked)
    }

    /// The table's area code alone, for a number shaped like a NANP one.
    fn area_only(national: &[u8], masked: bool) -> Option<CountryCode> {
        if (!masked && national.len() != 10) || national.len() < 3 {
            return None;
        }
        nanp_area(
            national[..3]
                .iter()
                .fold(0, |total, digit| total * 10 + usize::from(*digit)),
        )
    }

    #[test]
    fn the_table_gives_each_number_the_country_the_library_gives_it() {
        let mut differ = Vec::new();
        for number in numbers() {
            let library = country_with(&number, library_nanp);
            let table = country_of_number(&number);
            // A number libphonenumber rejects in an area code the table has gets the
            // area code's country, as it did before once the area code had been seen
            // (the old per-area-code memory, now gone): the same answer in any order.
            let remembered = library.is_none() && country_with(&number, area_only) == table;
            if library != table && !remembered {
                differ.push(format!("{number}: library {library:?}, table {table:?}"));
            }
        }
        assert!(
            differ.is_empty(),
            "{} differ:\n{}",
            differ.len(),
            differ.join("\n")
        );
    }

    #[test]
    fn the_table_is_sorted_and_well_formed() {
        let entries = NANP.as_bytes().chunks(5).collect::<Vec<_>>();
        assert_eq!(NANP.len() % 5, 0);
        assert!(entries.windows(2).all(|pair| pair[0][..3] < pair[1][..3]));
        for entry in entries {
            let area = std::str::from_utf8(&entry[..3])
                .ok()
                .and_then(|area| area.parse().ok());
            assert_eq!(
                area.and_then(nanp_area)
                    .map(|country| country.to_string())
                    .as_deref(),
                std::str::from_utf8(&entry[3..]).ok()
            );
        }
        assert_eq!(nanp_area(199), None);
        assert_eq!(nanp_area(1000), None);
    }

    /// Prints `NANP` from the library: `cargo test --lib print_nanp_table -- --ignored --nocapture`.
    /// An area code is written only when libphonenumber accepts some of its numbers and
    /// places all of them (every exchange, two subscriber numbers each) in one country.
    #[test]
    #[ignore = "writes the table; run by hand when rlibphonenumber's metadata changes"]
    fn print_nanp_table() {
        let mut table = String::new();
        for area in 200..1000usize {
            let mut found = std::collections::BTreeSet::new();
            for exchange in 0..1000usize {
                for line in [1234usize, 9876] {
                    let whole = format!("{area}{exchange:03}{line:04}");
                    let digits: Vec<u8> = whole.bytes().map(|byte| byte - b'0').collect();
                    if let Some(country) = region_of(1, &digits) {
                        found.insert(country.to_string());
                    }
                }
            }
            if let [one] = found.iter().collect::<Vec<_>>().as_slice() {
                table.push_str(&format!("{area}{one}"));
            }
        }
        println!("{table}");
    }
}
