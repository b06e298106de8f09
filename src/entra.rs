//! Entra ID client credentials, for whoever needs a token: the Graph client (scope
//! `{graph_url}/.default`) and the Azure Monitor Logs Ingestion sink (scope
//! `https://monitor.azure.com//.default`). A secret or a certificate-signed assertion
//! in, a cached bearer token out, refreshed before it expires.
//!
//! entra reaches nothing of the crate but `model` (the [`Secret`](crate::model::Secret)
//! type): graph and sinks both use it, neither through the other.

pub mod assertion;
pub mod sign_in;
mod token;

pub use assertion::{
    AssertionAlgorithm, AssertionSigner, check_certificate_and_key, check_certificate_file,
    check_private_key_file,
};
pub use token::{AccessToken, AuthError, CredentialMaterial, TokenSource};

/// Told about every token request, so the caller can count them (the agent's metrics
/// do for Graph) without entra knowing of metrics.
pub trait TokenEvents: Send + Sync + 'static {
    /// A token was asked for; `succeeded` says whether one came back.
    fn token_requested(&self, succeeded: bool);
}

/// Token requests nobody counts.
#[derive(Debug, Clone, Copy, Default)]
pub struct IgnoreTokenEvents;

impl TokenEvents for IgnoreTokenEvents {
    fn token_requested(&self, _succeeded: bool) {}
}

pub use crate::http_client::error_chain;
