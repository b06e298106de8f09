//! `[sources.NAME.directory]` against the simulated tenant: events carry the user's
//! directory attributes as CONTRACT writes them, a changed user is picked up from the
//! deltaLink after `refresh`, a missing User.Read.All leaves events unenriched with one
//! warning, a slow first round holds no row back, and redaction reaches the user's
//! fields. The chargeback metrics: tests/it/chargeback.rs.

use crate::common;

use common::{Harness, directory_config as config, quick_retries};
use pstn_agent::shutdown::shutdown_pair;
use pstn_agent::simulate::{DEFAULT_DIRECTORY_USERS, Lateness, SimulatorOptions, user_id};
use pstn_agent::sinks::ReopenSignal;
use pstn_agent::topology::{RunMode, RunOptions, run};
use serde_json::{Value, json};
use std::sync::{Arc, Mutex};
use std::time::Duration;

fn options() -> SimulatorOptions {
    SimulatorOptions {
        calls_per_day: 3000.0,
        lateness: Lateness::None,
        ..SimulatorOptions::default()
    }
}

/// The index of a simulated user id (its last 12 hex digits).
fn index_of(id: &str) -> u64 {
    u64::from_str_radix(&id[24..], 16).unwrap()
}

/// What CONTRACT says the event's `user` is for a simulated user: each default
/// attribute under its last path segment, absent ones left out.
fn expected_user(user: &serde_json::Map<String, Value>) -> Value {
    let mut expected = serde_json::Map::new();
    for (key, value) in [
        ("department", &user["department"]),
        ("costCenter", &user["employeeOrgData"]["costCenter"]),
        ("division", &user["employeeOrgData"]["division"]),
        ("officeLocation", &user["officeLocation"]),
        ("usageLocation", &user["usageLocation"]),
        ("companyName", &user["companyName"]),
    ] {
        if let Some(text) = value.as_str() {
            expected.insert(key.to_owned(), json!(text));
        }
    }
    Value::Object(expected)
}

#[tokio::test]
async fn events_carry_the_users_directory_attributes_as_contract_writes_them() {
    let harness = Harness::start(options()).await;
    let report = harness.once(&config(&harness, "", "", "")).await;
    assert!(report.failed.is_empty(), "{:?}", report.failed);
    let events = harness.events();
    assert!(events.len() > 1000, "{}", events.len());
    let (mut enriched, mut absent, mut without_department) = (0, 0, 0);
    for (_, event) in &events {
        let Some(id) = event["call"]["userId"].as_str() else {
            assert!(event.get("user").is_none(), "no userId, no user: {event}");
            continue;
        };
        match harness.simulator.directory.user_by_id(id) {
            Some(user) => {
                assert_eq!(event["user"], expected_user(&user), "{event}");
                enriched += 1;
                without_department += usize::from(event["user"].get("department").is_none());
            }
            None => {
                assert!(event.get("user").is_none(), "not in the directory: {event}");
                absent += 1;
            }
        }
    }
    assert!(
        enriched > 1000 && absent > 10 && without_department > 10,
        "{enriched} {absent} {without_department}"
    );
    let requests = harness.simulator.directory.requests();
    assert!(
        requests[0].starts_with("/v1.0/users/delta?%24select=id%2Cdepartment%2CemployeeOrgData%2CofficeLocation%2CusageLocation%2CcompanyName"),
        "{requests:?}"
    );
    let pages = requests
        .iter()
        .filter(|r| r.contains("/users/delta"))
        .count();
    assert_eq!(
        pages,
        DEFAULT_DIRECTORY_USERS.div_ceil(500),
        "paged: {requests:?}"
    );
    let lookups = requests
        .iter()
        .filter(|r| !r.contains("/users/delta"))
        .count();
    assert!(
        (1..=25).contains(&lookups),
        "ids absent from the directory are looked up, at most 25 a poll: {requests:?}"
    );
}

/// Everything written through `tracing` while it is the default, kept for the test.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn without_user_read_all_events_go_out_unenriched_with_one_warning_naming_it() {
    let harness = Harness::start(SimulatorOptions {
        directory_forbidden: true,
        ..options()
    })
    .await;
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);
    let config = config(&harness, "poll_interval = \"1m\"", "refresh = \"1m\"", "");
    // A running agent, many polls and several directory rounds, all refused: each
    // step of the clock past the refresh waits for the round it brings.
    let (trigger, shutdown) = shutdown_pair();
    let clock = harness.clock.clone();
    let harness_ref = &harness;
    let stepper = async move {
        for round in 1..=4 {
            let what = format!("directory round {round}");
            common::eventually(&what, Duration::from_secs(30), async || {
                harness_ref.simulator.directory.requests().len() >= round
            })
            .await;
            clock.advance(Duration::from_secs(120));
        }
        common::eventually("the call log read", Duration::from_secs(30), async || {
            harness_ref.events().len() > 1000
        })
        .await;
        trigger.trigger();
    };
    let options = RunOptions {
        mode: RunMode::Forever,
        clock: harness.clock.clone(),
        retry: quick_retries(),
        reopen: ReopenSignal::default(),
        metrics: harness.metrics.clone(),
    };
    let (report, ()) = tokio::join!(run(&config, options, shutdown), stepper);
    report.unwrap();
    let events = harness.events();
    assert!(
        events.len() > 1000,
        "the call log is read as ever: {}",
        events.len()
    );
    assert!(events.iter().all(|(_, event)| event.get("user").is_none()));
    let rounds = harness.simulator.directory.requests().len();
    assert!(
        rounds >= 4,
        "the directory was tried again each refresh: {rounds}"
    );
    let log = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    let warnings: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("User.Read.All"))
        .collect();
    assert_eq!(warnings.len(), 1, "{log}");
    assert!(
        warnings[0].contains("WARN") && warnings[0].contains("403"),
        "{}",
        warnings[0]
    );
}

#[tokio::test]
async fn a_sink_redacts_the_users_department_and_keeps_the_rest() {
    let harness = Harness::start(options()).await;
    let sink =
        "redact = { hash = [\"user.department\"], drop = [\"user.costCenter\"], key = \"${KEY}\" }";
    assert!(
        harness
            .once(&config(&harness, "", "", sink))
            .await
            .failed
            .is_empty()
    );
    let events = harness.events();
    let users: Vec<&Value> = events.iter().filter_map(|(_, e)| e.get("user")).collect();
    assert!(users.len() > 1000);
    let hashed = users
        .iter()
        .filter(|user| user.get("department").is_some())
        .count();
    assert!(
        hashed > 500,
        "departments are hashed, not dropped: {hashed}"
    );
    for user in users {
        if let Some(department) = user.get("department") {
            assert!(
                department.as_str().unwrap().starts_with("hmac-sha256:"),
                "{user}"
            );
        }
        assert!(user.get("costCenter").is_none(), "{user}");
        assert!(user.get("division").is_some(), "{user}");
    }
}

#[tokio::test]
async fn rows_go_out_while_a_slow_first_round_is_still_running_and_once_lets_it_end() {
    let harness = Harness::start(options()).await;
    let directory = &harness.simulator.directory;
    directory.set_delta_latency(Duration::from_secs(3));
    // poll_interval 2s: the poll waits 1 s for the round, whose pages take 3 s each.
    let config = config(&harness, "poll_interval = \"2s\"", "", "");
    let started = std::time::Instant::now();
    assert!(harness.once(&config).await.failed.is_empty());
    let events = harness.events();
    assert!(events.len() > 1000, "{}", events.len());
    let missing: std::collections::HashSet<&str> = events
        .iter()
        .filter(|(_, event)| event.get("user").is_none())
        .filter_map(|(_, event)| event["call"]["userId"].as_str())
        .filter(|id| directory.user_by_id(id).is_some())
        .collect();
    let enriched: std::collections::HashSet<&str> = events
        .iter()
        .filter(|(_, event)| event.get("user").is_some())
        .filter_map(|(_, event)| event["call"]["userId"].as_str())
        .collect();
    assert!(
        missing.len() > 100,
        "rows went out before the round ended: {}",
        missing.len()
    );
    assert!(
        enriched.len() <= 25,
        "only the users looked up one by one: {}",
        enriched.len()
    );
    // `--once` lets the round end before exiting, so the next run has the deltaLink.
    assert!(started.elapsed() >= Duration::from_secs(6));
    assert_eq!(
        directory
            .requests()
            .iter()
            .filter(|r| r.contains("/users/delta"))
            .count(),
        2
    );
}

#[tokio::test]
async fn slow_user_look_ups_stop_when_the_polls_time_for_the_directory_is_spent() {
    let harness = Harness::start(options()).await;
    let directory = &harness.simulator.directory;
    // Each `/users/{id}` takes 2 s; poll_interval 2s gives the directory 1 s a poll.
    directory.set_user_latency(Duration::from_secs(2));
    let config = config(&harness, "poll_interval = \"2s\"", "", "");
    assert!(harness.once(&config).await.failed.is_empty());
    let events = harness.events();
    let absent = events
        .iter()
        .filter_map(|(_, event)| event["call"]["userId"].as_str())
        .filter(|id| directory.user_by_id(id).is_none())
        .collect::<std::collections::HashSet<_>>()
        .len();
    assert!(absent > 5, "rows of users the directory lacks: {absent}");
    let look_ups = directory
        .requests()
        .iter()
        .filter(|r| r.starts_with("/v1.0/users/") && !r.starts_with("/v1.0/users/delta"))
        .count();
    assert!(
        look_ups <= 1,
        "look-ups past the poll's time for the directory: {look_ups}"
    );
}

mod delta_links;
