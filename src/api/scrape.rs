//! Where a scrape's text is written: on one thread of its own, for every scrape of
//! the listener. A thousand tenants' text is megabytes; written on whichever thread
//! was free (runtime workers, the blocking pool), each of glibc's arenas it landed in
//! kept about a scrape's worth once freed: scraped every 200 ms, 1,000 tenants peaked
//! at 214 MB against 105 MB unscraped (BENCHMARKS, "one thread writes every scrape").
//! One thread keeps that to one arena, and the polls' threads never wait for it.

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
    /// Starts the thread that answers each scrape with `encode()` (the metrics' text);
    /// it ends with the last clone. A panic in `encode` fails that scrape only.
    pub(super) fn start(encode: impl Fn() -> String + Send + 'static) -> Scraper {
        let (requests, asked) = mpsc::channel::<oneshot::Sender<String>>();
        let started = std::thread::Builder::new()
            .name("pstn-scrape".into())
            .spawn(move || {
                for reply in asked {
                    let text = std::panic::catch_unwind(std::panic::AssertUnwindSafe(&encode));
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[tokio::test]
    async fn a_scrape_whose_encoding_panics_answers_500_and_the_next_scrape_is_served() {
        let calls = AtomicUsize::new(0);
        let scraper = Scraper::start(move || {
            if calls.fetch_add(1, Ordering::SeqCst) == 0 {
                panic!("a collector broke while encoding");
            }
            "pstn_up 1\n".to_owned()
        });
        let failed = super::super::serve_metrics(&scraper).await;
        assert_eq!(failed.status(), 500, "the panicking scrape fails alone");
        assert_eq!(
            scraper.text().await.ok().as_deref(),
            Some("pstn_up 1\n"),
            "the thread lives on and answers the next scrape"
        );
    }

    #[tokio::test]
    async fn scrapes_from_many_clones_are_each_answered_by_the_one_thread() {
        let scraper = Scraper::start(|| {
            std::thread::current()
                .name()
                .unwrap_or("unnamed")
                .to_owned()
        });
        let clones: Vec<Scraper> = (0..8).map(|_| scraper.clone()).collect();
        let answers = answer_each(clones).await;
        assert!(
            answers.iter().all(|answer| answer == "pstn-scrape"),
            "{answers:?}"
        );
    }

    /// Asks each clone for a text from a task of its own, at once.
    async fn answer_each(clones: Vec<Scraper>) -> Vec<String> {
        let tasks: Vec<_> = clones
            .into_iter()
            .map(|scraper| tokio::spawn(async move { scraper.text().await.ok() }))
            .collect();
        let mut answers = Vec::new();
        for task in tasks {
            answers.push(task.await.ok().flatten().unwrap_or_default());
        }
        answers
    }
}
