//! A real Prometheus scrapes the agent polling the simulated tenant: what PromQL sees
//! equals what the agent delivered, per call type and per currency.

use crate::common;

use common::tools::{free_port, prometheus_binary, query, spawn_agent_at_now, start_prometheus};
use common::{Harness, NOW};
use pstn_agent::simulate::{Lateness, SimulatorOptions};
use std::collections::HashMap;
use std::path::Path;
use std::time::{Duration, Instant};

fn write(path: &Path, text: String) {
    std::fs::write(path, text).unwrap();
}

#[tokio::test]
async fn promql_over_scraped_metrics_equals_what_the_agent_delivered() {
    let Some(prometheus) = prometheus_binary() else {
        return;
    };
    let options = SimulatorOptions {
        calls_per_day: 2000.0,
        page_size: 500,
        lateness: Lateness::None,
        ..SimulatorOptions::default()
    };
    let harness = Harness::start(options).await;
    let dir = harness.dir.path();
    let agent_port = free_port();
    let config = dir.join("agent.toml");
    write(
        &config,
        format!(
            "data_dir = \"{}\"\n[api]\naddress = \"127.0.0.1:{agent_port}\"\n[sources.tenant]\ntype = \"pstn_calls\"\ntenant_id = \"t\"\nclient_id = \"11111111-1111-1111-1111-111111111111\"\nclient_secret = \"s\"\nauthority_url = \"{url}\"\ngraph_url = \"{url}\"\nlookback = \"3d\"\nrequests_per_minute = 60000\n[sinks.archive]\ntype = \"file\"\npath = \"{}\"\ninputs = [\"tenant\"]\n",
            dir.join("state").display(),
            harness.output().display(),
            url = harness.simulator.url()
        ),
    );
    let _agent = spawn_agent_at_now(&config);
    let (_prometheus, prometheus_port) = start_prometheus(&prometheus, dir, agent_port, &[]);

    // Wait until the agent has delivered the whole lookback and Prometheus has scraped it.
    let now = common::at(NOW);
    let expected = harness
        .expected_ids(
            pstn_agent::model::LogKind::Pstn,
            now.saturating_sub(Duration::from_secs(3 * 86_400)),
            now,
            now,
        )
        .len();
    let http = pstn_agent::topology::http_client().unwrap();
    wait_until_delivered_and_scraped(&http, &harness, prometheus_port, expected).await;

    let (by_type, by_currency) = tally_delivered(&harness);
    let per_type = query(
        &http,
        prometheus_port,
        "sum by (call_type) (pstn_calls_total)",
    )
    .await;
    for (call_type, count) in &by_type {
        let seen = per_type
            .iter()
            .find(|(labels, _)| labels.get("call_type") == Some(call_type))
            .map(|(_, v)| *v);
        assert_eq!(seen, Some(*count), "{call_type}");
    }
    let per_currency = query(
        &http,
        prometheus_port,
        "sum by (currency) (pstn_call_charge_total)",
    )
    .await;
    assert!(
        by_currency.len() >= 3,
        "several currencies: {by_currency:?}"
    );
    for (currency, sum) in &by_currency {
        let seen = per_currency
            .iter()
            .find(|(labels, _)| labels.get("currency") == Some(currency))
            .map(|(_, v)| *v)
            .unwrap_or(f64::NAN);
        assert!(
            (seen - sum).abs() < 1e-6,
            "{currency}: PromQL {seen}, delivered {sum}"
        );
    }
    let up = query(&http, prometheus_port, "up{job=\"pstn-agent\"}").await;
    assert_eq!(up.first().map(|(_, v)| *v), Some(1.0));
}

/// Waits until the agent has delivered `expected` rows and Prometheus has scraped them.
async fn wait_until_delivered_and_scraped(
    http: &reqwest::Client,
    harness: &Harness,
    prometheus_port: u16,
    expected: usize,
) {
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let delivered = harness.events().len();
        let scraped = query(http, prometheus_port, "sum(pstn_calls_total)")
            .await
            .first()
            .map(|(_, v)| *v);
        if delivered == expected && scraped == Some(expected as f64) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "delivered {delivered} of {expected}, Prometheus sees {scraped:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// The delivered events' calls by call type and charges by currency.
fn tally_delivered(harness: &Harness) -> (HashMap<String, f64>, HashMap<String, f64>) {
    let mut by_type: HashMap<String, f64> = HashMap::new();
    let mut by_currency: HashMap<String, f64> = HashMap::new();
    for (_, event) in harness.events() {
        let call = &event["call"];
        *by_type
            .entry(call["callType"].as_str().unwrap().to_owned())
            .or_default() += 1.0;
        let charge = match &call["charge"] {
            serde_json::Value::String(text) => text.parse().unwrap(),
            other => other.as_f64().unwrap(),
        };
        *by_currency
            .entry(call["currency"].as_str().unwrap().to_owned())
            .or_default() += charge;
    }
    (by_type, by_currency)
}
