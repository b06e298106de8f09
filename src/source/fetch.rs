//! Fetching the pages of several windows at once. Within a window pages follow their
//! `@odata.nextLink` chain one after another; across windows the chains run side by
//! side, all under the source's rate cap and Retry-After gate, so a backfill is
//! limited by the source's pace (`requests_per_minute`) rather than by Graph's latency. The source still
//! delivers and commits one page at a time, in whatever order pages arrive.

use super::SourceError;
use crate::graph::{ChainPage, GraphClient, GraphError, Page};
use crate::planner::Window;
use std::sync::Arc;
use tokio::sync::mpsc;
use tokio::task::JoinSet;

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
    sender: mpsc::Sender<Result<FetchedPage, GraphError>>,
    receiver: mpsc::Receiver<Result<FetchedPage, GraphError>>,
}

impl Fetcher {
    /// Starts fetching the first `concurrency` windows.
    pub(super) fn new(client: Arc<GraphClient>, windows: Vec<Window>, concurrency: usize) -> Self {
        // One page waiting in all: a chain holds its next page until the source takes
        // it, so memory is about one page per chain, not a queue of them.
        let (sender, receiver) = mpsc::channel(1);
        let mut fetcher = Fetcher {
            client,
            windows,
            started: 0,
            tasks: JoinSet::new(),
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
                        Some(item) => item.map_err(SourceError::Graph),
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
    sender: mpsc::Sender<Result<FetchedPage, GraphError>>,
) {
    let mut chain = client.pages(window.from, window.to);
    while let Some(fetched) = chain.next_page().await {
        let item = fetched.map(|ChainPage { page, last }| FetchedPage {
            window: index,
            page,
            last,
        });
        if sender.send(item).await.is_err() {
            return;
        }
    }
}
