//! `type = "azure_logs_ingestion"` sinks read from a whole file: default streams, and
//! problems naming their keys.

use super::{Config, Environment, SinkKind};
use crate::model::LogKind;
use crate::sinks::config::DEFAULT_MONITOR_SCOPE;
use std::path::Path;
use std::time::Duration;

fn parse(sink: &str) -> Result<Config, Vec<String>> {
    let text = format!(
        "[sources.p]\ntype = \"pstn_calls\"\ntenant_id = \"t\"\nclient_id = \"11111111-1111-1111-1111-111111111111\"\nclient_secret = \"s\"\n\
         [sources.d]\ntype = \"direct_routing_calls\"\ntenant_id = \"t\"\nclient_id = \"11111111-1111-1111-1111-111111111111\"\nclient_secret = \"s\"\n\
         [sinks.sentinel]\ntype = \"azure_logs_ingestion\"\ninputs = [\"p\", \"d\"]\ntenant_id = \"t\"\n\
         client_id = \"22222222-2222-2222-2222-222222222222\"\nclient_secret = \"${{AZURE_MONITOR_SECRET}}\"\n{sink}\n"
    );
    let environment = Environment::fixed([("AZURE_MONITOR_SECRET".into(), "m".into())]);
    Config::parse(&text, Path::new("/"), &environment).map_err(|problems| problems.lines())
}

const GOOD: &str = "endpoint = \"https://my-dce.westeurope-1.ingest.monitor.azure.com\"\ndcr_immutable_id = \"dcr-00000000000000000000000000000000\"";

#[test]
fn a_sink_with_two_kinds_and_no_streams_sends_each_to_its_default_stream() {
    let config = parse(GOOD).unwrap();
    let SinkKind::AzureLogsIngestion(azure) = &config.sinks[0].kind else {
        panic!("not the Sentinel sink")
    };
    assert_eq!(azure.stream_for(LogKind::Pstn), "Custom-PstnCalls");
    assert_eq!(azure.token_scope, DEFAULT_MONITOR_SCOPE);
    assert_eq!(azure.timeout, Duration::from_secs(30));
    assert!(azure.gzip);
    let mapped = parse(&format!(
        "{GOOD}\nstreams = {{ direct_routing_call = \"Custom-Dr\" }}"
    ))
    .unwrap();
    let SinkKind::AzureLogsIngestion(azure) = &mapped.sinks[0].kind else {
        panic!("not the Sentinel sink")
    };
    assert_eq!(azure.stream_for(LogKind::DirectRouting), "Custom-Dr");
    assert_eq!(azure.stream_for(LogKind::Pstn), "Custom-PstnCalls");
}

#[test]
fn one_stream_name_for_two_kinds_and_bad_keys_are_problems_naming_the_key() {
    let problems = parse(&format!("{GOOD}\nstream_name = \"Custom-PstnCalls\"")).unwrap_err();
    assert!(
        problems[0].starts_with("sinks.sentinel.stream_name: the inputs carry"),
        "{problems:?}"
    );
    let problems = parse(
        "endpoint = \"http://ingest.example.com\"\ndcr_immutable_id = \"dcr-1\"\nstreams = { faxes = \"Custom-Faxes\" }\ntoken_scope = \"https://monitor.azure.com\"",
    )
    .unwrap_err();
    for key in [
        "endpoint",
        "dcr_immutable_id",
        "streams.faxes",
        "token_scope",
    ] {
        assert!(
            problems
                .iter()
                .any(|p| p.starts_with(&format!("sinks.sentinel.{key}: "))),
            "{key}: {problems:?}"
        );
    }
    assert!(parse("dcr_immutable_id = \"dcr-00000000000000000000000000000000\"\nendpoint = \"http://127.0.0.1:9\"").is_ok());
}
