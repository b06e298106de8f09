//! Microsoft Graph's call-log functions: authentication, paging, retries, and rows.

pub(crate) mod assertion;
pub(crate) mod auth;
mod client;
mod error;
mod kind;
mod page;
mod row;

pub use assertion::{AssertionAlgorithm, check_certificate_file, check_private_key_file};
pub use auth::{AuthError, TokenSource};
pub use client::{GraphClient, GraphClientOptions, GraphEndpoint, RetryPolicy};
pub use error::{GraphError, error_chain};
pub use kind::CallKind;
pub use page::{Page, PageError};
pub use row::{Amount, BadRow, DedupeKey, Row};

/// Which Graph API version the functions are called under.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ApiVersion {
    /// `v1.0`, the stable API.
    V1,
    /// `beta`, which adds fields such as `otherPartyCountryCode`.
    Beta,
}

impl ApiVersion {
    /// Reads `v1.0` or `beta`.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "v1.0" => Some(ApiVersion::V1),
            "beta" => Some(ApiVersion::Beta),
            _ => None,
        }
    }

    /// The path segment.
    pub fn as_str(self) -> &'static str {
        match self {
            ApiVersion::V1 => "v1.0",
            ApiVersion::Beta => "beta",
        }
    }
}
