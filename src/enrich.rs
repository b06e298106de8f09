//! What the agent adds beside a row: the other party's country (from Graph's
//! `otherPartyCountryCode`, else from the other party's number) and, with a
//! `[sources.NAME.directory]`, the user's directory attributes. The row itself is
//! never changed.

mod country;
mod directory;

pub use country::country_of_number;
pub use directory::{attributes_from_bytes, is_removed, merge_user};

use crate::model::{CountryCode, Row};

/// The other party's country: Graph's `otherPartyCountryCode` when the row has a
/// readable one (beta), otherwise derived from the other party's number.
pub fn other_party_country(row: &Row<'_>) -> Option<CountryCode> {
    row.other_party_country
        .as_deref()
        .and_then(CountryCode::parse)
        .or_else(|| country_of_number(row.other_party_number.as_deref()?))
}
