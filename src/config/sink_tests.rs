//! A sink's keys read from a whole file: OTLP's, `redact`, `retry_max_duration`, each
//! problem naming its key.

use super::tests::{MINIMAL, env, problems_of};
use super::{Config, Environment, SinkKind};
use std::path::Path;
use std::time::Duration;

#[test]
fn otlp_and_redact_problems_name_their_keys() {
    let text = format!(
        "{MINIMAL}\n[sinks.siem]\ntype = \"otlp\"\ninputs = [\"contoso_pstn\"]\nendpoint = \"http://collector.example.com:4317\"\nprotocol = \"http/json\"\nheaders = {{ authorization = \"Bearer t\" }}\nredact = {{ hash = [\"callerNumber\"] }}\n"
    );
    let problems = problems_of(&text);
    for key in [
        "sinks.siem.protocol: ",
        "sinks.siem.headers: would be sent in clear text",
        "sinks.siem.redact.key: required",
    ] {
        assert!(
            problems.iter().any(|p| p.starts_with(key)),
            "{key} in {problems:?}"
        );
    }
    let no_endpoint =
        format!("{MINIMAL}\n[sinks.siem]\ntype = \"otlp\"\ninputs = [\"contoso_pstn\"]\n");
    assert!(
        problems_of(&no_endpoint).contains(&"sinks.siem.endpoint: missing (required)".to_owned())
    );
}

#[test]
fn otel_service_name_is_respected_unless_configured() {
    let text = format!(
        "{MINIMAL}\n[sinks.siem]\ntype = \"otlp\"\ninputs = [\"contoso_pstn\"]\nendpoint = \"https://otel.example.com\"\n"
    );
    let env = Environment::fixed([
        ("GRAPH_CLIENT_SECRET".to_owned(), "x".to_owned()),
        ("OTEL_SERVICE_NAME".to_owned(), "telephony-audit".to_owned()),
    ]);
    let config = Config::parse(&text, Path::new("/etc"), &env).unwrap();
    let SinkKind::Otlp(otlp) = &config
        .sinks
        .iter()
        .find(|sink| sink.name == "siem")
        .unwrap()
        .kind
    else {
        panic!()
    };
    assert_eq!(otlp.service_name, "telephony-audit");
}

#[test]
fn retry_max_duration_defaults_to_three_minutes_and_a_bad_one_is_one_problem_naming_it() {
    let config = Config::parse(MINIMAL, Path::new("/etc"), &env()).unwrap();
    assert_eq!(config.sinks[0].retry_max_duration, Duration::from_secs(180));
    let short = MINIMAL.replace(
        "inputs = [\"contoso_pstn\"]",
        "inputs = [\"contoso_pstn\"]\nretry_max_duration = \"2s\"",
    );
    let config = Config::parse(&short, Path::new("/etc"), &env()).unwrap();
    assert_eq!(config.sinks[0].retry_max_duration, Duration::from_secs(2));
    let bad = MINIMAL.replace(
        "inputs = [\"contoso_pstn\"]",
        "inputs = [\"contoso_pstn\"]\nretry_max_duration = \"three minutes\"",
    );
    let problems = problems_of(&bad);
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert!(
        problems[0].starts_with("sinks.stdout.retry_max_duration: "),
        "{problems:?}"
    );
}

#[test]
fn a_misspelt_redaction_field_or_a_weak_key_is_a_problem_with_a_suggestion() {
    let with = |redact: &str| {
        problems_of(&format!(
            "{MINIMAL}\n[sinks.archive]\ntype = \"file\"\npath = \"/tmp/x.jsonl\"\ninputs = [\"contoso_pstn\"]\nredact = {redact}\n"
        ))
    };
    let strong = "k3y-0123456789abcdef0123456789abcdef";
    let problems = with(&format!(
        "{{ hash = [\"CallerNumber\"], drop = [\"userDisplayname\", \"colour\"], key = \"{strong}\" }}"
    ));
    for expected in [
        "sinks.archive.redact.hash[0]: \"CallerNumber\" is not a field of the rows this sink takes; did you mean \"callerNumber\"?",
        "sinks.archive.redact.drop[0]: \"userDisplayname\" is not a field of the rows this sink takes; did you mean \"userDisplayName\"?",
        "sinks.archive.redact.drop[1]: \"colour\" is not a field of the rows this sink takes",
    ] {
        assert!(
            problems.iter().any(|p| p == expected),
            "{expected} in {problems:?}"
        );
    }
    for weak in ["0123456789abcdef", &"a".repeat(40)] {
        let problems = with(&format!(
            "{{ hash = [\"callerNumber\"], key = \"{weak}\" }}"
        ));
        assert!(
            problems
                .iter()
                .any(|p| p.starts_with("sinks.archive.redact.key: ")),
            "{weak}: {problems:?}"
        );
    }
    let good = format!(
        "{MINIMAL}\n[sinks.archive]\ntype = \"file\"\npath = \"/tmp/x.jsonl\"\ninputs = [\"contoso_pstn\"]\nredact = {{ hash = [\"callerNumber\"], key = \"{strong}\" }}\n"
    );
    assert!(Config::parse(&good, Path::new("/etc"), &env()).is_ok());
}

#[test]
fn a_plain_http_sink_endpoint_off_loopback_needs_insecure_plaintext() {
    let sink = |extra: &str| {
        format!(
            "{MINIMAL}\n[sinks.siem]\ntype = \"otlp\"\ninputs = [\"contoso_pstn\"]\nendpoint = \"http://collector.example.com:4317\"\n{extra}"
        )
    };
    let problems = problems_of(&sink(""));
    assert!(
        problems.iter().any(|p| p.starts_with(
            "sinks.siem.endpoint: plain http would carry every call record in clear text"
        )),
        "{problems:?}"
    );
    assert!(
        Config::parse(
            &sink("insecure_plaintext = true\n"),
            Path::new("/etc"),
            &env()
        )
        .is_ok()
    );
    let loopback = sink("").replace("collector.example.com", "127.0.0.1");
    assert!(Config::parse(&loopback, Path::new("/etc"), &env()).is_ok());
}
