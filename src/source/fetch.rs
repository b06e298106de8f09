//! Fetching the pages of several windows at once. Within a window pages follow their
//! `@odata.nextLink` chain one after another; across windows the chains run side by
//! side, all under the source's rate cap and Retry-After gate, so a backfill is
//! limited by the source's pace (`requests_per_minute`) rather than by Graph's latency. The source still
//! delivers and commits one page at a time, in whatever order pages arrive.
//!
//! The chains share a budget of pages ahead of the source ([`PAGES_AHEAD`]): a chain
//! asks for its next page only with a share of it, held until the source takes the
//! page, so a fast Graph (or a load test) meets a slower source with a few pages
//! waiting, not one per chain (each about 1 MB with its buffers).

use super::SourceError;
use crate::graph::{ChainPage, GraphClient, GraphError, Page};
use crate::planner::Window;
use std::sync::Arc;
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc};
use tokio::task::JoinSet;

/// Pages fetched or being fetched ahead of the one the source is delivering, at most,
/// whatever the number of chains. Two keep the source busy while the next one comes:
/// the process bench's 8 chains on loopback go as fast (issue 28, step 3 in
/// BENCHMARKS.md) with about 5 MB less peak RSS. At Graph's pace (50 requests a
/// minute) a source has two chains, each already holding at most one page.
pub(super) const PAGES_AHEAD: usize = 2;

/// What a chain hands over: its page (or the error that ended it) and its share of
/// the budget, given back when the source takes the page.
type Handover = (Result<FetchedPage, GraphError>, OwnedSemaphorePermit);

/// A page, the window it belongs to, and whether it is that window's last.
#[derive(Debug)]
pub(super) struct FetchedPage {
    pub(super) window: usize,
    pub(super) page: Page,
    pub(super) last: bool,
}

/// Runs the fetch tasks of one poll; dropping it stops them.
#[derive(Debug)]
pub(super) struct Fetcher {
    client: Arc<GraphClient>,
    windows: Vec<Window>,
    started: usize,
    tasks: JoinSet<()>,
    ahead: Arc<Semaphore>,
    sender: mpsc::Sender<Handover>,
    receiver: mpsc::Receiver<Handover>,
}

impl Fetcher {
    /// Starts fetching the first `concurrency` windows.
    pub(super) fn new(client: Arc<GraphClient>, windows: Vec<Window>, concurrency: usize) -> Self {
        // A chain holds its next page until the source takes it; the budget bounds
        // how many chains do at once.
        let (sender, receiver) = mpsc::channel(1);
        let mut fetcher = Fetcher {
            client,
            windows,
            started: 0,
            tasks: JoinSet::new(),
            ahead: Arc::new(Semaphore::new(PAGES_AHEAD)),
            sender,
            receiver,
        };
        for _ in 0..concurrency.max(1) {
            fetcher.start_next();
        }
        fetcher
    }

    /// A window is done: start the next one, if any.
    pub(super) fn start_next(&mut self) {
        let Some(window) = self.windows.get(self.started).cloned() else {
            return;
        };
        let index = self.started;
        self.started += 1;
        self.tasks.spawn(fetch_window(
            self.client.clone(),
            index,
            window,
            self.ahead.clone(),
            self.sender.clone(),
        ));
    }

    /// The next page from any running window, or the error that stopped one. A fetch
    /// task that died (a panic) fails the poll at once instead of leaving it waiting
    /// for a page that never comes.
    pub(super) async fn next(&mut self) -> Result<FetchedPage, SourceError> {
        loop {
            tokio::select! {
                biased;
                item = self.receiver.recv() => {
                    return match item {
                        // Taken: its share of the budget lets another page come.
                        Some((item, _share)) => item.map_err(SourceError::Graph),
                        // Unreachable while `self` holds a sender; kept total for safety.
                        None => Err(SourceError::Internal("page fetchers stopped".into())),
                    };
                }
                Some(joined) = self.tasks.join_next() => {
                    if let Err(error) = joined {
                        return Err(SourceError::Internal(format!("a page fetch task died: {error}")));
                    }
                }
            }
        }
    }
}

async fn fetch_window(
    client: Arc<GraphClient>,
    index: usize,
    window: Window,
    ahead: Arc<Semaphore>,
    sender: mpsc::Sender<Handover>,
) {
    let mut chain = client.pages(window.from, window.to);
    loop {
        // Never closed while the fetcher lives; an error means it is gone.
        let Ok(share) = ahead.clone().acquire_owned().await else {
            return;
        };
        let Some(fetched) = chain.next_page().await else {
            return;
        };
        let item = fetched.map(|ChainPage { page, last }| FetchedPage {
            window: index,
            page,
            last,
        });
        if sender.send((item, share)).await.is_err() {
            return;
        }
    }
}

#[cfg(test)]
mod tests;
