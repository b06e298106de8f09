//! The source embedded in another program: batches reach it, progress is committed only
//! on its acknowledgement, and a batch it drops is offered again.

use crate::common;

use common::{Harness, quick_retries};
use pstn_agent::embed::{
    Config, EmbedError, EmbeddedSource, EmbeddedSourceBuilder, Environment, SharedClock,
};
use pstn_agent::simulate::SimulatorOptions;

fn builder(harness: &Harness) -> EmbeddedSourceBuilder {
    let url = harness.simulator.url();
    let text = format!(
        r#"
data_dir = "{data}"
[sources.pstn_calls]
type = "pstn_calls"
tenant_id = "contoso.onmicrosoft.com"
client_id = "11111111-1111-1111-1111-111111111111"
client_secret = "secret"
authority_url = "{url}"
graph_url = "{url}"
requests_per_second = 1000
lookback = "1h"
retry_max_duration = "1s"
"#,
        data = harness.dir.path().join("state").display(),
    );
    let clock: SharedClock = harness.clock.clone();
    EmbeddedSource::from_toml(
        &text,
        "pstn_calls",
        harness.dir.path(),
        &Environment::fixed([]),
    )
    .unwrap()
    .clock(clock)
    .retry(quick_retries())
    .once()
}

/// The call ids of one delivery.
fn ids(delivery: &pstn_agent::embed::Delivery) -> Vec<String> {
    delivery
        .events()
        .map(|event| event.envelope().call_id.as_deref().unwrap_or("").to_owned())
        .collect()
}

#[tokio::test]
async fn an_embedded_source_delivers_every_new_row_once_and_ends_after_one_poll() {
    let harness = Harness::start(SimulatorOptions::default()).await;
    let mut source = builder(&harness).start().await.unwrap();
    assert_eq!(source.name(), "pstn_calls");
    let mut seen = Vec::new();
    while let Some(delivery) = source.next_batch().await {
        let delivery = delivery.unwrap();
        for event in delivery.events() {
            let line: serde_json::Value = serde_json::from_slice(event.line()).unwrap();
            assert_eq!(line["source"], "pstn_calls");
            assert!(event.line().ends_with(b"\n"));
            assert!(!event.call().is_empty());
        }
        seen.extend(ids(&delivery));
        delivery.accept();
    }
    assert!(!seen.is_empty());
    let mut unique = seen.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), seen.len(), "a row was delivered twice");
}

#[tokio::test]
async fn a_batch_whose_ack_is_dropped_is_offered_again_and_nothing_is_committed() {
    let harness = Harness::start(SimulatorOptions::default()).await;
    let mut source = builder(&harness).start().await.unwrap();
    let first = source.next_batch().await.unwrap().unwrap();
    let first_ids = ids(&first);
    drop(first);
    let again = source.next_batch().await.unwrap().unwrap();
    assert_eq!(ids(&again), first_ids, "the dropped batch is offered again");
    let (_batch, ack) = again.into_parts();
    ack.reject();
    // Rejected until the source's retry_max_duration: the one poll ends with the error.
    let mut ended_with_error = false;
    while let Some(next) = source.next_batch().await {
        match next {
            Ok(delivery) => assert_eq!(ids(&delivery), first_ids),
            Err(_) => ended_with_error = true,
        }
    }
    assert!(ended_with_error);
    // Nothing was committed: a new run on the same data_dir offers the same rows.
    let mut source = builder(&harness).start().await.unwrap();
    let delivery = source.next_batch().await.unwrap().unwrap();
    assert_eq!(ids(&delivery), first_ids);
    delivery.accept();
}

#[tokio::test]
async fn an_accepted_batch_is_not_offered_again_after_a_restart_on_the_same_data_dir() {
    let harness = Harness::start(SimulatorOptions::default()).await;
    let mut source = builder(&harness).start().await.unwrap();
    let mut accepted = 0;
    while let Some(delivery) = source.next_batch().await {
        let delivery = delivery.unwrap();
        accepted += delivery.len();
        delivery.accept();
    }
    assert!(accepted > 0);
    let mut restarted = builder(&harness).start().await.unwrap();
    let mut offered_again = 0;
    while let Some(delivery) = restarted.next_batch().await {
        let delivery = delivery.unwrap();
        offered_again += delivery.len();
        delivery.accept();
    }
    assert_eq!(offered_again, 0);
}

#[tokio::test]
async fn a_source_name_the_configuration_lacks_is_refused() {
    let text = "data_dir = \"/tmp/x\"\n";
    let error = EmbeddedSource::from_toml(
        text,
        "missing",
        std::path::Path::new("/"),
        &Environment::fixed([]),
    )
    .unwrap_err();
    assert!(error.to_string().contains("sources"), "{error}");
}

#[tokio::test]
async fn the_source_read_as_a_stream_delivers_each_row_once_and_counts_them_in_its_own_metrics() {
    use futures_core::Stream;
    let harness = Harness::start(SimulatorOptions::default()).await;
    let mut source = builder(&harness).start().await.unwrap();
    let mut seen = Vec::new();
    while let Some(delivery) =
        std::future::poll_fn(|context| std::pin::Pin::new(&mut source).poll_next(context)).await
    {
        let delivery = delivery.unwrap();
        seen.extend(ids(&delivery));
        delivery.accept();
    }
    let events = seen.len();
    assert!(events > 0);
    seen.sort();
    seen.dedup();
    assert_eq!(seen.len(), events, "a row was delivered twice");
    // The stream stays ended.
    assert!(
        std::future::poll_fn(|context| std::pin::Pin::new(&mut source).poll_next(context))
            .await
            .is_none()
    );
    let text = source.metrics_text();
    let counted: f64 = text
        .lines()
        .filter(|line| {
            line.starts_with("pstn_calls_total{") && line.contains("source=\"pstn_calls\"")
        })
        .filter_map(|line| line.rsplit(' ').next()?.parse::<f64>().ok())
        .sum();
    assert_eq!(counted as usize, events, "{text}");
}

/// Configuration text that is not TOML is a `Config` error that says what TOML said
/// and keeps the parser's error as its cause.
#[test]
fn text_that_is_not_toml_is_a_config_error_keeping_the_parsers_cause() {
    let text = "data_dir = ";
    let expected = text
        .parse::<toml::Table>()
        .unwrap_err()
        .message()
        .to_owned();
    let error = EmbeddedSource::from_toml(
        text,
        "pstn_calls",
        std::path::Path::new("."),
        &Environment::fixed([]),
    )
    .unwrap_err();
    assert!(matches!(error, EmbedError::Config(_)), "{error:?}");
    assert_eq!(error.to_string(), expected);
    let mut chain = std::error::Error::source(&error);
    let mut parser = false;
    while let Some(cause) = chain {
        parser |= cause.downcast_ref::<toml::de::Error>().is_some();
        chain = cause.source();
    }
    assert!(parser, "{error:?}");
}

/// A source whose `ca_file` is gone by the time it starts (validated earlier) is a
/// `Setup` error naming the file, whose causes reach the operating system's error.
#[tokio::test]
async fn a_source_that_cannot_be_set_up_says_why_and_keeps_the_cause() {
    let harness = Harness::start(SimulatorOptions::default()).await;
    let config = Config::parse(
        &format!(
            r#"
data_dir = "{data}"
[sources.pstn_calls]
type = "pstn_calls"
tenant_id = "contoso.onmicrosoft.com"
client_id = "11111111-1111-1111-1111-111111111111"
client_secret = "secret"
[sinks.program]
type = "console"
inputs = ["pstn_calls"]
"#,
            data = harness.dir.path().join("state").display(),
        ),
        harness.dir.path(),
        &Environment::fixed([]),
    )
    .unwrap_or_else(|problems| panic!("{problems:?}"));
    let mut source = config.sources[0].clone();
    let missing = harness.dir.path().join("gone-ca.pem");
    source.ca_file = Some(missing.clone());
    let error = EmbeddedSource::builder(source, harness.dir.path().join("state"))
        .once()
        .start()
        .await
        .unwrap_err();
    assert!(matches!(error, EmbedError::Setup(_)), "{error:?}");
    let text = error.to_string();
    assert!(
        text.starts_with(&format!("cannot start the source: {}: ", missing.display())),
        "{text}"
    );
    let mut chain = std::error::Error::source(&error);
    let mut io = None;
    while let Some(cause) = chain {
        io = io.or(cause
            .downcast_ref::<std::io::Error>()
            .map(std::io::Error::kind));
        chain = cause.source();
    }
    assert_eq!(io, Some(std::io::ErrorKind::NotFound));
}
