//! `v1.0` or `beta`: which Graph API version a source calls.

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
