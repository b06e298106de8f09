use super::*;
use crate::model::ApiVersion;
use std::time::Duration;

pub(super) const MINIMAL: &str = r#"
data_dir = "/tmp/pstn"
[sources.contoso_pstn]
type = "pstn_calls"
tenant_id = "00000000-0000-0000-0000-000000000000"
client_id = "11111111-1111-1111-1111-111111111111"
client_secret = "${GRAPH_CLIENT_SECRET}"
[sinks.stdout]
type = "console"
inputs = ["contoso_pstn"]
"#;

pub(super) fn env() -> Environment {
    Environment::fixed([(
        "GRAPH_CLIENT_SECRET".to_owned(),
        "value-of-secret".to_owned(),
    )])
}

pub(super) fn problems_of(text: &str) -> Vec<String> {
    Config::parse(text, Path::new("/etc"), &env())
        .unwrap_err()
        .lines()
}

#[test]
fn a_minimal_file_gets_the_documented_defaults() {
    let config = Config::parse(MINIMAL, Path::new("/etc"), &env()).unwrap();
    let source = &config.sources[0];
    assert_eq!(source.poll_interval, Duration::from_secs(300));
    assert_eq!(source.lookback, Duration::from_secs(7 * 86_400));
    assert_eq!(source.late_window, Duration::from_secs(72 * 3600));
    assert_eq!(source.graph_url.as_str(), "https://graph.microsoft.com/");
    assert_eq!(config.api_address.to_string(), "127.0.0.1:9464");
    assert!(
        matches!(&source.credential, Credential::Secret(secret) if secret.expose() == "value-of-secret")
    );
}

#[test]
fn every_problem_is_reported_on_its_own_line_naming_its_key() {
    let text = MINIMAL
        .replace(
            "type = \"pstn_calls\"",
            "type = \"pstn_calls\"\npoll_interval = \"5 minutes\"\npoll_intervall = \"5m\"",
        )
        .replace(
            "inputs = [\"contoso_pstn\"]",
            "inputs = [\"contoso_pstn\", \"fabrikam\"]",
        );
    let problems = problems_of(&text);
    assert!(
        problems
            .iter()
            .any(|p| p.starts_with("sources.contoso_pstn.poll_interval: ")),
        "{problems:?}"
    );
    assert!(
        problems
            .iter()
            .any(|p| p.starts_with("sources.contoso_pstn.poll_intervall: unknown key")),
        "{problems:?}"
    );
    assert!(
        problems
            .iter()
            .any(|p| p.starts_with("sinks.stdout.inputs[1]: \"fabrikam\" names no source")),
        "{problems:?}"
    );
}

#[test]
fn a_missing_environment_variable_is_named_with_its_key() {
    let problems = Config::parse(MINIMAL, Path::new("/etc"), &Environment::fixed([]))
        .unwrap_err()
        .lines();
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert!(problems[0].starts_with("sources.contoso_pstn.client_secret: "));
    assert!(problems[0].contains("GRAPH_CLIENT_SECRET"));
}

#[test]
fn plain_http_is_refused_except_for_loopback() {
    let remote = MINIMAL.replace(
        "client_secret",
        "graph_url = \"http://graph.example.com\"\nclient_secret",
    );
    assert!(
        problems_of(&remote)
            .iter()
            .any(|p| p.starts_with("sources.contoso_pstn.graph_url: must use https"))
    );
    let loopback = MINIMAL.replace(
        "client_secret",
        "graph_url = \"http://127.0.0.1:8080\"\nclient_secret",
    );
    assert!(Config::parse(&loopback, Path::new("/etc"), &env()).is_ok());
}

#[test]
fn a_source_no_sink_takes_is_an_error() {
    let text = format!(
        "{MINIMAL}\n[sources.other]\ntype = \"direct_routing_calls\"\ntenant_id = \"t\"\nclient_id = \"11111111-1111-1111-1111-111111111111\"\nclient_secret = \"x\"\n"
    );
    assert!(
        problems_of(&text)
            .contains(&"sources.other: no sink takes this source in its inputs".to_owned())
    );
}

#[test]
fn unknown_top_level_keys_and_bad_toml_are_reported() {
    assert!(
        problems_of(&format!("dat_dir = \"x\"\n{MINIMAL}"))
            .contains(&"dat_dir: unknown key; did you mean \"data_dir\"?".to_owned())
    );
    let broken = problems_of("[sources.x\n");
    assert!(
        broken[0].starts_with("line 1: not valid TOML"),
        "{broken:?}"
    );
}

#[test]
fn no_source_is_said_unless_a_problem_is_about_the_sources_table_itself() {
    let sinks = "[sinks.stdout]\ntype = \"console\"\ninputs = [\"x\"]\n";
    // A problem inside [sources] says enough: no second line that none is configured.
    let inside = problems_of(&format!("[sources.x]\ntype = \"faxes\"\n{sinks}"));
    assert!(
        inside.iter().all(|p| !p.starts_with("sources: ")),
        "{inside:?}"
    );
    // A table misspelt at the top level (`[source.x]`, `[sourcess.x]`) leaves none.
    for misspelt in ["source", "sourcess"] {
        let problems = problems_of(&format!("[{misspelt}.x]\ntype = \"pstn_calls\"\n{sinks}"));
        assert!(
            problems
                .contains(&"sources: no source configured (add a [sources.NAME] table)".to_owned()),
            "{misspelt}: {problems:?}"
        );
    }
}

#[test]
fn the_secret_value_never_appears_in_problems_or_debug_output() {
    let text = MINIMAL
        .replace("poll", "x")
        .replace("type = \"console\"", "type = \"consol\"");
    let problems = problems_of(&text).join("\n");
    assert!(!problems.contains("value-of-secret"));
    let config = Config::parse(MINIMAL, Path::new("/etc"), &env()).unwrap();
    assert!(!format!("{config:?}").contains("value-of-secret"));
}

/// The example in the project's contract, verbatim: it must keep validating.
const CONTRACT_EXAMPLE: &str = r#"
data_dir = "/var/lib/pstn-agent"            # state: watermarks and ids already delivered

[api]                                        # one HTTP listener
address = "127.0.0.1:9464"                   # GET /metrics, /healthz, /readyz

[sources.contoso_pstn]
type = "pstn_calls"                          # or "direct_routing_calls"
tenant_id = "00000000-0000-0000-0000-000000000000"
client_id = "11111111-1111-1111-1111-111111111111"
client_secret = "${GRAPH_CLIENT_SECRET}"     # or: client_certificate = "app.pem", client_private_key = "app.key"
authority_url = "https://login.microsoftonline.com"   # default; a national cloud changes
graph_url = "https://graph.microsoft.com"              # both of these
api_version = "v1.0"                         # default; "beta" also accepted
poll_interval = "5m"
lookback = "7d"                              # where the very first run starts
late_window = "72h"                          # rows that show up this late are still caught, once
requests_per_second = 5                      # client-side cap for this source

[sinks.stdout]
type = "console"                             # one JSON event per line
inputs = ["contoso_pstn"]

[sinks.archive]
type = "file"
path = "/var/log/pstn-agent/calls.jsonl"
inputs = ["contoso_pstn"]

[sinks.siem]
type = "otlp"                                # OTLP logs
inputs = ["contoso_pstn"]
endpoint = "http://127.0.0.1:4317"
protocol = "grpc"                            # or "http/protobuf" (then usually port 4318)
headers = { authorization = "Bearer ${SIEM_TOKEN}" }
"#;

#[test]
fn the_contract_example_validates_as_written() {
    let env = Environment::fixed([
        ("GRAPH_CLIENT_SECRET".to_owned(), "x".to_owned()),
        ("SIEM_TOKEN".to_owned(), "siem-secret-token".to_owned()),
    ]);
    let config = Config::parse(CONTRACT_EXAMPLE, Path::new("/etc"), &env).unwrap();
    let otlp = config
        .sinks
        .iter()
        .find(|sink| sink.name == "siem")
        .unwrap();
    let SinkKind::Otlp(otlp) = &otlp.kind else {
        panic!("not an otlp sink")
    };
    assert_eq!(otlp.protocol, OtlpProtocol::Grpc);
    assert_eq!(otlp.service_name, "pstn-agent");
    assert!(
        !format!("{config:?}").contains("siem-secret-token"),
        "header values are secrets"
    );
}

#[test]
fn the_default_api_address_text_and_parts_agree() {
    let parsed: std::net::SocketAddr = super::DEFAULT_API_ADDRESS.parse().unwrap();
    assert_eq!(
        parsed,
        std::net::SocketAddr::from(super::DEFAULT_API_SOCKET)
    );
}

#[test]
fn a_problem_quotes_the_file_never_the_value_of_a_variable() {
    let text = MINIMAL.replace(
        "[sources.contoso_pstn]",
        "[sources.contoso_pstn]\npoll_interval = \"${GRAPH_CLIENT_SECRET}\"",
    );
    let environment = Environment::fixed([(
        "GRAPH_CLIENT_SECRET".to_owned(),
        "hunter2-very-secret".to_owned(),
    )]);
    let problems = Config::parse(&text, Path::new("/etc"), &environment)
        .unwrap_err()
        .lines();
    assert!(
        problems
            .iter()
            .any(|p| p.starts_with("sources.contoso_pstn.poll_interval: ")
                && p.contains("${GRAPH_CLIENT_SECRET}")),
        "{problems:?}"
    );
    assert!(
        !problems.iter().any(|p| p.contains("hunter2")),
        "{problems:?}"
    );
}

#[test]
fn beta_only_types_default_to_beta_and_v1_is_one_problem_naming_api_version() {
    for (kind, function) in [
        ("sms_log", "getSmsLog"),
        ("pstn_blocked_users", "getPstnBlockedUsersLog"),
    ] {
        let text = MINIMAL.replace("type = \"pstn_calls\"", &format!("type = \"{kind}\""));
        let config = Config::parse(&text, Path::new("/etc"), &env()).unwrap();
        assert_eq!(config.sources[0].api_version, ApiVersion::Beta, "{kind}");
        assert_eq!(config.sources[0].kind.source_type(), kind);
        let explicit = text.replace("client_id =", "api_version = \"beta\"\nclient_id =");
        assert!(Config::parse(&explicit, Path::new("/etc"), &env()).is_ok());
        let v1 = text.replace("client_id =", "api_version = \"v1.0\"\nclient_id =");
        let problems = problems_of(&v1);
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(
            problems[0].starts_with("sources.contoso_pstn.api_version: ")
                && problems[0].contains(function)
                && problems[0].contains("beta"),
            "{problems:?}"
        );
    }
    let calls = Config::parse(MINIMAL, Path::new("/etc"), &env()).unwrap();
    assert_eq!(
        calls.sources[0].api_version,
        ApiVersion::V1,
        "calls keep v1.0"
    );
}
