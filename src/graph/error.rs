//! Everything that can go wrong talking to Graph, sorted by what to do about it.

use super::{AuthError, FailureReason, PageError};
use std::time::Duration;

/// A failed Graph request, after the client's own retries.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum GraphError {
    /// No token: see [`AuthError`].
    #[error(transparent)]
    Auth(#[from] AuthError),
    /// 429 for longer than the client is willing to wait.
    #[error("Graph kept throttling (429) for over {0:?}")]
    Throttled(Duration),
    /// 500/502/503/504: Graph's side, transient.
    #[error("Graph answered HTTP {status}: {message}")]
    Unavailable {
        /// HTTP status.
        status: u16,
        /// Graph's error code and message.
        message: String,
    },
    /// 403: the application role is missing or not consented.
    #[error(
        "Graph refused access (403 Forbidden) to {function}: the application needs the application permission CallRecords.Read.All (or CallRecord-PstnCalls.Read.All) with admin consent granted in tenant {tenant}"
    )]
    Forbidden {
        /// The function called.
        function: &'static str,
        /// The tenant.
        tenant: String,
    },
    /// 403 on `/users`: the directory needs its own application permission.
    #[error(
        "Graph refused access (403 Forbidden) to the directory (/users): the application needs the application permission User.Read.All with admin consent granted in tenant {tenant}; until then events go out without `user`"
    )]
    DirectoryForbidden {
        /// The tenant.
        tenant: String,
    },
    /// 401 again with a freshly issued token.
    #[error("Graph refused a freshly issued token (401): {0}")]
    Unauthorized(String),
    /// Any other 4xx (400, 404, 406...): the request itself is wrong; retrying cannot help.
    #[error("Graph refused GET {url} with HTTP {status}: {message}")]
    Refused {
        /// HTTP status.
        status: u16,
        /// What was asked, without its query (a 404 is most often a wrong `graph_url`).
        url: String,
        /// Graph's error code and message.
        message: String,
    },
    /// Connection refused/reset, timeout, truncated transfer.
    #[error("network error talking to Graph: {0}")]
    Network(String),
    /// The body was larger than the configured cap.
    #[error("response body exceeded {0} bytes")]
    BodyTooLarge(usize),
    /// The body was not a page of rows (garbled or cut short).
    #[error(transparent)]
    UnreadableBody(#[from] PageError),
    /// An `@odata.nextLink` pointing at another scheme, host or port.
    #[error(
        "refused to follow @odata.nextLink to {origin}: it is not the configured Graph origin {expected}, and the token is only ever sent there"
    )]
    ForeignNextLink {
        /// Scheme, host and port of the link.
        origin: String,
        /// Scheme, host and port of `graph_url`.
        expected: String,
    },
    /// An `@odata.nextLink` that is not a URL, or carries credentials.
    #[error("refused to follow @odata.nextLink: {0}")]
    BadNextLink(String),
    /// A page chain that loops back or never ends.
    #[error("stopped paging: {0}")]
    EndlessPaging(String),
}

impl GraphError {
    /// Whether another attempt of the same request may succeed.
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            GraphError::Auth(AuthError::Unavailable(_))
                | GraphError::Unavailable { .. }
                | GraphError::Network(_)
                | GraphError::UnreadableBody(_)
        )
    }

    /// Whether the source should stop for good: the credentials themselves are wrong.
    pub fn stops_source(&self) -> bool {
        matches!(
            self,
            GraphError::Auth(AuthError::SignInRefused(_) | AuthError::Assertion(_))
        )
    }

    /// Why it failed, as a bounded label value.
    pub fn reason(&self) -> FailureReason {
        match self {
            GraphError::Auth(_) => FailureReason::Auth,
            GraphError::Throttled(_) => FailureReason::Throttled,
            GraphError::Unavailable { .. } => FailureReason::ServerError,
            GraphError::Forbidden { .. } | GraphError::DirectoryForbidden { .. } => {
                FailureReason::Forbidden
            }
            GraphError::Unauthorized(_) => FailureReason::Unauthorized,
            GraphError::Refused { .. } => FailureReason::Refused,
            GraphError::Network(_) => FailureReason::Network,
            GraphError::BodyTooLarge(_) => FailureReason::BodyTooLarge,
            GraphError::UnreadableBody(_) => FailureReason::UnreadableBody,
            GraphError::ForeignNextLink { .. } => FailureReason::ForeignNextLink,
            GraphError::BadNextLink(_) => FailureReason::BadNextLink,
            GraphError::EndlessPaging(_) => FailureReason::EndlessPaging,
        }
    }
}

#[cfg(any(test, feature = "__internals"))]
pub use crate::entra::error_chain;
