//! Reading one window to its end: the first page's URL with the edges its function
//! wants, then each `@odata.nextLink`, vetted before it is followed. A link to another
//! origin, a link carrying credentials, a link seen before in the same chain, or more
//! pages than any tenant needs end the chain with an error; the pages already read
//! stay read (their rows were delivered), and the window is read again next poll.

use super::{GraphClient, GraphError, GraphEvent, Page};
use crate::model::Timestamp;
use std::collections::HashSet;
use std::sync::Arc;
use url::Url;

/// More pages than this in one window end it as failed (the default of
/// `GraphClientOptions::max_pages_per_window`). A window spans at most a day,
/// and pages hold up to 1,000 rows: 10,000 pages are 10 million calls in one day, far
/// beyond any tenant, while a chain that never ends is stopped within minutes.
pub const MAX_PAGES_PER_WINDOW: usize = 10_000;

/// One page of a chain, and whether it is the window's last.
#[derive(Debug)]
pub struct ChainPage {
    /// The page.
    pub page: Page,
    /// No `@odata.nextLink` follows: the window is read to its end.
    pub last: bool,
}

/// The pages of one window, fetched one after another (Graph's paging is sequential).
#[derive(Debug)]
pub struct PageChain {
    client: Arc<GraphClient>,
    next: Option<Result<Url, GraphError>>,
    followed: FollowedLinks,
}

/// The links one chain of pages has followed, so the next one can be vetted: same
/// origin as `graph_url` and no credentials (`check_next_link`), not a page already
/// read, not past the page cap. Shared by the call-log and the directory chains.
#[derive(Debug, Default)]
pub(super) struct FollowedLinks {
    seen: HashSet<String>,
    pages: usize,
}

impl FollowedLinks {
    /// Notes a page read from `url`.
    pub(super) fn read(&mut self, url: Url) {
        self.pages += 1;
        self.seen.insert(url.into());
    }

    /// Pages read so far.
    pub(super) fn pages(&self) -> usize {
        self.pages
    }

    /// Checks `link` before it is followed, counting what is refused; `chain` names
    /// the chain in the error (`"one window"`, `"one round of /users/delta"`).
    pub(super) fn vet(
        &self,
        client: &GraphClient,
        link: &str,
        chain: &str,
    ) -> Result<Url, GraphError> {
        let checked = client.endpoint().check_next_link(link).and_then(|url| {
            if self.seen.contains(url.as_str()) {
                Err(GraphError::EndlessPaging(format!(
                    "@odata.nextLink points at a page already read in {chain}"
                )))
            } else if self.pages >= client.max_pages_per_window() {
                Err(GraphError::EndlessPaging(format!(
                    "more than {} pages in {chain}",
                    client.max_pages_per_window()
                )))
            } else {
                Ok(url)
            }
        });
        if let Err(error) = &checked {
            client.emit(GraphEvent::Failed(error.reason()));
        }
        checked
    }
}

impl PageChain {
    pub(super) fn new(client: Arc<GraphClient>, from: Timestamp, to: Timestamp) -> Self {
        let first = client.endpoint().window_url(from, to);
        PageChain {
            client,
            next: Some(first),
            followed: FollowedLinks::default(),
        }
    }

    /// The next page; `None` once the last page was returned or an error ended the chain.
    pub async fn next_page(&mut self) -> Option<Result<ChainPage, GraphError>> {
        let url = match self.next.take()? {
            Ok(url) => url,
            Err(error) => return Some(Err(error)),
        };
        let page = match self.client.get_page(&url).await {
            Ok(page) => page,
            Err(error) => return Some(Err(error)),
        };
        self.followed.read(url);
        self.next = page
            .next_link()
            .map(|link| self.followed.vet(&self.client, link, "one window"));
        let last = self.next.is_none();
        tracing::debug!(
            rows = page.len(),
            page = self.followed.pages(),
            last,
            "page read"
        );
        Some(Ok(ChainPage { page, last }))
    }
}

/// The `fromDateTime` and `toDateTime` to send for start times `[from, to)`: Graph's
/// `toDateTime` is inclusive for some functions, so their end moves back one tick.
pub fn request_edges(
    kind: crate::model::LogKind,
    from: Timestamp,
    to: Timestamp,
) -> (Timestamp, Timestamp) {
    if kind.to_is_inclusive() {
        (from, to.previous_tick())
    } else {
        (from, to)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::LogKind;

    #[test]
    fn an_inclusive_end_moves_back_one_tick_and_an_exclusive_one_stays() {
        let from = Timestamp::parse("2024-05-01T00:00:00Z").unwrap();
        let to = Timestamp::parse("2024-05-02T00:00:00Z").unwrap();
        let (sent_from, sent_to) = request_edges(LogKind::Pstn, from, to);
        assert_eq!(sent_from.to_string(), "2024-05-01T00:00:00.0000000Z");
        assert_eq!(sent_to.to_string(), "2024-05-01T23:59:59.9999999Z");
        let (_, sent_to) = request_edges(LogKind::DirectRouting, from, to);
        assert_eq!(sent_to.to_string(), "2024-05-02T00:00:00.0000000Z");
    }
}
