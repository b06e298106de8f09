//! Where a source's requests go: `graph_url` and the function, and the check every
//! link Graph hands back passes before the token follows it.

use super::GraphError;
use super::paging::request_edges;
use crate::model::{ApiVersion, LogKind, Timestamp};
use url::Url;

/// Where a source's requests go.
#[derive(Debug, Clone)]
pub struct GraphEndpoint {
    /// `graph_url`: the only origin that ever sees the token.
    pub base: Url,
    /// `v1.0` or `beta`.
    pub version: ApiVersion,
    /// Which function.
    pub kind: LogKind,
    /// The tenant, for messages.
    pub tenant_id: String,
}

impl GraphEndpoint {
    /// The first page of a window of start times `[from, to)`, with the edges its
    /// function wants.
    pub fn window_url(&self, from: Timestamp, to: Timestamp) -> Result<Url, GraphError> {
        let (from, to) = request_edges(self.kind, from, to);
        let base = self.base.as_str().trim_end_matches('/');
        let text = format!(
            "{base}/{}/communications/callRecords/{}(fromDateTime={from},toDateTime={to})",
            self.version.as_str(),
            self.kind.function()
        );
        Url::parse(&text).map_err(|error| GraphError::BadNextLink(error.to_string()))
    }

    fn origin(url: &Url) -> String {
        format!(
            "{}://{}:{}",
            url.scheme(),
            url.host_str().unwrap_or(""),
            url.port_or_known_default().unwrap_or(0)
        )
    }

    /// Accepts an `@odata.nextLink` only if it points at `graph_url`'s own origin and
    /// carries no credentials of its own.
    pub fn check_next_link(&self, link: &str) -> Result<Url, GraphError> {
        let url = Url::parse(link).map_err(|error| GraphError::BadNextLink(error.to_string()))?;
        if !url.username().is_empty() || url.password().is_some() {
            return Err(GraphError::BadNextLink(
                "it carries a user name or password".into(),
            ));
        }
        let (origin, expected) = (Self::origin(&url), Self::origin(&self.base));
        if origin != expected {
            return Err(GraphError::ForeignNextLink { origin, expected });
        }
        Ok(url)
    }
}
