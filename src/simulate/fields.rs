//! The simulated tenant's people and places, and the small writers of JSON values that
//! every kind of row uses (the call logs, SMS and blocks, the dial-out report).

use super::random::CallRandom;

pub(super) use super::numbers::number;

/// A user of the simulated tenant.
pub(super) struct User {
    pub(super) name: &'static str,
    pub(super) upn: &'static str,
    pub(super) country: &'static str,
}

pub(super) const USERS: &[User] = &[
    User {
        name: "Adele Vance",
        upn: "adele.vance",
        country: "US",
    },
    User {
        name: "Zoë Müller",
        upn: "zoe.mueller",
        country: "DE",
    },
    User {
        name: "José Álvarez",
        upn: "jose.alvarez",
        country: "ES",
    },
    User {
        name: "李娜",
        upn: "li.na",
        country: "US",
    },
    User {
        name: "Ørjan Åsheim",
        upn: "orjan.asheim",
        country: "NO",
    },
    User {
        name: "Siobhán Ó Briain",
        upn: "siobhan.obriain",
        country: "GB",
    },
    User {
        name: "Richard Malk",
        upn: "richard.malk",
        country: "US",
    },
    User {
        name: "Amélie Dubois",
        upn: "amelie.dubois",
        country: "FR",
    },
    User {
        name: "Kenji Watanabe",
        upn: "kenji.watanabe",
        country: "JP",
    },
    User {
        name: "Priya Raman",
        upn: "priya.raman",
        country: "GB",
    },
    User {
        name: "Lars Nilsson",
        upn: "lars.nilsson",
        country: "SE",
    },
    User {
        name: "Olivia \"Liv\" Chen",
        upn: "olivia.chen",
        country: "AU",
    },
];

/// (country, calling code, currency, name, price per minute when called from abroad)
pub(super) const COUNTRIES: &[(&str, &str, &str, &str, f64)] = &[
    ("US", "1", "USD", "United States", 0.02),
    ("GB", "44", "GBP", "United Kingdom", 0.03),
    ("DE", "49", "EUR", "Germany", 0.03),
    ("FR", "33", "EUR", "France", 0.03),
    ("ES", "34", "EUR", "Spain", 0.04),
    ("NO", "47", "NOK", "Norway", 0.05),
    ("SE", "46", "SEK", "Sweden", 0.05),
    ("JP", "81", "JPY", "Japan", 0.09),
    ("AU", "61", "AUD", "Australia", 0.08),
    ("IN", "91", "USD", "India", 0.12),
    ("CU", "53", "USD", "Cuba", 1.10),
    ("SO", "252", "USD", "Somalia", 1.45),
    ("CA", "1", "CAD", "Canada", 0.02),
    ("DO", "1", "USD", "Dominican Republic", 0.25),
    ("JM", "1", "USD", "Jamaica", 0.30),
    ("MX", "52", "MXN", "Mexico", 0.06),
    ("BR", "55", "BRL", "Brazil", 0.08),
    ("IT", "39", "EUR", "Italy", 0.03),
];

/// The row of `code` in [`COUNTRIES`] (the first, the US, for an unknown code).
pub(super) fn country(
    code: &str,
) -> &'static (&'static str, &'static str, &'static str, &'static str, f64) {
    COUNTRIES
        .iter()
        .find(|c| c.0 == code)
        .unwrap_or(&COUNTRIES[0])
}

/// A random version-4 GUID, as Graph writes ids.
pub(super) fn guid(random: &mut CallRandom) -> String {
    let (a, b) = (random.next_u64(), random.next_u64());
    format!(
        "{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}",
        a >> 32,
        (a >> 16) & 0xFFFF,
        a & 0xFFF,
        ((b >> 48) & 0x3FFF) | 0x8000,
        b & 0xFFFF_FFFF_FFFF
    )
}

/// `text` as a JSON string.
pub(super) fn quoted(text: &str) -> String {
    serde_json::to_string(text).unwrap_or_else(|_| "null".into())
}

/// `value` as a JSON string, or `null`.
pub(super) fn optional(value: Option<String>) -> String {
    value
        .map(|text| quoted(&text))
        .unwrap_or_else(|| "null".into())
}

/// An amount in `currency` (yen without decimals), as a JSON number or string.
pub(super) fn money(amount: f64, currency: &str, as_string: bool) -> String {
    let text = if currency == "JPY" {
        format!("{:.0}", amount * 150.0)
    } else {
        format!("{amount:.2}")
    };
    if as_string {
        format!("\"{text}\"")
    } else {
        text
    }
}
