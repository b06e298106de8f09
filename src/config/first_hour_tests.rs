//! What a new user gets wrong in the first hour (issue 29), each said by validate: a
//! versioned `graph_url`, a tenant that is not one, `$VAR` without braces, a missing
//! secret variable, and every problem of one sink at once.

use super::minimal_config::{MINIMAL, parse};

fn with_source_lines(lines: &str) -> String {
    MINIMAL.replace(
        "type = \"pstn_calls\"",
        &format!("type = \"pstn_calls\"\n{lines}"),
    )
}

fn one_problem(text: &str) -> String {
    let problems = parse(text).unwrap_err();
    assert_eq!(problems.len(), 1, "{problems:?}");
    problems[0].clone()
}

#[test]
fn a_graph_url_ending_in_the_api_version_is_refused_saying_what_to_write() {
    for (url, base) in [
        (
            "https://graph.microsoft.com/v1.0",
            "https://graph.microsoft.com",
        ),
        (
            "https://graph.microsoft.com/beta/",
            "https://graph.microsoft.com",
        ),
        (
            "https://proxy.example.com/graph/v1.0",
            "https://proxy.example.com/graph",
        ),
    ] {
        let problem = one_problem(&with_source_lines(&format!("graph_url = \"{url}\"")));
        assert!(
            problem.starts_with("sources.contoso_pstn.graph_url: ends in the API version")
                && problem.contains(&format!("graph_url = \"{base}\""))
                && problem.contains("api_version selects"),
            "{problem}"
        );
    }
    // A base with a path of its own (a proxy) stays allowed.
    assert!(
        parse(&with_source_lines(
            "graph_url = \"https://proxy.example.com/graph\""
        ))
        .is_ok()
    );
}

#[test]
fn a_tenant_that_names_no_one_tenant_or_is_cut_short_is_refused_and_quoted() {
    for (tenant, says) in [
        ("common", "names no one tenant"),
        ("Organizations", "names no one tenant"),
        ("consumers", "names no one tenant"),
        ("72f988bf-86f1-41af-91ab", "cut short"),
        ("contoso onmicrosoft", "GUID or domain"),
    ] {
        let text = MINIMAL.replace("00000000-0000-0000-0000-000000000000", tenant);
        let problem = one_problem(&text);
        assert!(
            problem.starts_with(&format!("sources.contoso_pstn.tenant_id: {tenant:?} "))
                && problem.contains(says),
            "{tenant}: {problem}"
        );
    }
    for tenant in [
        "72f988bf-86f1-41af-91ab-2d7cd011db47",
        "contoso.onmicrosoft.com",
    ] {
        let text = MINIMAL.replace("00000000-0000-0000-0000-000000000000", tenant);
        assert!(parse(&text).is_ok(), "{tenant}");
    }
}

#[test]
fn a_secret_written_as_a_bare_variable_is_refused_not_taken_literally() {
    let text = MINIMAL.replace(
        "client_secret = \"s\"",
        "client_secret = \"$GRAPH_CLIENT_SECRET\"",
    );
    assert_eq!(
        one_problem(&text),
        "sources.contoso_pstn.client_secret: $GRAPH_CLIENT_SECRET is taken literally, not from the environment: write \"${GRAPH_CLIENT_SECRET}\""
    );
    let literal = MINIMAL.replace("client_secret = \"s\"", "client_secret = \"a$b~c\"");
    assert!(
        parse(&literal).is_ok(),
        "a secret with a $ inside is a secret"
    );
}

#[test]
fn a_missing_secret_variable_is_one_line_suggesting_no_default() {
    let text = format!(
        "{MINIMAL}[sources.second]\ntype = \"direct_routing_calls\"\ntenant_id = \"contoso.onmicrosoft.com\"\nclient_id = \"11111111-1111-1111-1111-111111111111\"\nclient_secret = \"${{GRAPH_CLIENT_SECRET}}\"\n"
    )
    .replace("client_secret = \"s\"", "client_secret = \"${GRAPH_CLIENT_SECRET}\"")
    .replace("inputs = [\"contoso_pstn\"]", "inputs = [\"contoso_pstn\", \"second\"]");
    let problem = one_problem(&text);
    assert!(
        problem.starts_with("sources.contoso_pstn.client_secret: environment variable GRAPH_CLIENT_SECRET is not set")
            && problem.ends_with("; also named by sources.second.client_secret")
            && !problem.contains("default"),
        "{problem}"
    );
    // A key that is no secret still learns about defaults.
    let poll = with_source_lines("poll_interval = \"${POLL}\"");
    assert!(one_problem(&poll).contains("${POLL:-default}"));
}

#[test]
fn max_delay_beyond_late_window_says_both_as_durations() {
    let problem = one_problem(&with_source_lines(
        "late_window = \"6h\"\nmax_delay = \"7h\"",
    ));
    assert!(problem.contains("at most late_window (6h)"), "{problem}");
}

#[test]
fn every_problem_of_one_sink_is_said_at_once() {
    let sentinel = "[sinks.sentinel]\ntype = \"azure_logs_ingestion\"\ninputs = [\"contoso_pstn\", \"dr\"]\nendpoint = \"https://dce.example.com\"\ntenant_id = \"contoso.onmicrosoft.com\"\nclient_id = \"22222222-2222-2222-2222-222222222222\"\nclient_secret = \"m\"\ndcr_immutable_id = \"dcr-1\"\nstream_name = \"Custom-PstnCalls\"\n";
    let text = format!(
        "{MINIMAL}[sources.dr]\ntype = \"direct_routing_calls\"\ntenant_id = \"contoso.onmicrosoft.com\"\nclient_id = \"11111111-1111-1111-1111-111111111111\"\nclient_secret = \"s\"\n{sentinel}"
    );
    let problems = parse(&text).unwrap_err();
    for key in ["dcr_immutable_id", "stream_name"] {
        assert!(
            problems
                .iter()
                .any(|p| p.starts_with(&format!("sinks.sentinel.{key}: "))),
            "{key}: {problems:?}"
        );
    }
    let redacted = MINIMAL.replace(
        "inputs = [\"contoso_pstn\"]",
        "inputs = [\"contoso_pstn\"]\nredact = { hash = [\"CallerNumber\"], key = \"short\" }",
    );
    let problems = parse(&redacted).unwrap_err();
    assert_eq!(problems.len(), 2, "{problems:?}");
    assert!(
        problems[0].starts_with("sinks.stdout.redact.key: "),
        "{problems:?}"
    );
    assert!(
        problems[1].starts_with("sinks.stdout.redact.hash[0]: \"CallerNumber\" is not a field"),
        "{problems:?}"
    );
}

#[test]
fn a_bare_variable_in_a_header_or_a_redaction_key_is_refused_too() {
    let text = MINIMAL.replace(
        "type = \"console\"",
        "type = \"otlp\"\nendpoint = \"http://127.0.0.1:4317\"\nheaders = { authorization = \"Bearer $SIEM_TOKEN\" }\nredact = { drop = [\"callerNumber\"], key = \"$PSTN_REDACT_KEY\" }",
    );
    let problems = parse(&text).unwrap_err();
    assert_eq!(
        problems,
        [
            "sinks.stdout.headers.authorization: $SIEM_TOKEN is taken literally, not from the environment: write ${SIEM_TOKEN}",
            "sinks.stdout.redact.key: $PSTN_REDACT_KEY is taken literally, not from the environment: write \"${PSTN_REDACT_KEY}\"",
        ]
    );
}
