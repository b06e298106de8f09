//! A hostile or broken token endpoint: stalls, floods, absurd numbers, secrets echoed
//! back. Each is bounded in time and memory, and nothing it says leaks a secret.

use crate::common;

use common::Harness;
use hyper::{Request, Response};
use pstn_agent::http_server::{Body, full};
use pstn_agent::simulate::SimulatorOptions;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

const ROW: &str = r#"{"id":"9c4984c7-6c3c-427d-a30c-bd0b2eacee90","startDateTime":"2024-05-20T11:30:00Z","callType":"user_out","duration":60}"#;
const SECRET: &str = "s3cr3t value/with+odd&chars";

/// How the stand-in's token endpoint answers.
#[derive(Clone, Copy)]
enum Token {
    /// Accepts the request, never answers.
    Stall,
    /// A 10 MB answer.
    Flood,
    /// A token that "expires" in u64::MAX seconds.
    Forever,
    /// 401 echoing the secret, raw and form-encoded, in a long text.
    EchoSecret,
}

fn answer(status: u16, body: impl Into<bytes::Bytes>) -> Response<Body> {
    let mut response = Response::new(full(body.into()));
    *response.status_mut() = hyper::StatusCode::from_u16(status).unwrap();
    response
}

/// A tenant whose token endpoint behaves as `token` and whose Graph serves one row.
async fn stand_in(token: Token) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let handler = Arc::new(move |request: Request<hyper::body::Incoming>| async move {
        if !request.uri().path().ends_with("/oauth2/v2.0/token") {
            return answer(200, format!(r#"{{"value":[{ROW}]}}"#));
        }
        match token {
            Token::Stall => {
                tokio::time::sleep(Duration::from_secs(3600)).await;
                answer(500, "")
            }
            Token::Flood => answer(200, vec![b' '; 10 * 1024 * 1024]),
            Token::Forever => answer(
                200,
                r#"{"token_type":"Bearer","expires_in":18446744073709551615,"access_token":"t"}"#,
            ),
            Token::EchoSecret => {
                let encoded: String =
                    url::form_urlencoded::byte_serialize(SECRET.as_bytes()).collect();
                let description = format!(
                    "AADSTS7000215: Invalid client secret provided: {SECRET} (sent as {encoded}). {}",
                    "x".repeat(5000)
                );
                answer(
                    401,
                    serde_json::json!({"error": format!("invalid_client {SECRET}"), "error_description": description})
                        .to_string(),
                )
            }
        }
    });
    tokio::spawn(pstn_agent::http_server::serve(listener, handler));
    base
}

/// `pstn-agent --once` against `url`; (exit success, stderr, seconds, events written).
async fn once(url: &str, extra: &str) -> (bool, String, f64, usize) {
    let harness = Harness::start(SimulatorOptions::default()).await;
    let path: PathBuf = harness.dir.path().join("agent.toml");
    std::fs::write(
        &path,
        format!(
            "data_dir = \"{}\"\n[sources.tenant]\ntype = \"pstn_calls\"\ntenant_id = \"t\"\nclient_id = \"11111111-1111-1111-1111-111111111111\"\nclient_secret = \"${{TEST_SECRET}}\"\nauthority_url = \"{url}\"\ngraph_url = \"{url}\"\nlookback = \"1h\"\nrequests_per_second = 1\n{extra}\n[sinks.archive]\ntype = \"file\"\npath = \"{}\"\ninputs = [\"tenant\"]\n",
            harness.dir.path().join("state").display(),
            harness.output().display(),
        ),
    )
    .unwrap();
    let started = Instant::now();
    let output = common::agent_once(&path, |command| {
        command.env("TEST_SECRET", SECRET);
    })
    .await;
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    let events = std::fs::read_to_string(harness.output())
        .map(|text| text.lines().count())
        .unwrap_or(0);
    (
        output.status.success(),
        stderr,
        started.elapsed().as_secs_f64(),
        events,
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_token_endpoint_ends_the_run_within_its_deadlines() {
    let url = stand_in(Token::Stall).await;
    let (ok, stderr, seconds, _) = once(
        &url,
        "request_timeout = \"2s\"\nretry_max_duration = \"3s\"",
    )
    .await;
    assert!(!ok, "{stderr}");
    assert!(
        stderr.contains("no answer from http://127.0.0.1:")
            || stderr.contains("no whole answer within 2s"),
        "{stderr}"
    );
    // Deadline 2 s a try, backoff bounded by 3 s: far from "for ever" (generous for CI).
    assert!(seconds < 60.0, "took {seconds} s");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_from_the_token_endpoint_is_refused_past_its_cap() {
    let url = stand_in(Token::Flood).await;
    let (ok, stderr, _, _) = once(&url, "retry_max_duration = \"2s\"").await;
    assert!(!ok, "{stderr}");
    assert!(stderr.contains("answer is over 65536 bytes"), "{stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_absurd_token_lifetime_is_clamped_not_a_panic() {
    let url = stand_in(Token::Forever).await;
    let (ok, stderr, _, events) = once(&url, "").await;
    assert!(ok, "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_eq!(events, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn entra_errors_never_repeat_the_secret_and_are_cut_short() {
    let url = stand_in(Token::EchoSecret).await;
    let (ok, stderr, _, _) = once(&url, "").await;
    assert!(!ok, "{stderr}");
    let encoded: String = url::form_urlencoded::byte_serialize(SECRET.as_bytes()).collect();
    for leak in [SECRET, encoded.as_str(), &encoded.replace('+', "%20")] {
        assert!(!stderr.contains(leak), "{leak:?} in {stderr}");
    }
    assert!(stderr.contains("AADSTS7000215"), "{stderr}");
    assert!(
        !stderr.contains(&"x".repeat(1000)),
        "the peer's text was not cut short"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_tenant_is_named_plainly_and_once_gives_up_within_retry_max_duration() {
    // A port nobody listens on.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let url = format!("http://{closed}");
    let (ok, stderr, seconds, _) = once(&url, "retry_max_duration = \"4s\"").await;
    assert!(!ok, "{stderr}");
    assert!(
        stderr.contains(&format!("cannot reach {url}")) && stderr.contains("is it running?"),
        "{stderr}"
    );
    assert!(
        stderr.to_lowercase().contains("connection refused"),
        "{stderr}"
    );
    let warnings = stderr.lines().filter(|line| line.contains("WARN")).count();
    assert!(warnings <= 5, "{warnings} warnings:\n{stderr}");
    assert!(seconds < 60.0, "took {seconds} s");
}
