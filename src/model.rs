//! What every part of the agent shares: the kinds of log and their rules, the raw row
//! and its typed view, dedupe keys, amounts, what is added beside a row, the API version and Graph's instants.
//!
//! This module imports nothing else of the crate, so graph, state, sinks and the
//! simulator can all use it without reaching each other.

mod amount;
mod api_version;
mod bad_row;
mod content_key;
mod dedupe;
mod dialout;
mod directory_attribute;
mod enrichment;
mod fields;
pub mod graph_limits;
pub mod json_text;
mod kind;
mod row;
mod secret;
mod timestamp;

pub use amount::{Amount, MICROS_PER_UNIT};
pub use api_version::ApiVersion;
pub use bad_row::BadRow;
pub use bad_row::MAX_ROW_DEPTH;
pub use dedupe::DedupeKey;
pub use dialout::{DialoutRow, DialoutTotals, day_start, day_text, next_day};
#[cfg(test)]
pub use directory_attribute::DEFAULT_DIRECTORY_ATTRIBUTES;
pub use directory_attribute::{DIRECTORY_ATTRIBUTES, DirectoryAttribute, directory_select};
pub use enrichment::{CountryCode, Enrichment, UserAttributes};
pub use kind::{LogKind, MissingKey, OtherParty};
pub use row::{FieldSpans, Row};
pub use secret::Secret;
#[cfg(any(test, feature = "__internals"))]
pub use timestamp::TimestampError;
pub use timestamp::{Timestamp, duration_to_ticks};
