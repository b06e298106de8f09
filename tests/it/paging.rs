//! Paging against a hostile Graph stand-in: a nextLink that points back at a page
//! already read, or that carries credentials, ends the window as failed instead of
//! looping or following it; the rows already read stay delivered.

use crate::common;

use common::{Harness, quick_retries};
use hyper::{Request, Response};
use pstn_agent::simulate::SimulatorOptions;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

const ROW: &str = r#"{"id":"9c4984c7-6c3c-427d-a30c-bd0b2eacee90","startDateTime":"2024-05-20T06:00:00Z","callType":"user_out","duration":60}"#;

/// A tenant whose every page links to `next_link(own URL)`; counts the page requests.
async fn hostile_graph(next_link: fn(&str) -> String) -> (String, Arc<AtomicUsize>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let pages = Arc::new(AtomicUsize::new(0));
    let (own_base, counter) = (base.clone(), pages.clone());
    let handler = Arc::new(move |request: Request<hyper::body::Incoming>| {
        let (base, counter) = (own_base.clone(), counter.clone());
        async move {
            let path = request.uri().to_string();
            let body = if path.contains("/oauth2/v2.0/token") {
                r#"{"token_type":"Bearer","expires_in":3599,"access_token":"t"}"#.to_owned()
            } else {
                counter.fetch_add(1, Ordering::SeqCst);
                let link = next_link(&format!("{base}{path}"));
                format!(r#"{{"@odata.nextLink":"{link}","value":[{ROW}]}}"#)
            };
            Response::new(pstn_agent::http_server::full(body))
        }
    });
    tokio::spawn(pstn_agent::http_server::serve(listener, handler));
    (base, pages)
}

/// Runs the agent once against `url` and returns (report, events written, failure series).
async fn once_against(url: &str) -> (pstn_agent::topology::RunReport, usize, String, String) {
    let harness = Harness::start(SimulatorOptions::default()).await;
    let text = format!(
        "data_dir = \"{}\"\n[sources.tenant]\ntype = \"pstn_calls\"\ntenant_id = \"t\"\nclient_id = \"11111111-1111-1111-1111-111111111111\"\nclient_secret = \"s\"\nauthority_url = \"{url}\"\ngraph_url = \"{url}\"\nlookback = \"1d\"\nrequests_per_second = 1\n[sinks.archive]\ntype = \"file\"\npath = \"{}\"\ninputs = [\"tenant\"]\n",
        harness.dir.path().join("state").display(),
        harness.output().display()
    );
    let config = pstn_agent::config::Config::parse(
        &text,
        std::path::Path::new("/"),
        &pstn_agent::config::Environment::fixed([]),
    )
    .unwrap();
    let report = tokio::time::timeout(
        Duration::from_secs(120),
        harness.once_with(&config, quick_retries()),
    )
    .await
    .expect("the agent must not page forever");
    let metrics = harness.metrics.encode();
    let readiness = harness.metrics.readiness().to_json();
    (report, harness.events().len(), metrics, readiness)
}

fn failures(metrics: &str, reason: &str) -> f64 {
    metrics
        .lines()
        .find(|line| {
            line.starts_with("pstn_graph_request_failures_total")
                && line.contains(&format!("reason=\"{reason}\""))
        })
        .and_then(|line| line.rsplit(' ').next())
        .and_then(|value| value.parse().ok())
        .unwrap_or(0.0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_next_link_back_to_a_page_already_read_ends_the_window_as_failed() {
    let (url, pages) = hostile_graph(|own| own.to_owned()).await;
    let (report, events, metrics, readiness) = once_against(&url).await;
    assert_eq!(report.exit_code(), 1, "{report:?}");
    assert!(
        readiness.contains("last poll failed: endless_paging"),
        "{readiness}"
    );
    let (_, message) = &report.failed[0];
    assert!(message.contains("already read"), "{message}");
    assert_eq!(
        events, 1,
        "the row read before the loop stays delivered, once"
    );
    // One chain at this rate: its first page, then the link back to it is refused
    // without being fetched.
    assert_eq!(pages.load(Ordering::SeqCst), 1);
    assert!(failures(&metrics, "endless_paging") >= 1.0, "{metrics}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_next_link_carrying_a_user_and_password_is_not_followed() {
    let (url, pages) =
        hostile_graph(|own| own.replacen("http://", "http://user:password@", 1) + "&$skip=1").await;
    let (report, events, metrics, readiness) = once_against(&url).await;
    assert_eq!(report.exit_code(), 1, "{report:?}");
    assert!(
        report.failed[0].1.contains("user name or password"),
        "{report:?}"
    );
    // /readyz names the source and a fixed reason, never the peer-chosen link.
    assert!(
        !readiness.contains("password") && !readiness.contains("127.0.0.1"),
        "{readiness}"
    );
    assert_eq!(pages.load(Ordering::SeqCst), 1, "the link was followed");
    assert_eq!(events, 1);
    assert_eq!(failures(&metrics, "bad_next_link"), 1.0, "{metrics}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_chain_past_its_page_limit_ends_as_failed_with_every_page_before_it_read() {
    use pstn_agent::entra::{CredentialMaterial, IgnoreTokenEvents, TokenSource};
    use pstn_agent::graph::{GraphClient, GraphClientOptions, GraphEndpoint, IgnoreEvents};
    use pstn_agent::model::{ApiVersion, LogKind, Secret, Timestamp};
    // Every page links to a new one (a different $skip each time): it never ends.
    let (url, pages) = hostile_graph(|own| {
        let skip: u64 = own
            .rsplit("skip=")
            .next()
            .and_then(|n| n.parse().ok())
            .unwrap_or(0);
        format!(
            "{}?$skip={}",
            own.split('?').next().unwrap_or(own),
            skip + 1
        )
    })
    .await;
    let base: url::Url = url.parse().unwrap();
    let http = pstn_agent::topology::http_client().unwrap();
    let tokens = TokenSource::new(
        http.clone(),
        &base,
        "t",
        "c",
        "x/.default",
        CredentialMaterial::Secret(Secret::new("s")),
        Arc::new(IgnoreTokenEvents),
    )
    .unwrap();
    let options = GraphClientOptions {
        requests_per_minute: 60_000.0,
        max_pages_per_window: 5,
        ..GraphClientOptions::default()
    };
    let endpoint = GraphEndpoint {
        base,
        version: ApiVersion::V1,
        kind: LogKind::Pstn,
        tenant_id: "t".into(),
    };
    let client = Arc::new(GraphClient::new(
        http,
        endpoint,
        tokens,
        options,
        Arc::new(IgnoreEvents),
    ));
    let from = Timestamp::parse("2024-05-20T00:00:00Z").unwrap();
    let mut chain = client.pages(from, Timestamp::parse("2024-05-20T12:00:00Z").unwrap());
    let (mut read, mut error) = (0, None);
    while let Some(page) = chain.next_page().await {
        match page {
            Ok(page) => {
                assert!(!page.last);
                read += 1;
            }
            Err(failed) => error = Some(failed),
        }
    }
    assert_eq!(read, 5, "every page up to the limit is handed out");
    assert_eq!(
        pages.load(Ordering::SeqCst),
        5,
        "no page past the limit is fetched"
    );
    let error = error.expect("the chain ends as failed");
    assert!(error.to_string().contains("more than 5 pages"), "{error}");
}
