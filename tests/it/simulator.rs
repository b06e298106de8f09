//! The simulated tenant answers as Entra ID and Graph do.

use crate::common;

use common::{Harness, NOW};
use pstn_agent::simulate::{Lateness, SimulatorOptions};
use std::collections::HashSet;

async fn token(harness: &Harness) -> String {
    let url = format!(
        "{}/contoso.onmicrosoft.com/oauth2/v2.0/token",
        harness.simulator.url()
    );
    let body = "grant_type=client_credentials&client_id=11111111-1111-1111-1111-111111111111&client_secret=s&scope=x%2F.default";
    let answer: serde_json::Value = pstn_agent::topology::http_client()
        .unwrap()
        .post(url)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .await
        .unwrap()
        .json_value()
        .await;
    assert_eq!(answer["token_type"], "Bearer");
    answer["access_token"].as_str().unwrap().to_owned()
}

trait JsonValue {
    async fn json_value(self) -> serde_json::Value;
}

impl JsonValue for reqwest::Response {
    async fn json_value(self) -> serde_json::Value {
        serde_json::from_slice(&self.bytes().await.unwrap()).unwrap()
    }
}

async fn get(harness: &Harness, path_or_url: &str, token: Option<&str>) -> reqwest::Response {
    let url = if path_or_url.starts_with("http") {
        path_or_url.to_owned()
    } else {
        format!("{}{path_or_url}", harness.simulator.url())
    };
    let mut request = pstn_agent::topology::http_client().unwrap().get(url);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    request.send().await.unwrap()
}

fn options() -> SimulatorOptions {
    SimulatorOptions {
        calls_per_day: 5000.0,
        page_size: 250,
        lateness: Lateness::Default,
        ..SimulatorOptions::default()
    }
}

#[tokio::test]
async fn paging_through_next_links_covers_every_row_exactly_once_at_a_fixed_clock() {
    let harness = Harness::start(options()).await;
    let token = token(&harness).await;
    let mut url = "/beta/communications/callRecords/microsoft.graph.callRecords.getPstnCalls(fromDateTime=2024-05-18T00:00:00Z,toDateTime=2024-05-20T00:00:00Z)".to_owned();
    let mut ids = Vec::new();
    let mut pages = 0;
    loop {
        let response = get(&harness, &url, Some(&token)).await;
        assert_eq!(response.status(), 200);
        let page = response.json_value().await;
        pages += 1;
        let rows = page["value"].as_array().unwrap();
        assert_eq!(page["@odata.count"], rows.len());
        ids.extend(
            rows.iter()
                .map(|row| row["id"].as_str().unwrap().to_owned()),
        );
        match page["@odata.nextLink"].as_str() {
            Some(next) => {
                assert!(
                    next.contains("getPstnCalls(from=") && next.contains("$skip="),
                    "{next}"
                );
                url = next.to_owned();
            }
            None => break,
        }
    }
    let unique: HashSet<&String> = ids.iter().collect();
    assert_eq!(unique.len(), ids.len(), "a row was served twice");
    let now = common::at(NOW);
    let expected = harness.expected_ids(
        pstn_agent::model::LogKind::Pstn,
        common::at("2024-05-18T00:00:00Z"),
        common::at("2024-05-20T00:00:00.0000001Z"),
        now,
    );
    assert_eq!(ids, expected);
    assert!(pages > 10);
}

#[tokio::test]
async fn more_than_ninety_days_is_406_and_malformed_arguments_are_400() {
    let harness = Harness::start(options()).await;
    let token = token(&harness).await;
    let too_long = get(&harness, "/v1.0/communications/callRecords/getDirectRoutingCalls(fromDateTime=2024-01-01T00:00:00Z,toDateTime=2024-04-01T00:00:01Z)", Some(&token)).await;
    assert_eq!(too_long.status(), 406);
    let ninety = get(&harness, "/v1.0/communications/callRecords/getDirectRoutingCalls(fromDateTime=2024-01-01T00:00:00Z,toDateTime=2024-03-31T00:00:00Z)", Some(&token)).await;
    assert_eq!(ninety.status(), 200);
    let malformed = get(&harness, "/v1.0/communications/callRecords/getPstnCalls(fromDateTime=yesterday,toDateTime=2024-04-01T00:00:00Z)", Some(&token)).await;
    assert_eq!(malformed.status(), 400);
    assert_eq!(malformed.json_value().await["error"]["code"], "BadRequest");
}

#[tokio::test]
async fn a_missing_or_expired_token_is_401() {
    let simulator_options = SimulatorOptions {
        token_ttl: std::time::Duration::from_secs(1),
        ..options()
    };
    let harness = Harness::start(simulator_options).await;
    let path = "/v1.0/communications/callRecords/getPstnCalls(fromDateTime=2024-05-19T00:00:00Z,toDateTime=2024-05-19T01:00:00Z)";
    assert_eq!(get(&harness, path, None).await.status(), 401);
    let token = token(&harness).await;
    assert_eq!(get(&harness, path, Some(&token)).await.status(), 200);
    // The token's lifetime is real time (a second): ask until it has run out.
    common::eventually(
        "the token expiring",
        std::time::Duration::from_secs(10),
        async || get(&harness, path, Some(&token)).await.status() == 401,
    )
    .await;
    let expired = get(&harness, path, Some(&token)).await;
    assert_eq!(expired.status(), 401);
    assert_eq!(
        expired.json_value().await["error"]["code"],
        "InvalidAuthenticationToken"
    );
}

#[tokio::test]
async fn past_its_budget_graph_answers_429_with_retry_after() {
    let harness = Harness::start(options()).await;
    harness
        .simulator
        .faults
        .throttle(2, std::time::Duration::ZERO);
    let token = token(&harness).await;
    let path = "/v1.0/communications/callRecords/getPstnCalls(fromDateTime=2024-05-19T00:00:00Z,toDateTime=2024-05-19T01:00:00Z)";
    assert_eq!(get(&harness, path, Some(&token)).await.status(), 200);
    assert_eq!(get(&harness, path, Some(&token)).await.status(), 200);
    let throttled = get(&harness, path, Some(&token)).await;
    assert_eq!(throttled.status(), 429);
    let retry_after: u64 = throttled.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=20).contains(&retry_after));
}

#[tokio::test]
async fn graphs_published_limits_are_kept_by_default_and_can_be_turned_off() {
    let harness = Harness::start_with_graph_limits(options()).await;
    let token = token(&harness).await;
    let calls = "/v1.0/communications/callRecords/getPstnCalls(fromDateTime=2024-05-19T00:00:00Z,toDateTime=2024-05-19T01:00:00Z)";
    let routing = "/v1.0/communications/callRecords/getDirectRoutingCalls(fromDateTime=2024-05-19T00:00:00Z,toDateTime=2024-05-19T01:00:00Z)";
    for _ in 0..50 {
        assert_eq!(get(&harness, calls, Some(&token)).await.status(), 200);
    }
    // The 51st request of the collection in a minute: 429, until the first one is a
    // minute old.
    let throttled = get(&harness, calls, Some(&token)).await;
    assert_eq!(throttled.status(), 429);
    let retry_after: u64 = throttled.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((50..=60).contains(&retry_after), "{retry_after}");
    // Another function of the tenant is another collection.
    assert_eq!(get(&harness, routing, Some(&token)).await.status(), 200);
    assert_eq!(harness.simulator.stats.throttled(), 1);

    // Without the limits (load tests; Harness::start): no 429 however many.
    let unlimited = Harness::start(options()).await;
    let token = self::token(&unlimited).await;
    for _ in 0..60 {
        assert_eq!(get(&unlimited, calls, Some(&token)).await.status(), 200);
    }
}

#[tokio::test]
async fn a_wrong_secret_is_refused_with_entras_error_shape() {
    let simulator_options = SimulatorOptions {
        client_secret: Some("right".into()),
        ..options()
    };
    let harness = Harness::start(simulator_options).await;
    let url = format!("{}/t/oauth2/v2.0/token", harness.simulator.url());
    let response = pstn_agent::topology::http_client()
        .unwrap()
        .post(url)
        .header("content-type", "application/x-www-form-urlencoded")
        .body("grant_type=client_credentials&client_id=x&client_secret=wrong&scope=s")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    let answer = response.json_value().await;
    assert_eq!(answer["error"], "invalid_client");
    assert!(
        answer["error_description"]
            .as_str()
            .unwrap()
            .starts_with("AADSTS7000215")
    );
}

#[tokio::test]
async fn faults_in_the_options_are_on_from_the_first_request() {
    let harness = Harness::start(SimulatorOptions {
        faults: pstn_agent::simulate::FaultSettings {
            throttle_budget: 1,
            retry_after_seconds: 7,
            ..Default::default()
        },
        ..options()
    })
    .await;
    let token = token(&harness).await;
    let path = "/v1.0/communications/callRecords/getPstnCalls(fromDateTime=2024-05-19T00:00:00Z,toDateTime=2024-05-19T01:00:00Z)";
    assert_eq!(get(&harness, path, Some(&token)).await.status(), 200);
    let throttled = get(&harness, path, Some(&token)).await;
    assert_eq!(throttled.status(), 429);
    assert_eq!(throttled.headers()["retry-after"], "7");
}

mod beta_logs;
