//! What a newcomer debugging a tenant sees: `--log-level debug` shows each request,
//! window, commit and sink batch; a `--once` run ends with one summary line.

use crate::common;

use common::Harness;
use pstn_agent::simulate::SimulatorOptions;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn debug_logs_show_requests_windows_commits_and_batches_and_once_ends_with_a_summary() {
    let harness = Harness::start(SimulatorOptions::default()).await;
    let path = harness.dir.path().join("agent.toml");
    std::fs::write(
        &path,
        format!(
            "data_dir = \"{}\"\n[sources.tenant]\ntype = \"pstn_calls\"\ntenant_id = \"t\"\nclient_id = \"11111111-1111-1111-1111-111111111111\"\nclient_secret = \"s\"\nauthority_url = \"{url}\"\ngraph_url = \"{url}\"\nlookback = \"6h\"\nrequests_per_minute = 60000\n[sinks.archive]\ntype = \"file\"\npath = \"{}\"\ninputs = [\"tenant\"]\n",
            harness.dir.path().join("state").display(),
            harness.output().display(),
            url = harness.simulator.url(),
        ),
    )
    .unwrap();
    let output = common::agent_once(&path, |command| {
        command.args(["--log-level", "debug"]);
    })
    .await;
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    for expected in [
        "window planned",
        "Graph answered",
        "status=200",
        "token issued",
        "sink answered a batch",
        "state committed",
        "window read, delivered and committed",
    ] {
        assert!(stderr.contains(expected), "{expected:?} missing:\n{stderr}");
    }
    let events = harness.events().len();
    let summary = stderr
        .lines()
        .find(|line| line.contains("once: done"))
        .unwrap_or_else(|| panic!("no summary line:\n{stderr}"));
    for expected in [
        format!("rows_delivered={events}"),
        format!("sources=\"tenant={events}\""),
        format!("sinks=\"archive={events}\""),
        "duplicates_skipped=".to_owned(),
        "seconds=".to_owned(),
    ] {
        assert!(summary.contains(&expected), "{expected} in {summary}");
    }
}

/// A `graph_url` that leads nowhere (a path Graph does not have): the 404 shows the
/// URL that was asked, so the wrong part can be seen.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_404_from_graph_names_the_url_it_asked() {
    let harness = Harness::start(SimulatorOptions::default()).await;
    let path = harness.dir.path().join("agent.toml");
    let base = format!(
        "{}/not-graph",
        harness.simulator.url().trim_end_matches('/')
    );
    std::fs::write(
        &path,
        format!(
            "data_dir = \"{}\"\n[sources.tenant]\ntype = \"pstn_calls\"\ntenant_id = \"t\"\nclient_id = \"11111111-1111-1111-1111-111111111111\"\nclient_secret = \"s\"\nauthority_url = \"{url}\"\ngraph_url = \"{base}\"\nlookback = \"30m\"\n[sinks.archive]\ntype = \"file\"\npath = \"{}\"\ninputs = [\"tenant\"]\n",
            harness.dir.path().join("state").display(),
            harness.output().display(),
            url = harness.simulator.url(),
        ),
    )
    .unwrap();
    let output = common::agent_once(&path, |_| {}).await;
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "Graph refused GET {base}/v1.0/communications/callRecords/getPstnCalls("
        )) && stderr.contains("HTTP 404"),
        "{stderr}"
    );
}

/// Entra down (its address answers nothing): the log says the token request failed,
/// not Graph, which was never asked.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn entra_being_down_is_logged_as_an_entra_failure_not_a_graph_one() {
    let harness = Harness::start(SimulatorOptions::default()).await;
    let path = harness.dir.path().join("agent.toml");
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let entra = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    std::fs::write(
        &path,
        format!(
            "data_dir = \"{}\"\n[sources.tenant]\ntype = \"pstn_calls\"\ntenant_id = \"t\"\nclient_id = \"11111111-1111-1111-1111-111111111111\"\nclient_secret = \"s\"\nauthority_url = \"{entra}\"\ngraph_url = \"{url}\"\nlookback = \"30m\"\nretry_max_duration = \"2s\"\n[sinks.archive]\ntype = \"file\"\npath = \"{}\"\ninputs = [\"tenant\"]\n",
            harness.dir.path().join("state").display(),
            harness.output().display(),
            url = harness.simulator.url(),
        ),
    )
    .unwrap();
    let output = common::agent_once(&path, |_| {}).await;
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("Entra ID token request failed; retrying"),
        "{stderr}"
    );
    assert!(!stderr.contains("Graph request failed"), "{stderr}");
}
