use super::*;
use crate::metrics::Metrics;
use crate::shutdown::shutdown_pair;
use crate::sinks::{DeadLetters, DeliveryFuture, Progress, Retry, Sink, SinkTaskOptions};
use std::sync::atomic::{AtomicUsize, Ordering};

/// Refuses the first `refusals` offers with `retry`, then accepts; counts offers.
struct Refusing {
    name: &'static str,
    offers: Arc<AtomicUsize>,
    refusals: usize,
    retry: Retry,
}

impl Sink for Refusing {
    fn deliver<'a>(&'a mut self, _: &'a Batch, _: &'a mut Progress) -> DeliveryFuture<'a> {
        Box::pin(async move {
            let offer = self.offers.fetch_add(1, Ordering::SeqCst);
            if offer >= self.refusals {
                return Ok(());
            }
            Err(match self.retry {
                Retry::Retryable => SinkError::retryable(self.name, "export", "collector down"),
                Retry::Permanent => SinkError::permanent(self.name, "stdout", "closed"),
            })
        })
    }
}

fn spawn(
    name: &'static str,
    refusals: usize,
    retry: Retry,
    max: Duration,
) -> (SinkHandle, Arc<AtomicUsize>, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let metrics = Metrics::new().unwrap();
    let offers = Arc::new(AtomicUsize::new(0));
    let sink = Refusing {
        name,
        offers: offers.clone(),
        refusals,
        retry,
    };
    let options = SinkTaskOptions {
        telemetry: metrics.sink(name),
        dead_letters: DeadLetters::new(dir.path(), name, metrics.dead_letters(name)),
        retry_max_duration: max,
    };
    (
        SinkHandle::spawn(name, Box::new(sink), options).0,
        offers,
        dir,
    )
}

fn quick(bounded: bool) -> SinkRetry {
    SinkRetry {
        policy: RetryPolicy {
            min_delay: Duration::from_millis(10),
            max_delay: Duration::from_millis(50),
            max_retries: 2,
            max_throttle_wait: Duration::from_secs(1),
            max_elapsed: None,
        },
        mode: if bounded {
            RunMode::Once
        } else {
            RunMode::Forever
        },
    }
}

fn batch() -> Arc<Batch> {
    Arc::new(crate::sinks::batch_of(&[
        r#"{"id":"a","startDateTime":"2024-05-01T00:00:00Z"}"#,
    ]))
}

#[tokio::test(start_paused = true)]
async fn a_permanent_error_is_not_retried() {
    let (sink, offers, _dir) = spawn(
        "stdout",
        usize::MAX,
        Retry::Permanent,
        Duration::from_secs(60),
    );
    let (_trigger, shutdown) = shutdown_pair();
    // Long-running mode, which otherwise never gives up.
    let error = deliver_to_all(&[sink], batch(), quick(false), &shutdown)
        .await
        .unwrap_err();
    assert!(
        matches!(&error, SourceError::Sink(e) if !e.is_retryable()),
        "{error}"
    );
    assert_eq!(offers.load(Ordering::SeqCst), 1);
}

#[tokio::test(start_paused = true)]
async fn only_the_sinks_that_refused_are_offered_the_batch_again() {
    let (steady, steady_offers, _a) =
        spawn("archive", 0, Retry::Retryable, Duration::from_secs(60));
    let (flaky, flaky_offers, _b) = spawn("siem", 3, Retry::Retryable, Duration::from_secs(60));
    let (_trigger, shutdown) = shutdown_pair();
    // More refusals than the policy's max_retries: sinks are waited for, not counted.
    deliver_to_all(&[steady, flaky], batch(), quick(false), &shutdown)
        .await
        .unwrap();
    assert_eq!(steady_offers.load(Ordering::SeqCst), 1);
    assert_eq!(flaky_offers.load(Ordering::SeqCst), 4);
}

#[tokio::test(start_paused = true)]
async fn once_gives_up_on_a_refusing_sink_after_its_retry_max_duration() {
    let (sink, offers, _dir) = spawn(
        "siem",
        usize::MAX,
        Retry::Retryable,
        Duration::from_millis(300),
    );
    let (_trigger, shutdown) = shutdown_pair();
    let started = tokio::time::Instant::now();
    let error = deliver_to_all(&[sink], batch(), quick(true), &shutdown)
        .await
        .unwrap_err();
    assert!(started.elapsed() >= Duration::from_millis(300));
    assert!(error.to_string().contains("sink siem"), "{error}");
    assert!(
        offers.load(Ordering::SeqCst) > 1,
        "it was retried meanwhile"
    );
}

#[tokio::test(start_paused = true)]
async fn shutdown_interrupts_the_wait_for_a_refusing_sink() {
    let (sink, offers, _dir) = spawn(
        "siem",
        usize::MAX,
        Retry::Retryable,
        Duration::from_secs(60),
    );
    let (trigger, shutdown) = shutdown_pair();
    let slow = SinkRetry {
        policy: RetryPolicy {
            min_delay: Duration::from_secs(3600),
            max_delay: Duration::from_secs(3600),
            ..quick(false).policy
        },
        mode: RunMode::Forever,
    };
    let delivery =
        tokio::spawn(async move { deliver_to_all(&[sink], batch(), slow, &shutdown).await });
    // Paused time moves only once every task waits: by then the sink has refused the
    // first offer and the source is in its hour-long wait.
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(
        offers.load(Ordering::SeqCst),
        1,
        "offered once, then waiting"
    );
    trigger.trigger();
    // Well before the hour (on the paused clock): only the shutdown can end it.
    let result = tokio::time::timeout(Duration::from_secs(30), delivery)
        .await
        .expect("shutdown ended the wait")
        .unwrap();
    assert!(
        matches!(result, Err(SourceError::Interrupted)),
        "{result:?}"
    );
}

/// Refuses its first offer with `Retry-After: 30 s` (as Logs Ingestion's 429 does),
/// then accepts; notes when each offer came.
struct Throttling {
    offers: Arc<std::sync::Mutex<Vec<tokio::time::Instant>>>,
}

impl Sink for Throttling {
    fn deliver<'a>(&'a mut self, _: &'a Batch, _: &'a mut Progress) -> DeliveryFuture<'a> {
        Box::pin(async move {
            let mut offers = self.offers.lock().unwrap();
            offers.push(tokio::time::Instant::now());
            if offers.len() > 1 {
                return Ok(());
            }
            Err(SinkError::retryable("sentinel", "upload", "HTTP 429")
                .retry_after(Duration::from_secs(30)))
        })
    }
}

fn throttling(max: Duration) -> (SinkHandle, Arc<std::sync::Mutex<Vec<tokio::time::Instant>>>) {
    let dir = tempfile::tempdir().unwrap();
    let metrics = Metrics::new().unwrap();
    let offers = Arc::new(std::sync::Mutex::new(Vec::new()));
    let options = SinkTaskOptions {
        telemetry: metrics.sink("sentinel"),
        dead_letters: DeadLetters::new(dir.path(), "sentinel", metrics.dead_letters("sentinel")),
        retry_max_duration: max,
    };
    let sink = Throttling {
        offers: offers.clone(),
    };
    (
        SinkHandle::spawn("sentinel", Box::new(sink), options).0,
        offers,
    )
}

#[tokio::test(start_paused = true)]
async fn a_retry_after_from_a_sink_holds_the_next_offer_back_at_least_that_long() {
    let (sink, offers) = throttling(Duration::from_secs(600));
    let (_trigger, shutdown) = shutdown_pair();
    // The policy alone would offer again within 50 ms.
    deliver_to_all(&[sink], batch(), quick(false), &shutdown)
        .await
        .unwrap();
    let offers = offers.lock().unwrap().clone();
    assert_eq!(offers.len(), 2);
    let waited = offers[1] - offers[0];
    assert!(waited >= Duration::from_secs(30), "{waited:?}");
    assert!(waited < Duration::from_secs(31), "{waited:?}");
}

#[tokio::test(start_paused = true)]
async fn once_gives_up_at_once_when_the_retry_after_is_past_its_time_left() {
    let (sink, offers) = throttling(Duration::from_secs(5));
    let (_trigger, shutdown) = shutdown_pair();
    let error = deliver_to_all(&[sink], batch(), quick(true), &shutdown)
        .await
        .unwrap_err();
    assert!(error.to_string().contains("429"), "{error}");
    // Not offered again before Azure allows it: there is no time for that.
    assert_eq!(offers.lock().unwrap().len(), 1);
}
