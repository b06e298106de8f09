//! Telephone numbers that libphonenumber accepts, for every country the simulated
//! tenant calls: NANP numbers of several countries (US, CA, DO, JM) by area code, and
//! one or two number ranges elsewhere. One draw per number.

use super::random::CallRandom;

/// (country, number prefixes with the calling code, digits after the prefix)
const PLANS: &[(&str, &[&str], u32)] = &[
    ("US", &["16502", "12122", "14252", "13122"], 6),
    ("CA", &["14162", "16042", "15142"], 6),
    ("DO", &["18092", "18292"], 6),
    ("JM", &["187693"], 5),
    ("GB", &["44207", "44208"], 7),
    ("DE", &["4930", "4989"], 7),
    ("FR", &["3314", "3342"], 7),
    ("ES", &["3491"], 7),
    ("NO", &["4722"], 6),
    ("SE", &["468"], 7),
    ("JP", &["8135"], 7),
    ("AU", &["6129"], 7),
    ("IN", &["9198"], 8),
    ("CU", &["537"], 7),
    ("SO", &["25261"], 7),
    ("MX", &["5255"], 8),
    ("BR", &["55119"], 8),
    ("IT", &["3906"], 8),
];

/// A number of `country` (ISO 3166 alpha-2) in E.164; an unknown country gets a US one.
pub(super) fn number(random: &mut CallRandom, country: &str) -> String {
    let (_, prefixes, digits) = PLANS
        .iter()
        .find(|plan| plan.0 == country)
        .unwrap_or(&PLANS[0]);
    let draw = random.next_u64();
    let prefix = prefixes[(draw % prefixes.len() as u64) as usize];
    let rest = (draw / prefixes.len() as u64) % 10u64.pow(*digits);
    format!("+{prefix}{rest:0width$}", width = *digits as usize)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_simulated_number_resolves_to_its_own_country() {
        let mut random = CallRandom::new(7, 1, 0);
        for (country, _, _) in PLANS {
            for _ in 0..50 {
                let number = number(&mut random, country);
                let found = crate::enrich::country_of_number(&number).map(|code| code.to_string());
                assert_eq!(found.as_deref(), Some(*country), "{number}");
                let valid = rlibphonenumber::PhoneNumber::parse(&number, None)
                    .is_ok_and(|parsed| parsed.is_valid());
                assert!(valid, "{number} is not a valid number of {country}");
            }
        }
    }
}
