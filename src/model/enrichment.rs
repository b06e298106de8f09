//! What the agent adds beside a row (never into it): the other party's country and
//! the directory attributes of the row's user.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

/// An ISO 3166-1 alpha-2 code, upper case (`US`, `CA`, `DO`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CountryCode([u8; 2]);

impl CountryCode {
    /// Two ASCII letters in either case; anything else is not a country code.
    pub fn parse(text: &str) -> Option<CountryCode> {
        match text.as_bytes() {
            [a, b] if a.is_ascii_alphabetic() && b.is_ascii_alphabetic() => Some(CountryCode([
                a.to_ascii_uppercase(),
                b.to_ascii_uppercase(),
            ])),
            _ => None,
        }
    }

    /// The code as text.
    pub fn as_str(&self) -> &str {
        // Both bytes are ASCII letters (checked in `parse`).
        std::str::from_utf8(&self.0).unwrap_or("ZZ")
    }
}

impl fmt::Display for CountryCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A user's directory attributes, keyed by the last segment of the attribute's path
/// (`employeeOrgData/costCenter` → `costCenter`); attributes the user lacks are absent.
/// The event's `user` object is rendered once, when the attributes are read.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UserAttributes {
    values: BTreeMap<String, String>,
    json: String,
    /// `department` and `costCenter`, found once: chargeback reads them for every row.
    department: Option<Box<str>>,
    cost_center: Option<Box<str>>,
}

impl UserAttributes {
    /// The attributes of one user.
    pub fn new(values: BTreeMap<String, String>) -> Self {
        let json = serde_json::to_string(&values).unwrap_or_else(|_| "{}".into());
        let department = values.get("department").map(|value| value.as_str().into());
        let cost_center = values.get("costCenter").map(|value| value.as_str().into());
        UserAttributes {
            values,
            json,
            department,
            cost_center,
        }
    }

    /// One attribute's value, when the user has it.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.values.get(key).map(String::as_str)
    }

    /// `department`, when the user has one (as `get("department")`, without a search).
    pub fn department(&self) -> Option<&str> {
        self.department.as_deref()
    }

    /// `costCenter` (`employeeOrgData/costCenter`), when the user has one.
    pub fn cost_center(&self) -> Option<&str> {
        self.cost_center.as_deref()
    }

    /// Every attribute the user has.
    pub fn values(&self) -> &BTreeMap<String, String> {
        &self.values
    }

    /// The attributes as a JSON object (the event's `user`).
    pub fn json(&self) -> &str {
        &self.json
    }
}

/// What the agent knows beside one row.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Enrichment {
    /// `other_party_country`: Graph's `otherPartyCountryCode`, or derived from the
    /// other party's number; `None` when it cannot be known.
    pub other_party_country: Option<CountryCode>,
    /// `user`: the row user's directory attributes; `None` when the user is unknown
    /// or the source has no directory.
    pub user: Option<Arc<UserAttributes>>,
}

impl Enrichment {
    #[cfg(any(test, feature = "__internals"))]
    /// Nothing known beside the row.
    pub const NONE: Enrichment = Enrichment {
        other_party_country: None,
        user: None,
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_country_code_is_two_letters_upper_cased() {
        assert_eq!(
            CountryCode::parse("us").map(|c| c.to_string()),
            Some("US".into())
        );
        assert_eq!(CountryCode::parse("USA"), None);
        assert_eq!(CountryCode::parse("1"), None);
        assert_eq!(CountryCode::parse("é"), None);
    }
}
