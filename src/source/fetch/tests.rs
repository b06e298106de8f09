//! The budget of pages ahead, against a Graph stand-in on loopback whose windows never
//! end (every page links to one more) and which counts the pages asked for.

use super::*;
use crate::graph::PaceBook;
use crate::metrics::{Metrics, SourceCadence, SourceId};
use crate::model::LogKind;
use crate::settings::{Environment, Fields, Problems};
use crate::time::Timestamp;
use http_body_util::Full;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

const ROW: &str = r#"{"id":"9c4984c7-6c3c-427d-a30c-bd0b2eacee90","startDateTime":"2024-05-20T06:00:00Z","callType":"user_out","duration":60}"#;

/// Answers tokens, and every page with one row and a link to the next page; counts pages.
async fn endless_graph() -> (String, Arc<AtomicUsize>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let pages = Arc::new(AtomicUsize::new(0));
    let (own_base, counter) = (base.clone(), pages.clone());
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let (base, counter) = (own_base.clone(), counter.clone());
            let service = hyper::service::service_fn(move |request: hyper::Request<_>| {
                let path = request.uri().to_string();
                let body = if path.contains("/oauth2/v2.0/token") {
                    r#"{"token_type":"Bearer","expires_in":3599,"access_token":"t"}"#.to_owned()
                } else {
                    let page = counter.fetch_add(1, Ordering::SeqCst);
                    let path = path.split("&$skip=").next().unwrap_or_default();
                    let link = format!("{base}{path}&$skip={page}");
                    format!(r#"{{"@odata.nextLink":"{link}","value":[{ROW}]}}"#)
                };
                async move {
                    Ok::<_, std::convert::Infallible>(hyper::Response::new(Full::new(
                        bytes::Bytes::from(body),
                    )))
                }
            });
            tokio::spawn(
                hyper::server::conn::http1::Builder::new()
                    .serve_connection(hyper_util::rt::TokioIo::new(stream), service),
            );
        }
    });
    (base, pages)
}

/// A source's Graph client for `base`, paced far beyond the chains' needs.
fn client(base: &str) -> Arc<GraphClient> {
    let text = format!(
        "type = \"pstn_calls\"\ntenant_id = \"t\"\nclient_id = \"11111111-1111-1111-1111-111111111111\"\nclient_secret = \"s\"\nauthority_url = \"{base}\"\ngraph_url = \"{base}\"\nrequests_per_second = 1000\n"
    );
    let table: toml::Table = text.parse().unwrap();
    let environment = Environment::fixed([]);
    let fields = Fields::new("sources.s", &table, &environment);
    let mut problems = Problems::default();
    let config = super::super::config::read("s", fields, std::path::Path::new("/"), &mut problems)
        .unwrap_or_else(|| panic!("{:?}", problems.lines()));
    let cadence = SourceCadence {
        poll_interval: Duration::from_secs(300),
        real_poll_interval: Duration::from_secs(300),
    };
    let telemetry = Metrics::new()
        .unwrap()
        .source(SourceId::test("s"), LogKind::Pstn, cadence);
    let paces = PaceBook::new([super::super::build::pace_member(&config)]);
    let client = super::super::build::graph_client(
        &config,
        &crate::http_client::client().unwrap(),
        crate::retry::RetryPolicy::default(),
        &telemetry,
        &paces,
    );
    Arc::new(client.unwrap())
}

/// Eight windows of one hour each.
fn windows() -> Vec<Window> {
    let start = Timestamp::parse("2024-05-20T00:00:00Z").unwrap();
    (0..8)
        .map(|hour| Window {
            sweep: 0,
            from: start.saturating_add(Duration::from_secs(3600 * hour)),
            to: start.saturating_add(Duration::from_secs(3600 * (hour + 1))),
            moves: Vec::new(),
        })
        .collect()
}

/// Waits until `pages` reaches `count` (or fails after 10 s), then gives any chain past
/// the budget time to ask for one more, which it must not.
async fn asked_for_exactly(pages: &AtomicUsize, count: usize) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while pages.load(Ordering::SeqCst) < count {
        assert!(
            tokio::time::Instant::now() < deadline,
            "{count} pages asked for"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(pages.load(Ordering::SeqCst), count);
}

#[tokio::test]
async fn eight_chains_hold_only_the_budgets_pages_ahead_of_the_source_and_each_gets_its_turn() {
    let (base, pages) = endless_graph().await;
    let mut fetcher = Fetcher::new(client(&base), windows(), 8);
    // Nothing taken yet: eight chains, yet only the budget's pages are asked for.
    asked_for_exactly(&pages, PAGES_AHEAD).await;
    // The source takes one (and is still delivering it): exactly one more comes.
    let taken = fetcher.next().await.unwrap();
    asked_for_exactly(&pages, PAGES_AHEAD + 1).await;
    drop(taken);
    // Every window's chain gets its turn under the budget.
    let mut seen = [false; 8];
    for _ in 0..32 {
        seen[fetcher.next().await.unwrap().window] = true;
    }
    assert_eq!(seen, [true; 8], "every chain fetched");
}
