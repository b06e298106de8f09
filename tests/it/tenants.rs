//! Many tenants in one source (`tenants`, `tenants_file`): each read as a source of
//! its own against a simulator whose tenants have calls of their own (a cross-tenant
//! mix-up would show), a tenant without consent named with its admin-consent URL while
//! the others deliver, and config problems named by key.

use crate::common;

mod ca_file;
mod open_files;
mod sighup;

use common::{Harness, NOW, at};
use pstn_agent::config::{Config, Environment};
use pstn_agent::metrics::Metrics;
use pstn_agent::model::LogKind;
use pstn_agent::shutdown::shutdown_pair;
use pstn_agent::simulate::{Lateness, SimulatorOptions};
use pstn_agent::sinks::ReopenSignal;
use pstn_agent::topology::{RunMode, RunOptions, run};
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::Command;
use std::time::Duration;

const DAY: Duration = Duration::from_secs(86_400);
const LOOKBACK_DAYS: u64 = 2;
pub(crate) const CLIENT_ID: &str = "11111111-1111-1111-1111-111111111111";

/// A simulator whose every tenant has its own calls; `unconsented` refused sign-in.
pub(crate) async fn harness(unconsented: &[&str]) -> Harness {
    Harness::start(SimulatorOptions {
        calls_per_day: 400.0,
        page_size: 100,
        lateness: Lateness::None,
        calls_per_tenant: true,
        unconsented_tenants: unconsented.iter().map(|t| (*t).to_owned()).collect(),
        ..SimulatorOptions::default()
    })
    .await
}

/// The `[sources.customers]` table reading the simulator, with `tenants` lines.
pub(crate) fn source_table(harness: &Harness, tenants: &str) -> String {
    format!(
        "[sources.customers]\ntype = \"pstn_calls\"\n{tenants}\nclient_id = \"{CLIENT_ID}\"\nclient_secret = \"s\"\nauthority_url = \"{url}\"\ngraph_url = \"{url}\"\nlookback = \"{LOOKBACK_DAYS}d\"\nlate_window = \"0s\"\nrequests_per_second = 1000\n",
        url = harness.simulator.url(),
    )
}

fn config(harness: &Harness, tenants: &str) -> Config {
    config_with_state(harness, tenants, "")
}

/// [`config`] with `state` lines (`[state] postgres_url`) at the top.
fn config_with_state(harness: &Harness, tenants: &str, state: &str) -> Config {
    let text = format!(
        "data_dir = \"{}\"\n{state}{}[sinks.archive]\ntype = \"file\"\npath = \"{}\"\ninputs = [\"customers\"]\n",
        harness.dir.path().join("state").display(),
        source_table(harness, tenants),
        harness.output().display(),
    );
    Config::parse(&text, Path::new("/"), &Environment::fixed([]))
        .unwrap_or_else(|problems| panic!("{problems:?}"))
}

/// `pstn_source_polls_total{outcome="success"}` of `tenant` of `customers` in the
/// exposition `text`, 0 before its first.
pub(crate) fn successful_polls(text: &str, tenant: &str) -> u64 {
    let wanted = format!("tenant=\"{tenant}\"");
    text.lines()
        .filter(|line| line.starts_with("pstn_source_polls_total{outcome=\"success\""))
        .find(|line| line.contains(&wanted) && line.contains("source=\"customers\""))
        .and_then(|line| line.rsplit(' ').next()?.parse().ok())
        .unwrap_or(0)
}

/// The row keys the simulator holds for `tenant` over the lookback, as seen at NOW.
pub(crate) fn expected(harness: &Harness, tenant: &str) -> BTreeSet<String> {
    let generator = harness.simulator.generator.for_tenant(tenant);
    let now = at(NOW);
    let from = now.saturating_sub(DAY * LOOKBACK_DAYS as u32);
    generator
        .visible_calls(LogKind::Pstn, from, now, false, now)
        .map(|call| {
            let mut row = String::new();
            generator.write_row(
                LogKind::Pstn,
                pstn_agent::model::ApiVersion::V1,
                &call,
                &mut row,
            );
            common::row_key(&serde_json::from_str(&row).unwrap())
        })
        .collect()
}

/// The delivered row keys by the events' `tenant_id`, each key with how often.
pub(crate) fn delivered_by_tenant(harness: &Harness) -> BTreeMap<String, BTreeMap<String, usize>> {
    let mut delivered: BTreeMap<String, BTreeMap<String, usize>> = BTreeMap::new();
    for (key, event) in harness.events() {
        assert_eq!(event["source"], "customers");
        let tenant = event["tenant_id"].as_str().unwrap().to_owned();
        *delivered.entry(tenant).or_default().entry(key).or_default() += 1;
    }
    delivered
}

const TENANTS: [&str; 3] = [
    "contoso.onmicrosoft.com",
    "22222222-2222-2222-2222-222222222222",
    "fabrikam.onmicrosoft.com",
];

#[tokio::test]
async fn three_tenants_each_deliver_their_own_rows_once_with_their_tenant_id_and_label() {
    let harness = harness(&[]).await;
    let config = config(&harness, &format!("tenants = {TENANTS:?}"));
    let report = harness.once(&config).await;
    assert_eq!(report.exit_code(), 0, "{:?}", report.failed);
    let delivered = delivered_by_tenant(&harness);
    assert_eq!(delivered.len(), 3, "{:?}", delivered.keys());
    let text = harness.metrics.encode();
    for tenant in TENANTS {
        let expected = expected(&harness, tenant);
        assert!(expected.len() > 300, "{tenant}: {} rows", expected.len());
        let got = &delivered[tenant];
        assert_eq!(
            got.keys().cloned().collect::<BTreeSet<_>>(),
            expected,
            "{tenant}: every row of its own, none of another tenant's"
        );
        assert!(got.values().all(|n| *n == 1), "{tenant}: a row twice");
        let counted: f64 = text
            .lines()
            .filter(|line| line.starts_with("pstn_calls_total{"))
            .filter(|line| {
                line.contains("source=\"customers\"")
                    && line.contains(&format!("tenant=\"{tenant}\""))
            })
            .map(|line| line.rsplit(' ').next().unwrap().parse::<f64>().unwrap())
            .sum();
        assert_eq!(counted as usize, expected.len(), "{tenant}'s label");
    }
    let (a, b) = (
        expected(&harness, TENANTS[0]),
        expected(&harness, TENANTS[1]),
    );
    assert!(a.is_disjoint(&b), "the simulator's tenants differ");
    // Each tenant kept its own progress: a second run reads nothing twice.
    let before = harness.events().len();
    let report = harness.once(&config).await;
    assert_eq!(report.exit_code(), 0, "{:?}", report.failed);
    assert_eq!(harness.events().len(), before, "a tenant repeated rows");
}

#[tokio::test]
async fn with_state_in_postgresql_each_tenant_is_a_unit_of_its_own() {
    let Some(cluster) = common::postgres::Postgres::start() else {
        return;
    };
    let harness = harness(&[]).await;
    let state = format!(
        "[state]\npostgres_url = \"{}\"\nlease_ttl = \"3s\"\n",
        cluster.url()
    );
    let config = config_with_state(&harness, &format!("tenants = {TENANTS:?}"), &state);
    for run in 0..2 {
        let report = harness.once(&config).await;
        assert_eq!(report.exit_code(), 0, "run {run}: {:?}", report.failed);
    }
    let delivered = delivered_by_tenant(&harness);
    for tenant in TENANTS {
        assert_eq!(
            delivered[tenant].keys().cloned().collect::<BTreeSet<_>>(),
            expected(&harness, tenant),
            "{tenant}"
        );
        assert!(
            delivered[tenant].values().all(|n| *n == 1),
            "{tenant}: the second run repeated rows"
        );
    }
}

#[tokio::test]
async fn an_unconsented_tenant_is_named_with_its_admin_consent_url_while_the_others_deliver() {
    let refused = "unconsented.onmicrosoft.com";
    let harness = harness(&[refused]).await;
    let config = config(
        &harness,
        &format!(
            "tenants = [\"{}\", \"{refused}\", \"{}\"]",
            TENANTS[0], TENANTS[2]
        ),
    );
    let report = harness.once(&config).await;
    assert_eq!(report.exit_code(), 1, "--once exits 1");
    assert_eq!(report.failed.len(), 1, "{:?}", report.failed);
    let (name, said) = &report.failed[0];
    assert_eq!(name, &format!("customers/{refused}"));
    assert!(said.contains("AADSTS700016"), "{said}");
    let consent = format!(
        "{}/{refused}/adminconsent?client_id={CLIENT_ID}",
        harness.simulator.url()
    );
    assert!(said.contains(&consent), "{said}");
    let delivered = delivered_by_tenant(&harness);
    for tenant in [TENANTS[0], TENANTS[2]] {
        assert_eq!(
            delivered[tenant].keys().cloned().collect::<BTreeSet<_>>(),
            expected(&harness, tenant),
            "{tenant} delivered everything despite {refused}"
        );
    }
    assert!(!delivered.contains_key(refused));
}

#[test]
fn validate_names_each_tenant_problem_by_key_and_line_and_exits_78() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("tenants.txt"),
        "# customers\ncontoso.onmicrosoft.com\n\nbad tenant\ncontoso.onmicrosoft.com  # again\n",
    )
    .unwrap();
    let source = |name: &str, tenants: &str| {
        format!(
            "[sources.{name}]\ntype = \"pstn_calls\"\n{tenants}\nclient_id = \"{CLIENT_ID}\"\nclient_secret = \"s\"\n"
        )
    };
    let text = format!(
        "data_dir = \"{}\"\n{}{}{}{}[sinks.out]\ntype = \"console\"\ninputs = [\"from_file\", \"both\", \"empty\", \"missing\"]\n",
        dir.path().join("state").display(),
        source("from_file", "tenants_file = \"tenants.txt\""),
        source(
            "both",
            "tenant_id = \"a.example\"\ntenants = [\"b.example\"]"
        ),
        source("empty", "tenants = []"),
        source("missing", "tenants_file = \"nowhere.txt\""),
    );
    let path = dir.path().join("agent.toml");
    std::fs::write(&path, text).unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_pstn-agent"))
        .args(["validate", "--config"])
        .arg(&path)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(78), "{stderr}");
    for expected in [
        "sources.from_file.tenants_file line 4: \"bad tenant\" expected a tenant GUID or domain",
        "sources.from_file.tenants_file line 5: \"contoso.onmicrosoft.com\" is listed twice",
        "sources.both.tenants: give only one of tenant_id, tenants and tenants_file (tenant_id is given too)",
        "sources.empty.tenants: names no tenant (give at least one)",
        "sources.missing.tenants_file: ",
    ] {
        assert!(stderr.contains(expected), "{expected:?} in\n{stderr}");
    }
}

#[test]
fn an_embedded_source_refuses_several_tenants_rather_than_read_one() {
    let text = format!(
        "data_dir = \"/tmp/unused\"\n[sources.customers]\ntype = \"pstn_calls\"\ntenants = {TENANTS:?}\nclient_id = \"{CLIENT_ID}\"\nclient_secret = \"s\"\n"
    );
    let Err(refused) = pstn_agent::embed::EmbeddedSource::from_toml(
        &text,
        "customers",
        Path::new("/"),
        &Environment::fixed([]),
    ) else {
        panic!("an embedded source of three tenants was accepted");
    };
    assert!(
        matches!(refused, pstn_agent::embed::EmbedError::SeveralTenants(ref name) if name == "customers"),
        "{refused}"
    );
}

#[tokio::test]
async fn each_tenants_copy_of_the_table_keeps_the_whole_list_that_sizes_its_page_cache() {
    let harness = harness(&[]).await;
    let config = config(
        &harness,
        "tenants = [\"a.example\", \"b.example\", \"c.example\"]",
    );
    let table = &config.sources[0];
    let copies: Vec<(String, usize)> = table
        .per_tenant()
        .map(|tenant| (tenant.tenant_id.clone(), tenant.tenants.len()))
        .collect();
    assert_eq!(
        copies,
        [
            ("a.example".to_owned(), 3),
            ("b.example".to_owned(), 3),
            ("c.example".to_owned(), 3)
        ]
    );
    // A tenant a SIGHUP adds: a copy of the table as re-read.
    assert_eq!(table.for_tenant("d.example").tenants.len(), 3);
}

/// Tenants between polls hold no SQLite connection (issue 28): a thousand tenants
/// asleep kept a thousand connections, about 59 kB each. Counted by the state itself:
/// descriptors cannot tell, SQLite keeps a closed connection's while others hold locks.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tenants_between_polls_keep_no_sqlite_connection_open() {
    let harness = harness(&[]).await;
    let every_second = format!("tenants = {TENANTS:?}\npoll_interval = \"1s\"");
    let config = config(&harness, &every_second);
    let metrics = Metrics::new().unwrap();
    let options = RunOptions {
        mode: RunMode::Forever,
        clock: harness.clock.clone(),
        retry: common::quick_retries(),
        reopen: ReopenSignal::default(),
        metrics: metrics.clone(),
    };
    let (trigger, shutdown) = shutdown_pair();
    let agent = tokio::spawn(async move { run(&config, options, shutdown).await });
    let polls = |tenant: &str| successful_polls(&metrics.encode(), tenant);
    common::eventually(
        "every tenant polled twice",
        Duration::from_secs(30),
        async || TENANTS.iter().all(|tenant| polls(tenant) >= 2),
    )
    .await;
    // A poll may be running at any one look; between polls none is open.
    let state = harness.dir.path().join("state").join("state.sqlite3");
    common::eventually(
        "no tenant's connection open",
        Duration::from_secs(15),
        async || pstn_agent::state::open_connections(&state) == 0,
    )
    .await;
    trigger.trigger();
    let report = agent.await.unwrap().unwrap();
    assert_eq!(report.exit_code(), 0, "{:?}", report.failed);
}
