//! The Grafana dashboard in deploy/grafana works: a real Prometheus, loaded with
//! deploy/prometheus's rules, scrapes the agent reading the simulated tenant (PSTN on
//! the beta API, Direct Routing, both with a directory, the SMS log, the
//! blocked-users log and the dial-out report), and every
//! panel query runs without error and returns data.

use crate::common;

use common::Harness;
use common::tools::{
    free_port, prometheus_api, prometheus_binary, query, spawn_agent_at_now, start_prometheus,
};
use pstn_agent::simulate::{Lateness, SimulatorOptions};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

fn deploy(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("deploy")
        .join(path)
}

/// A panel query with Grafana's variables replaced as Grafana would for "All" sources
/// and tenants
/// over the last five minutes, scraped every second.
fn expand(expr: &str) -> String {
    expr.replace("$__rate_interval", "15s")
        .replace("$__range", "5m")
        .replace("$source", ".*")
        .replace("$tenant", ".*")
}

struct PanelQuery {
    panel: String,
    expr: String,
    instant: bool,
}

fn panel_queries(dashboard: &serde_json::Value) -> Vec<PanelQuery> {
    let mut queries = Vec::new();
    for panel in dashboard["panels"].as_array().unwrap() {
        for target in panel["targets"].as_array().into_iter().flatten() {
            queries.push(PanelQuery {
                panel: panel["title"].as_str().unwrap().to_owned(),
                expr: target["expr"].as_str().unwrap().to_owned(),
                instant: target["instant"].as_bool().unwrap_or(false),
            });
        }
    }
    queries
}

#[test]
fn every_panel_reads_the_datasource_variable_and_has_a_unique_id() {
    let text = std::fs::read_to_string(deploy("grafana/dashboards/pstn-agent.json")).unwrap();
    let dashboard: serde_json::Value = serde_json::from_str(&text).unwrap();
    let variables: Vec<&str> = dashboard["templating"]["list"]
        .as_array()
        .unwrap()
        .iter()
        .map(|variable| variable["name"].as_str().unwrap())
        .collect();
    assert_eq!(variables, ["datasource", "source", "tenant"]);
    let mut ids = std::collections::HashSet::new();
    for panel in dashboard["panels"].as_array().unwrap() {
        assert!(ids.insert(panel["id"].as_u64().unwrap()), "{panel}");
        if panel["type"] == "row" {
            continue;
        }
        assert_eq!(
            panel["datasource"]["uid"], "${datasource}",
            "{}",
            panel["title"]
        );
        assert!(!panel["targets"].as_array().unwrap().is_empty());
    }
}

#[tokio::test]
async fn every_panel_query_runs_and_returns_data_from_a_real_prometheus() {
    let Some(prometheus) = prometheus_binary() else {
        return;
    };
    let options = SimulatorOptions {
        calls_per_day: 3000.0,
        page_size: 500,
        lateness: Lateness::None,
        ..SimulatorOptions::default()
    };
    let harness = Harness::start(options).await;
    let dir = harness.dir.path();
    let agent_port = free_port();
    let config = write_agent_config(&harness, agent_port);
    let _agent = spawn_agent_at_now(&config);
    let (_prometheus, prometheus_port) = start_prometheus(
        &prometheus,
        dir,
        agent_port,
        &[
            deploy("prometheus/rules/pstn-agent-alerts.yml"),
            deploy("prometheus/rules/pstn-agent-pools.yml"),
        ],
    );
    let http = pstn_agent::topology::http_client().unwrap();
    wait_until_every_row_is_scraped(&http, &harness, prometheus_port).await;

    let sources = prometheus_api(
        &http,
        prometheus_port,
        "label/source/values",
        &[("match[]", "pstn_source_poll_interval_seconds")],
    )
    .await;
    assert_eq!(
        sources["data"],
        serde_json::json!([
            "contoso_blocked",
            "contoso_dialout",
            "contoso_dr",
            "contoso_pstn",
            "contoso_sms"
        ]),
        "the source variable's query"
    );

    let text = std::fs::read_to_string(deploy("grafana/dashboards/pstn-agent.json")).unwrap();
    let dashboard: serde_json::Value = serde_json::from_str(&text).unwrap();
    let queries = panel_queries(&dashboard);
    assert!(queries.len() >= 20, "{} queries", queries.len());
    let (errors, panels_with_data) = run_panel_queries(&http, prometheus_port, &queries).await;
    assert!(
        errors.is_empty(),
        "queries that failed:\n{}",
        errors.join("\n")
    );
    let empty: Vec<&str> = queries
        .iter()
        .map(|query| query.panel.as_str())
        .filter(|panel| !panels_with_data.contains(*panel))
        .collect();
    assert!(empty.is_empty(), "panels without data: {empty:?}");
}

/// The agent's config: one source of each kind on the simulated tenant (the call
/// sources with a directory, for the Chargeback row), all into one file sink.
fn write_agent_config(harness: &Harness, agent_port: u16) -> PathBuf {
    let dir = harness.dir.path();
    let config = dir.join("agent.toml");
    let source = |name: &str, kind: &str, extra: &str| {
        format!(
            "[sources.{name}]\ntype = \"{kind}\"\ntenant_id = \"t\"\nclient_id = \"11111111-1111-1111-1111-111111111111\"\nclient_secret = \"s\"\nauthority_url = \"{url}\"\ngraph_url = \"{url}\"\nlookback = \"3d\"\nrequests_per_minute = 60000\n{extra}\n",
            url = harness.simulator.url()
        )
    };
    std::fs::write(
        &config,
        format!(
            "data_dir = \"{}\"\n[api]\naddress = \"127.0.0.1:{agent_port}\"\n{}{}{}{}{}[sinks.archive]\ntype = \"file\"\npath = \"{}\"\ninputs = [\"contoso_pstn\", \"contoso_dr\", \"contoso_sms\", \"contoso_blocked\", \"contoso_dialout\"]\n",
            dir.join("state").display(),
            // The call sources read the directory: the Chargeback row needs it.
            source(
                "contoso_pstn",
                "pstn_calls",
                "api_version = \"beta\"\n[sources.contoso_pstn.directory]"
            ),
            source(
                "contoso_dr",
                "direct_routing_calls",
                "[sources.contoso_dr.directory]"
            ),
            source("contoso_sms", "sms_log", ""),
            source("contoso_blocked", "pstn_blocked_users", ""),
            source("contoso_dialout", "pstn_dialout_report", ""),
            harness.output().display(),
        ),
    )
    .unwrap();
    config
}

/// Waits until Prometheus has scraped every delivered row (calls, SMS, blocks),
/// evaluated the pool rule and taken enough scrapes for `rate()`.
async fn wait_until_every_row_is_scraped(
    http: &reqwest::Client,
    harness: &Harness,
    prometheus_port: u16,
) {
    // (Dial-out events are changes of report totals, counted by no series one for
    // one: that source is waited for by its finished poll.)
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let delivered = harness
            .events()
            .iter()
            .filter(|(_, event)| event["kind"] != "pstn_dialout_report")
            .count();
        let scraped = query(
            http,
            prometheus_port,
            "sum(pstn_calls_total) + sum(pstn_sms_total) + sum(pstn_blocked_user_events_total)",
        )
        .await
        .first()
        .map(|(_, v)| *v);
        let pools = query(http, prometheus_port, "pstn:calling_plan_pool_usage:ratio").await;
        // Every source's first poll has ended and the plan gauge, set just after it,
        // was scraped: a source may pause mid-poll (directory look-ups) with rows and
        // scrapes equal, and end its poll just before the panels are queried.
        let polled = query(
            http,
            prometheus_port,
            "count(sum by (source) (pstn_source_polls_total) > 0) + (sum(pstn_calling_plan_outbound_month_seconds) > bool 0)",
        )
        .await
        .first()
        .map(|(_, v)| *v);
        if delivered > 0
            && scraped == Some(delivered as f64)
            && !pools.is_empty()
            && polled == Some(6.0)
        {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "delivered {delivered}, Prometheus sees {scraped:?}, pool ratios {pools:?}, sources polled (+1 with the plan gauge set) {polled:?}"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    // Enough scrapes for rate() over the 15 s rate interval.
    loop {
        let samples = query(
            http,
            prometheus_port,
            "min(count_over_time(pstn_agent_ready[15s]))",
        )
        .await
        .first()
        .map_or(0.0, |(_, v)| *v);
        if samples >= 5.0 {
            break;
        }
        assert!(Instant::now() < deadline, "{samples} scrapes");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// Runs every panel query over the last minute: the queries that failed, and the
/// panels that returned data.
async fn run_panel_queries(
    http: &reqwest::Client,
    prometheus_port: u16,
    queries: &[PanelQuery],
) -> (Vec<String>, std::collections::HashSet<String>) {
    // Rounded up: a sample scraped in this second (the plan gauge, set at the end of
    // the last poll) must fall inside the range.
    let end = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        + 1;
    let (start, end) = ((end - 60).to_string(), end.to_string());
    let mut errors = Vec::new();
    let mut panels_with_data = std::collections::HashSet::new();
    for PanelQuery {
        panel,
        expr,
        instant,
    } in queries
    {
        let promql = expand(expr);
        assert!(!promql.contains('$'), "unexpanded variable in {promql}");
        let answer = if *instant {
            prometheus_api(http, prometheus_port, "query", &[("query", &promql)]).await
        } else {
            prometheus_api(
                http,
                prometheus_port,
                "query_range",
                &[
                    ("query", &promql),
                    ("start", &start),
                    ("end", &end),
                    ("step", "5"),
                ],
            )
            .await
        };
        if answer["status"] != "success" || answer.get("warnings").is_some() {
            errors.push(format!("{panel}: {promql}: {answer}"));
        } else if answer["data"]["result"]
            .as_array()
            .is_some_and(|result| !result.is_empty())
        {
            panels_with_data.insert(panel.clone());
        }
    }
    (errors, panels_with_data)
}
