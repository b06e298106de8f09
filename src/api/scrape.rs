//! Where a scrape's text is written: on one thread of its own, for every scrape of
//! the listener. A thousand tenants' text is megabytes; written on whichever thread
//! was free (runtime workers, the blocking pool), each of glibc's arenas it landed in
//! kept about a scrape's worth once freed: scraped every 200 ms, 1,000 tenants peaked
//! at 214 MB against 105 MB unscraped (BENCHMARKS, "one thread writes every scrape").
//! One thread keeps that to one arena, and the polls' threads never wait for it.

use crate::metrics::Metrics;
use std::sync::Arc;
use std::sync::mpsc;
use tokio::sync::oneshot;

/// Asks the scrape thread for the text; cheap to clone.
#[derive(Debug, Clone)]
pub(super) struct Scraper {
    requests: mpsc::Sender<oneshot::Sender<String>>,
}

/// The scrape thread could not answer (it could not start, or encoding panicked).
#[derive(Debug)]
pub(super) struct ScrapeFailed;

impl Scraper {
    /// Starts the thread writing `metrics`' text; it ends with the last clone.
    pub(super) fn start(metrics: Arc<Metrics>) -> Scraper {
        let (requests, asked) = mpsc::channel::<oneshot::Sender<String>>();
        let started = std::thread::Builder::new()
            .name("pstn-scrape".into())
            .spawn(move || {
                for reply in asked {
                    let text =
                        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| metrics.encode()));
                    match text {
                        Ok(text) => {
                            let _ = reply.send(text);
                        }
                        Err(_) => tracing::error!("encoding metrics panicked"),
                    }
                }
            });
        if let Err(error) = started {
            tracing::error!(%error, "cannot start the scrape thread: /metrics answers 500");
        }
        Scraper { requests }
    }

    /// The text of every metric, written on the scrape thread.
    pub(super) async fn text(&self) -> Result<String, ScrapeFailed> {
        let (reply, answer) = oneshot::channel();
        self.requests.send(reply).map_err(|_| ScrapeFailed)?;
        answer.await.map_err(|_| ScrapeFailed)
    }
}
