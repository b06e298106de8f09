//! Microsoft Graph's call-log functions: authentication, paging, retries, and rows.

pub(crate) mod assertion;
pub(crate) mod auth;
mod client;
mod error;
mod page;

pub use assertion::{AssertionAlgorithm, check_certificate_file, check_private_key_file};
pub use auth::{AuthError, TokenSource};
pub use client::{GraphClient, GraphClientOptions, GraphEndpoint};
pub use error::{GraphError, error_chain};
pub use page::{Page, PageError};
