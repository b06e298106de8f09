//! `[sources.NAME.directory]` against the simulated tenant: events carry the user's
//! directory attributes as CONTRACT writes them, a changed user is picked up from the
//! deltaLink after `refresh`, a missing User.Read.All leaves events unenriched with one
//! warning, a slow first round holds no row back, and redaction reaches the user's
//! fields. The chargeback metrics: tests/chargeback.rs.

mod common;

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

#[tokio::test]
async fn a_changed_user_is_picked_up_after_refresh_through_the_delta_link() {
    let harness = Harness::start(options()).await;
    let config = config(&harness, "", "refresh = \"2h\"", "");
    assert!(harness.once(&config).await.failed.is_empty());
    let directory = &harness.simulator.directory;
    let sales: Vec<u64> = (0..DEFAULT_DIRECTORY_USERS as u64)
        .filter(|index| {
            directory
                .user(*index)
                .is_some_and(|user| user["department"] == "Sales")
        })
        .collect();
    assert!(sales.len() > 20);
    for index in &sales {
        directory.set_department(*index, Some("Sales & Partnerships"));
    }
    let legal: Vec<u64> = (0..DEFAULT_DIRECTORY_USERS as u64)
        .filter(|index| {
            directory
                .user(*index)
                .is_some_and(|user| user["department"] == "Legal")
        })
        .collect();
    for index in &legal {
        directory.remove(*index);
    }
    let department_of = |events: &[(String, Value)], from: usize| -> Vec<String> {
        events[from..]
            .iter()
            .filter(|(_, event)| {
                event["call"]["userId"]
                    .as_str()
                    .is_some_and(|id| sales.contains(&index_of(id)) && user_id(index_of(id)) == id)
            })
            .map(|(_, event)| {
                event["user"]["department"]
                    .as_str()
                    .unwrap_or("")
                    .to_owned()
            })
            .collect()
    };

    // Within `refresh`: no new round, the kept attributes stand.
    let before = harness.events().len();
    harness.clock.advance(Duration::from_secs(3600));
    assert!(harness.once(&config).await.failed.is_empty());
    let events = harness.events();
    assert!(
        department_of(&events, before).iter().all(|d| d == "Sales"),
        "{:?}",
        department_of(&events, before)
    );
    assert!(
        !directory
            .requests()
            .iter()
            .any(|r| r.contains("deltatoken"))
    );

    // After `refresh`: one round from the deltaLink, which returns only the changes.
    let before = events.len();
    harness.clock.advance(Duration::from_secs(3601));
    assert!(harness.once(&config).await.failed.is_empty());
    let events = harness.events();
    let seen = department_of(&events, before);
    assert!(!seen.is_empty(), "rows of the changed users came");
    assert!(seen.iter().all(|d| d == "Sales & Partnerships"), "{seen:?}");
    let delta: Vec<String> = directory
        .requests()
        .into_iter()
        .filter(|r| r.contains("/users/delta"))
        .collect();
    let removed: Vec<&Value> = events[before..]
        .iter()
        .map(|(_, event)| event)
        .filter(|event| {
            event["call"]["userId"]
                .as_str()
                .is_some_and(|id| legal.contains(&index_of(id)))
        })
        .collect();
    assert!(!removed.is_empty(), "rows of the removed users came");
    assert!(
        removed.iter().all(|event| event.get("user").is_none()),
        "a user @removed from the directory is unknown"
    );
    assert!(
        delta.last().unwrap().contains("%24deltatoken=0"),
        "the kept deltaLink was used: {delta:?}"
    );
    assert_eq!(
        delta.len(),
        3,
        "two full pages, then one page of changes: {delta:?}"
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
    // A running agent, many polls and several directory rounds, all refused.
    let (trigger, shutdown) = shutdown_pair();
    let clock = harness.clock.clone();
    let stepper = async move {
        for _ in 0..20 {
            tokio::time::sleep(Duration::from_millis(50)).await;
            clock.advance(Duration::from_secs(120));
        }
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
        rounds >= 3,
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
async fn a_delta_link_graph_no_longer_takes_leads_to_one_full_read() {
    let harness = Harness::start(options()).await;
    let config = config(&harness, "", "refresh = \"1h\"", "");
    assert!(harness.once(&config).await.failed.is_empty());
    let directory = &harness.simulator.directory;
    directory.expire_delta_links();
    directory.set_department(0, Some("Research"));
    harness.clock.advance(Duration::from_secs(3601));
    let before = harness.events().len();
    assert!(harness.once(&config).await.failed.is_empty());
    let delta: Vec<String> = directory
        .requests()
        .into_iter()
        .filter(|r| r.contains("/users/delta"))
        .collect();
    assert_eq!(
        delta.len(),
        2 + 1 + 2,
        "full, refused deltaLink, full: {delta:?}"
    );
    assert!(delta[2].contains("%24deltatoken=0"), "{delta:?}");
    assert!(
        delta[3].starts_with("/v1.0/users/delta?%24select="),
        "{delta:?}"
    );
    let events = harness.events();
    assert!(
        events[before..]
            .iter()
            .filter(|(_, e)| e.get("user").is_some())
            .count()
            > 50,
        "events are enriched from the new full read"
    );
}

/// Requests from a deltaLink, and first pages of full reads, the directory got so far.
fn delta_and_full_reads(harness: &Harness) -> (usize, usize) {
    let requests = harness.simulator.directory.requests();
    let from_link = requests.iter().filter(|r| r.contains("deltatoken")).count();
    let full = requests
        .iter()
        .filter(|r| r.starts_with("/v1.0/users/delta?%24select="))
        .count();
    (from_link, full)
}

#[tokio::test]
async fn a_delta_link_refused_with_any_status_leads_to_one_full_read() {
    let harness = Harness::start(options()).await;
    let config = config(&harness, "", "refresh = \"1h\"", "");
    assert!(harness.once(&config).await.failed.is_empty());
    // 422, 409 or 501: Graph refuses the link; only 400, 404 and 410 fell back before.
    for (round, status) in [422, 409, 501].into_iter().enumerate() {
        harness.simulator.directory.fail_delta_links(Some(status));
        harness.clock.advance(Duration::from_secs(3601));
        let before = harness.events().len();
        assert!(harness.once(&config).await.failed.is_empty());
        assert_eq!(
            delta_and_full_reads(&harness),
            (round + 1, round + 2),
            "{status}: one refused request from the link, then a full read"
        );
        assert!(
            harness.events()[before..]
                .iter()
                .filter(|(_, e)| e.get("user").is_some())
                .count()
                > 50,
            "{status}: events are enriched from the full read"
        );
    }
}

#[tokio::test]
async fn a_delta_link_failing_three_rounds_in_a_row_gives_way_to_a_full_read_with_backoff() {
    let harness = Harness::start(options()).await;
    let config = config(&harness, "", "refresh = \"1h\"", "");
    assert!(harness.once(&config).await.failed.is_empty());
    assert_eq!(delta_and_full_reads(&harness), (0, 1));
    // A Graph that fails every request from the link (503 through the client's retries).
    harness.simulator.directory.fail_delta_links(Some(503));
    let mut rounds = 0;
    // (seconds on, whether a round starts): 1 min after the first failed round, then
    // 2 min, not at every poll; the third failure gives the link up.
    for (seconds, starts) in [
        (3601, true),
        (30, false),
        (31, true),
        (60, false),
        (61, true),
    ] {
        harness.clock.advance(Duration::from_secs(seconds));
        assert!(harness.once(&config).await.failed.is_empty());
        let (from_link, full) = delta_and_full_reads(&harness);
        assert_eq!(full, 1, "no full read yet");
        assert_eq!(
            from_link > rounds,
            starts,
            "{seconds} s on: {from_link} requests"
        );
        rounds = from_link;
    }
    // 4 min after the third failure: a full read, though links still fail.
    harness.clock.advance(Duration::from_secs(239));
    assert!(harness.once(&config).await.failed.is_empty());
    assert_eq!(
        delta_and_full_reads(&harness),
        (rounds, 1),
        "still backing off"
    );
    harness.clock.advance(Duration::from_secs(2));
    assert!(harness.once(&config).await.failed.is_empty());
    assert_eq!(delta_and_full_reads(&harness), (rounds, 2), "a full read");
    // It succeeded: back to one round per `refresh`.
    harness.clock.advance(Duration::from_secs(120));
    assert!(harness.once(&config).await.failed.is_empty());
    assert_eq!(delta_and_full_reads(&harness), (rounds, 2));
}

#[tokio::test]
async fn a_kept_delta_link_for_another_host_is_dropped_for_one_full_read() {
    let harness = Harness::start(options()).await;
    let config = config(&harness, "", "refresh = \"1h\"", "");
    assert!(harness.once(&config).await.failed.is_empty());
    // As if `graph_url` had moved: the kept link now names a host the token never goes to.
    let database = harness.dir.path().join("state").join("state.sqlite3");
    let connection = rusqlite::Connection::open(&database).unwrap();
    let changed = connection
        .execute(
            "UPDATE directory_sync SET delta_link = replace(delta_link, '127.0.0.1', 'graph.example.test')",
            [],
        )
        .unwrap();
    assert_eq!(changed, 1);
    drop(connection);
    let directory = &harness.simulator.directory;
    let full_reads_before = directory
        .requests()
        .iter()
        .filter(|r| r.starts_with("/v1.0/users/delta?%24select="))
        .count();
    harness.clock.advance(Duration::from_secs(3601));
    assert!(harness.once(&config).await.failed.is_empty());
    let requests = directory.requests();
    let full_reads = requests
        .iter()
        .filter(|r| r.starts_with("/v1.0/users/delta?%24select="))
        .count();
    assert_eq!(full_reads, full_reads_before + 1, "{requests:?}");
    assert!(
        requests.iter().all(|r| !r.contains("graph.example.test")),
        "nothing went to the foreign host: {requests:?}"
    );
    let connection = rusqlite::Connection::open(&database).unwrap();
    let kept: String = connection
        .query_row("SELECT delta_link FROM directory_sync", [], |row| {
            row.get(0)
        })
        .unwrap();
    assert!(
        kept.contains("127.0.0.1"),
        "a fresh deltaLink is kept: {kept}"
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

#[tokio::test]
async fn a_full_read_after_a_lost_delta_link_forgets_users_deleted_meanwhile() {
    let harness = Harness::start(options()).await;
    let config = config(&harness, "", "refresh = \"1h\"", "");
    assert!(harness.once(&config).await.failed.is_empty());
    let directory = &harness.simulator.directory;
    let database = harness.dir.path().join("state").join("state.sqlite3");
    let stored = |id: &str| -> Option<Option<Vec<u8>>> {
        let connection = rusqlite::Connection::open(&database).unwrap();
        connection
            .query_row(
                "SELECT attributes FROM directory_users WHERE user_id = ?1",
                [id],
                |row| row.get(0),
            )
            .ok()
    };
    let gone = user_id(3);
    assert!(
        matches!(stored(&gone), Some(Some(_))),
        "read by the first round"
    );
    // Deleted while the deltaLink that would have said so is lost.
    directory.remove(3);
    directory.expire_delta_links();
    harness.clock.advance(Duration::from_secs(3601));
    assert!(harness.once(&config).await.failed.is_empty());
    assert!(
        !matches!(stored(&gone), Some(Some(_))),
        "a user the full read did not see keeps no attributes"
    );
    assert!(
        matches!(stored(&user_id(4)), Some(Some(_))),
        "the others are kept"
    );
}
