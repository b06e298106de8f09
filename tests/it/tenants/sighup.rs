//! The real binary with a `tenants_file`, re-read on SIGHUP: an added tenant delivers,
//! a removed one stops polling, a re-added one repeats nothing, a file that no longer
//! reads is logged and the running set kept; an unconsented tenant is retried with
//! backoff while the others deliver.

use super::{CLIENT_ID, delivered_by_tenant, expected, harness, source_table, successful_polls};
use crate::common::postgres::Postgres;
use crate::common::{self, Harness, NOW, tools::free_port};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

const A: &str = "contoso.onmicrosoft.com";
const B: &str = "22222222-2222-2222-2222-222222222222";
const C: &str = "fabrikam.onmicrosoft.com";
const REFUSED: &str = "unconsented.onmicrosoft.com";

/// The agent, killed when the test ends however it ends.
struct Agent(Child);

impl Drop for Agent {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Agent {
    fn signal(&self, name: &str) {
        let status = Command::new("kill")
            .arg(format!("-{name}"))
            .arg(self.0.id().to_string())
            .status()
            .unwrap();
        assert!(status.success());
    }
}

fn write_tenants(path: &Path, tenants: &[&str]) {
    std::fs::write(path, format!("# customers\n{}\n", tenants.join("\n"))).unwrap();
}

fn start(harness: &Harness, port: u16) -> (Agent, PathBuf, PathBuf) {
    start_with(harness, port, "", &[A, B, REFUSED])
}

/// The agent with `state` lines (`[state] postgres_url`) reading `tenants` at start.
fn start_with(
    harness: &Harness,
    port: u16,
    state: &str,
    tenants: &[&str],
) -> (Agent, PathBuf, PathBuf) {
    let dir = harness.dir.path();
    let file = dir.join("tenants.txt");
    write_tenants(&file, tenants);
    let tenants = file;
    let text = format!(
        "data_dir = \"{}\"\n{state}[api]\naddress = \"127.0.0.1:{port}\"\n{}poll_interval = \"1s\"\n[sinks.archive]\ntype = \"file\"\npath = \"{}\"\ninputs = [\"customers\"]\n",
        dir.join("state").display(),
        source_table(harness, "tenants_file = \"tenants.txt\""),
        harness.output().display(),
    );
    let config = dir.join("agent.toml");
    std::fs::write(&config, text).unwrap();
    let log = dir.join("agent.log");
    let child = Command::new(env!("CARGO_BIN_EXE_pstn-agent"))
        .arg("--config")
        .arg(&config)
        .args(["--clock-start", NOW, "--time-scale", "0"])
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    (Agent(child), tenants, log)
}

/// GET `path` of the agent's api listener.
async fn get(port: u16, path: &str) -> reqwest::Response {
    let client = pstn_agent::topology::http_client().unwrap();
    client
        .get(format!("http://127.0.0.1:{port}{path}"))
        .send()
        .await
        .unwrap()
}

/// Successful polls of `tenant` so far, from the agent's `/metrics`.
async fn polls(port: u16, tenant: &str) -> u64 {
    successful_polls(&get(port, "/metrics").await.text().await.unwrap(), tenant)
}

/// Whether `/metrics` has `tenant`'s last success (gone once its tenant is removed, so
/// `PstnSourceStalled` does not fire for a tenant nobody reads).
async fn has_last_success(port: u16, tenant: &str) -> bool {
    let text = get(port, "/metrics").await.text().await.unwrap();
    let wanted = format!("tenant=\"{tenant}\"");
    text.lines().any(|line| {
        line.starts_with("pstn_source_last_success_timestamp_seconds{") && line.contains(&wanted)
    })
}

fn log_lines(log: &Path, containing: &[&str]) -> usize {
    std::fs::read_to_string(log)
        .unwrap_or_default()
        .lines()
        .filter(|line| containing.iter().all(|part| line.contains(part)))
        .count()
}

async fn delivered_all(harness: &Harness, tenant: &str) {
    let expected = expected(harness, tenant);
    common::eventually(
        &format!("{tenant} delivering its rows"),
        Duration::from_secs(60),
        async || {
            delivered_by_tenant(harness)
                .get(tenant)
                .is_some_and(|got| got.len() == expected.len())
        },
    )
    .await;
}

/// Polls of `tenant` go on (`moving`) or not over three poll intervals.
async fn assert_polling(port: u16, tenant: &str, moving: bool) {
    let before = polls(port, tenant).await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let after = polls(port, tenant).await;
    assert_eq!(
        after > before,
        moving,
        "{tenant}: polls {before} then {after}"
    );
}

#[tokio::test]
async fn sighup_starts_added_tenants_stops_removed_ones_and_a_returning_one_repeats_nothing() {
    let harness = harness(&[REFUSED]).await;
    let port = free_port();
    let (agent, tenants, log) = start(&harness, port);
    delivered_all(&harness, A).await;
    delivered_all(&harness, B).await;
    // The unconsented tenant: named with its admin-consent URL, tried again with backoff.
    let consent = format!("{REFUSED}/adminconsent?client_id={CLIENT_ID}");
    common::eventually(
        "the refused tenant tried twice",
        Duration::from_secs(30),
        async || {
            log_lines(
                &log,
                &["trying it again later", REFUSED, &consent, "AADSTS700016"],
            ) >= 2
        },
    )
    .await;

    // /readyz names the failing tenant beside its source.
    let readyz = get(port, "/readyz").await;
    assert_eq!(readyz.status(), 503);
    let body = readyz.text().await.unwrap();
    assert!(
        body.contains(&format!("sources.customers/{REFUSED}")),
        "{body}"
    );
    assert!(!body.contains(&format!("customers/{A}")), "{body}");

    write_tenants(&tenants, &[A, C]);
    agent.signal("HUP");
    delivered_all(&harness, C).await;
    common::eventually("B stopped", Duration::from_secs(10), async || {
        log_lines(&log, &["tenant removed", B]) == 1
    })
    .await;
    assert_polling(port, B, false).await;
    assert_polling(port, A, true).await;
    assert!(!has_last_success(port, B).await, "B's progress left behind");
    assert!(has_last_success(port, A).await);

    // A file that no longer reads: each problem logged, the running set kept.
    std::fs::write(&tenants, format!("{A}\nnot a tenant\n")).unwrap();
    agent.signal("HUP");
    common::eventually("the bad line logged", Duration::from_secs(10), async || {
        log_lines(&log, &["tenants_file not applied", "tenants_file line 2"]) == 1
    })
    .await;
    assert_polling(port, C, true).await;

    let b_before = delivered_by_tenant(&harness)[B].clone();
    write_tenants(&tenants, &[A, B, C]);
    agent.signal("HUP");
    let polled = polls(port, B).await;
    common::eventually("B polling again", Duration::from_secs(15), async || {
        polls(port, B).await >= polled + 2
    })
    .await;
    let delivered = delivered_by_tenant(&harness);
    assert_eq!(delivered[B], b_before, "the returning tenant repeated rows");
    for (tenant, keys) in &delivered {
        assert!(keys.values().all(|n| *n == 1), "{tenant}: a row twice");
    }
    assert!(!delivered.contains_key(REFUSED));
    agent.signal("TERM");
}

/// With state in PostgreSQL: SIGHUP changes the replica's units as in SQLite mode. An
/// added tenant becomes a unit and delivers, a removed one stops and its lease is given
/// back (free in PostgreSQL, never taken again), a file that no longer reads changes
/// nothing, a re-added one is taken again under the next generation and repeats nothing.
#[tokio::test]
async fn with_state_in_postgresql_sighup_adds_and_removes_units() {
    let Some(cluster) = Postgres::start() else {
        return;
    };
    let harness = harness(&[]).await;
    let port = free_port();
    let state = format!(
        "[state]\npostgres_url = \"{}\"\nlease_ttl = \"2s\"\nreplica_name = \"replica-a\"\n",
        cluster.url()
    );
    let (agent, tenants, log) = start_with(&harness, port, &state, &[A, B]);
    delivered_all(&harness, A).await;
    delivered_all(&harness, B).await;

    write_tenants(&tenants, &[A, C]);
    agent.signal("HUP");
    delivered_all(&harness, C).await;
    common::eventually("B stopped", Duration::from_secs(10), async || {
        log_lines(&log, &["tenant removed", B]) == 1
    })
    .await;
    let (client, connection) = tokio_postgres::connect(&cluster.url(), tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(connection);
    let lease = async |tenant: &str| -> (Option<String>, i64) {
        let row = client
            .query_one(
                "SELECT holder, generation FROM leases WHERE tenant = $1",
                &[&tenant],
            )
            .await
            .unwrap();
        (row.get(0), row.get(1))
    };
    common::eventually("B's lease given back", Duration::from_secs(5), async || {
        lease(B).await.0.is_none()
    })
    .await;
    let (_, generation) = lease(B).await;
    assert_polling(port, B, false).await;
    assert_polling(port, A, true).await;
    assert!(!has_last_success(port, B).await, "B's progress left behind");
    assert!(has_last_success(port, A).await);
    assert_eq!(lease(B).await, (None, generation), "B not taken again");

    // A file that no longer reads: logged, the units kept.
    std::fs::write(&tenants, format!("{A}\nnot a tenant\n")).unwrap();
    agent.signal("HUP");
    common::eventually("the bad line logged", Duration::from_secs(10), async || {
        log_lines(&log, &["tenants_file not applied", "tenants_file line 2"]) == 1
    })
    .await;
    assert_polling(port, C, true).await;

    let b_before = delivered_by_tenant(&harness)[B].clone();
    write_tenants(&tenants, &[A, B, C]);
    agent.signal("HUP");
    let polled = polls(port, B).await;
    common::eventually("B polling again", Duration::from_secs(15), async || {
        polls(port, B).await >= polled + 2
    })
    .await;
    assert_eq!(
        lease(B).await,
        (Some("replica-a".to_owned()), generation + 1)
    );
    let delivered = delivered_by_tenant(&harness);
    assert_eq!(delivered[B], b_before, "the returning tenant repeated rows");
    for (tenant, keys) in &delivered {
        assert!(keys.values().all(|n| *n == 1), "{tenant}: a row twice");
    }
    agent.signal("TERM");
}
