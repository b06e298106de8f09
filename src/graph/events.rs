//! What graph reports about its own work, as named events. graph knows nothing of
//! metrics: whoever builds a client hands it a [`GraphEvents`] (the agent's metrics
//! implement it), the way Vector's components emit named internal events.

use std::fmt::Debug;
use std::time::Duration;

/// Why a Graph request (or a page chain) failed: one closed set, used both to label
/// failures and to pre-register their series, so a new reason is one edit here.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FailureReason {
    /// No token could be had from Entra ID.
    Auth,
    /// 429 from Graph.
    Throttled,
    /// 500, 502, 503 or 504.
    ServerError,
    /// 403: the application role is missing.
    Forbidden,
    /// 401, even with a fresh token.
    Unauthorized,
    /// Any other 4xx.
    Refused,
    /// Connection refused or reset, timeout, cut transfer.
    Network,
    /// A body over the size cap.
    BodyTooLarge,
    /// A body that is not a page of rows.
    UnreadableBody,
    /// An `@odata.nextLink` to another origin.
    ForeignNextLink,
    /// An `@odata.nextLink` that is not a usable URL.
    BadNextLink,
    /// A page chain that loops or never ends.
    EndlessPaging,
}

impl FailureReason {
    /// Every reason, for pre-registering one series each.
    pub const ALL: [FailureReason; 12] = [
        FailureReason::Auth,
        FailureReason::Throttled,
        FailureReason::ServerError,
        FailureReason::Forbidden,
        FailureReason::Unauthorized,
        FailureReason::Refused,
        FailureReason::Network,
        FailureReason::BodyTooLarge,
        FailureReason::UnreadableBody,
        FailureReason::ForeignNextLink,
        FailureReason::BadNextLink,
        FailureReason::EndlessPaging,
    ];

    /// The label value (bounded, stable: dashboards and alerts use it).
    pub fn as_str(self) -> &'static str {
        match self {
            FailureReason::Auth => "auth",
            FailureReason::Throttled => "throttled",
            FailureReason::ServerError => "server_error",
            FailureReason::Forbidden => "forbidden",
            FailureReason::Unauthorized => "unauthorized",
            FailureReason::Refused => "refused",
            FailureReason::Network => "network",
            FailureReason::BodyTooLarge => "body_too_large",
            FailureReason::UnreadableBody => "unreadable_body",
            FailureReason::ForeignNextLink => "foreign_next_link",
            FailureReason::BadNextLink => "bad_next_link",
            FailureReason::EndlessPaging => "endless_paging",
        }
    }

    /// The reason for an HTTP answer other than 200.
    pub fn of_status(status: u16) -> FailureReason {
        match status {
            401 => FailureReason::Unauthorized,
            403 => FailureReason::Forbidden,
            429 => FailureReason::Throttled,
            500 | 502 | 503 | 504 => FailureReason::ServerError,
            _ => FailureReason::Refused,
        }
    }
}

/// One thing graph did that its owner may want to count.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum GraphEvent {
    /// One HTTP request to Graph finished, with an answer or without: `failure` is set
    /// unless the answer was 200.
    RequestFinished {
        /// Time from sending to the end of the body.
        took: Duration,
        /// Why it failed, if it did.
        failure: Option<FailureReason>,
    },
    /// Something other than an HTTP answer failed (a body, a next link, a chain).
    Failed(FailureReason),
    /// A failed request is being sent again.
    Retrying,
    /// A token request to Entra ID finished.
    TokenRequested {
        /// Whether a token came back.
        succeeded: bool,
    },
}

/// Receives graph's events; implemented by the agent's metrics.
pub trait GraphEvents: Send + Sync + Debug {
    /// One event happened.
    fn emit(&self, event: GraphEvent);
}

#[cfg(any(test, feature = "__internals"))]
/// Events nobody listens to (embedding programs and tests that do not count).
#[derive(Debug, Default, Clone, Copy)]
pub struct IgnoreEvents;

#[cfg(any(test, feature = "__internals"))]
impl GraphEvents for IgnoreEvents {
    fn emit(&self, _event: GraphEvent) {}
}
