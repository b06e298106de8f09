//! Delta links: a changed user picked up through one, and every way one can be lost
//! (gone, refused, failing, for another host) leading to one full read.

use super::*;

#[tokio::test]
async fn a_changed_user_is_picked_up_after_refresh_through_the_delta_link() {
    let harness = Harness::start(options()).await;
    let config = config(&harness, "", "refresh = \"2h\"", "");
    assert!(harness.once(&config).await.failed.is_empty());
    let directory = &harness.simulator.directory;
    let sales = users_in(directory, "Sales");
    assert!(sales.len() > 20);
    for index in &sales {
        directory.set_department(*index, Some("Sales & Partnerships"));
    }
    let legal = users_in(directory, "Legal");
    for index in &legal {
        directory.remove(*index);
    }
    let department_of =
        |events: &[(String, Value)], from: usize| departments_of(&events[from..], &sales);

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

/// The indexes of the directory's users in `department`.
fn users_in(directory: &pstn_agent::simulate::Directory, department: &str) -> Vec<u64> {
    (0..DEFAULT_DIRECTORY_USERS as u64)
        .filter(|index| {
            directory
                .user(*index)
                .is_some_and(|user| user["department"] == department)
        })
        .collect()
}

/// The `user.department` of each event whose caller is one of `users` ("" for none).
fn departments_of(events: &[(String, Value)], users: &[u64]) -> Vec<String> {
    events
        .iter()
        .filter(|(_, event)| {
            event["call"]["userId"]
                .as_str()
                .is_some_and(|id| users.contains(&index_of(id)) && user_id(index_of(id)) == id)
        })
        .map(|(_, event)| {
            event["user"]["department"]
                .as_str()
                .unwrap_or("")
                .to_owned()
        })
        .collect()
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
