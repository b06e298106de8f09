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

#[tokio::test]
async fn the_sms_and_blocked_user_logs_are_served_under_beta_only() {
    let harness = Harness::start(SimulatorOptions {
        calls_per_day: 20_000.0,
        lateness: Lateness::None,
        ..options()
    })
    .await;
    let token = token(&harness).await;
    for kind in [
        pstn_agent::model::LogKind::Sms,
        pstn_agent::model::LogKind::PstnBlockedUser,
    ] {
        // Microsoft's example passes bare dates.
        let path = |version: &str| {
            format!(
                "/{version}/communications/callRecords/{}(fromDateTime=2024-05-13,toDateTime=2024-05-14)",
                kind.function()
            )
        };
        let refused = get(&harness, &path("v1.0"), Some(&token)).await;
        assert_eq!(refused.status(), 400, "{kind} under v1.0");
        let error = refused.json_value().await;
        assert!(
            error["error"]["message"]
                .as_str()
                .unwrap()
                .contains(kind.function())
        );
        let page = get(&harness, &path("beta"), Some(&token)).await;
        assert_eq!(page.status(), 200, "{kind} under beta");
        let page = page.json_value().await;
        let context = page["@odata.context"].as_str().unwrap();
        assert!(
            context.ends_with(&format!("callRecords.{})", kind.row_type())),
            "{context}"
        );
        let rows = page["value"].as_array().unwrap();
        assert!(!rows.is_empty(), "{kind}: no rows in a weekday");
        for row in rows {
            assert!(row[kind.timestamp_field()].is_string(), "{row}");
            assert!(row.get("startDateTime").is_none(), "{row}");
        }
        if kind == pstn_agent::model::LogKind::Sms {
            let with_id = rows.iter().filter(|row| row.get("id").is_some()).count();
            assert!(
                with_id > 0 && with_id < rows.len(),
                "{with_id} of {} with an id",
                rows.len()
            );
            assert!(rows.iter().any(|row| row["smsType"] == "sms_in"));
            assert!(
                rows.iter()
                    .any(|row| row["destinationNumber"].as_str().unwrap().ends_with("***"))
            );
        } else {
            assert!(
                rows.iter()
                    .all(|row| row["remediationId"].is_string() && row.get("id").is_none())
            );
        }
    }
}

#[tokio::test]
async fn the_dialout_report_is_served_under_beta_only_summing_the_range_asked_for() {
    use pstn_agent::model::LogKind;
    let harness = Harness::start(SimulatorOptions {
        calls_per_day: 20_000.0,
        lateness: Lateness::None,
        ..options()
    })
    .await;
    let token = token(&harness).await;
    let kind = LogKind::PstnDialoutReport;
    let path = |version: &str, to: &str| {
        format!(
            "/{version}/communications/callRecords/{}(fromDateTime=2024-05-13T00:00:00Z,toDateTime={to})",
            kind.function()
        )
    };
    let refused = get(
        &harness,
        &path("v1.0", "2024-05-14T00:00:00Z"),
        Some(&token),
    )
    .await;
    assert_eq!(refused.status(), 400);
    let report = |to: &'static str| {
        let (harness, token) = (&harness, &token);
        async move {
            let page = get(harness, &path("beta", to), Some(token)).await;
            assert_eq!(page.status(), 200);
            page.json_value().await
        }
    };
    let day = report("2024-05-14T00:00:00Z").await;
    let context = day["@odata.context"].as_str().unwrap();
    assert!(
        context.ends_with("callRecords.pstnOnlineMeetingDialoutReport)"),
        "{context}"
    );
    let rows = day["value"].as_array().unwrap();
    assert!(rows.len() > 5, "{} rows in a weekday", rows.len());
    for row in rows {
        let fields: HashSet<&str> = row
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        let documented: HashSet<&str> = kind.row_fields().iter().copied().collect();
        assert_eq!(fields, documented, "{row}");
        assert!(row["totalCalls"].as_i64().unwrap() > 0, "{row}");
    }
    let calls = |page: &serde_json::Value| -> i64 {
        page["value"]
            .as_array()
            .unwrap()
            .iter()
            .map(|row| row["totalCalls"].as_i64().unwrap())
            .sum()
    };
    let morning = report("2024-05-13T12:00:00Z").await;
    assert!(
        0 < calls(&morning) && calls(&morning) < calls(&day),
        "half a day sums fewer calls: {} of {}",
        calls(&morning),
        calls(&day)
    );
}
