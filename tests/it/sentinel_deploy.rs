//! deploy/sentinel holds what the Logs Ingestion sink needs: the DCR's stream
//! declarations equal the records the agent sends (names and types, both ways), each
//! kind's default stream and table exist, and every KQL query (analytics rules,
//! hunting queries, the DCR's transforms) parses and binds against the tables with
//! Microsoft's Kusto language service, which also catches a broken query.

use crate::common;

use common::tools::external_tool;
use pstn_agent::config::{default_stream, default_table};
use pstn_agent::event::EventEncoder;
use pstn_agent::model::{ApiVersion, LogKind, Row};
use pstn_agent::simulate::{Generator, Lateness};
use pstn_agent::sinks::{Batch, ENVELOPE_COLUMNS, EventSpan, is_reserved, record_of};
use pstn_agent::time::Timestamp;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn sentinel(file: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("deploy/sentinel")
        .join(file)
}

fn template(file: &str) -> Value {
    serde_json::from_str(&std::fs::read_to_string(sentinel(file)).unwrap()).unwrap()
}

/// The DCR's stream declarations: stream → column → type.
fn streams() -> BTreeMap<String, BTreeMap<String, String>> {
    let template = template("azuredeploy.json");
    let resources = template["resources"].as_array().unwrap();
    let dcr = resources
        .iter()
        .find(|r| r["type"] == "Microsoft.Insights/dataCollectionRules")
        .expect("a DCR in azuredeploy.json");
    assert_eq!(dcr["kind"], "Direct");
    let declarations = dcr["properties"]["streamDeclarations"].as_object().unwrap();
    declarations
        .iter()
        .map(|(stream, declaration)| {
            let columns = declaration["columns"]
                .as_array()
                .unwrap()
                .iter()
                .map(|c| {
                    (
                        c["name"].as_str().unwrap().to_owned(),
                        c["type"].as_str().unwrap().to_owned(),
                    )
                })
                .collect();
            (stream.clone(), columns)
        })
        .collect()
}

/// The custom tables' names.
fn tables() -> BTreeSet<String> {
    template("azuredeploy.json")["resources"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["type"] == "Microsoft.OperationalInsights/workspaces/tables")
        .map(|r| {
            r["properties"]["schema"]["name"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect()
}

/// Events of `kind` from the simulator's rows (v1.0 and beta), plus one carrying the
/// enrichment the contract puts beside `call` (country and directory attributes).
fn batch(kind: LogKind) -> Batch {
    let generator = Generator::new(7, 3000.0, Lateness::Default);
    let encoder = EventEncoder::new("tenant", "contoso.onmicrosoft.com", kind);
    let observed = Timestamp::parse("2024-05-20T12:00:00Z").unwrap();
    let (mut lines, mut events) = (Vec::new(), Vec::new());
    for slot in 0..4000 {
        let Some(call) = generator.core(kind, 1_000_000 + slot) else {
            continue;
        };
        let version = if slot % 2 == 0 {
            ApiVersion::V1
        } else {
            ApiVersion::Beta
        };
        let mut raw = String::new();
        generator.write_row(kind, version, &call, &mut raw);
        let row = Row::parse(&raw).unwrap();
        events.push(encoder.encode(
            &row,
            &pstn_agent::model::Enrichment::NONE,
            observed,
            &observed.to_string(),
            &mut lines,
        ));
    }
    let last = events.last().unwrap().clone();
    let line = String::from_utf8(lines[last.line.clone()].to_vec()).unwrap();
    let enriched = line.replacen(
        ",\"call\":",
        ",\"other_party_country\":\"DE\",\"user\":{\"department\":\"Sales\",\"costCenter\":\"4711\"},\"call\":",
        1,
    );
    let start = lines.len();
    lines.extend_from_slice(enriched.as_bytes());
    events.push(EventSpan {
        line: start..lines.len(),
        call: start..start,
        timestamp: start..start,
        envelope: last.envelope,
    });
    Batch {
        lines: lines.into(),
        events,
    }
}

/// Whether a JSON value fits a DCR column type.
fn fits(value: &Value, declared: &str) -> bool {
    match declared {
        "string" => value.is_string(),
        "datetime" => value.as_str().is_some_and(|t| Timestamp::parse(t).is_ok()),
        "int" => value.as_i64().is_some_and(|n| i32::try_from(n).is_ok()),
        "long" => value.is_i64() || value.is_u64(),
        "real" => value.is_number(),
        "boolean" => value.is_boolean(),
        "dynamic" => true,
        _ => false,
    }
}

#[test]
fn the_dcr_streams_declare_exactly_the_columns_the_agent_sends_for_each_call_kind() {
    let streams = streams();
    for kind in [LogKind::Pstn, LogKind::DirectRouting] {
        let stream = default_stream(kind);
        let declared = streams
            .get(&stream)
            .unwrap_or_else(|| panic!("{stream} is not declared"));
        let batch = batch(kind);
        let mut sent = BTreeSet::new();
        for index in 0..batch.events.len() {
            let record: Value = serde_json::from_slice(&record_of(&batch, index).unwrap()).unwrap();
            for (column, value) in record.as_object().unwrap() {
                assert!(
                    column == "TimeGenerated" || !is_reserved(column),
                    "{column} is reserved"
                );
                let Some(declared_type) = declared.get(column) else {
                    panic!(
                        "{stream}: the agent sends {column} ({value}), the DCR does not declare it"
                    )
                };
                assert!(
                    fits(value, declared_type),
                    "{stream}: {column} is declared {declared_type}, the agent sent {value}"
                );
                sent.insert(column.clone());
            }
        }
        let never_sent: Vec<&String> = declared.keys().filter(|c| !sent.contains(*c)).collect();
        assert!(
            never_sent.is_empty(),
            "{stream} declares columns the agent never sends: {never_sent:?}"
        );
    }
}

#[test]
fn the_sms_and_blocked_user_streams_declare_the_documented_row_fields() {
    // The documented fields (model's list, from API-NOTES' "More logs in the same
    // namespace"); `id` goes out as `rowId`.
    let documented = [
        ("Custom-SmsLog", LogKind::Sms),
        ("Custom-PstnBlockedUsers", LogKind::PstnBlockedUser),
    ];
    let streams = streams();
    let envelope: BTreeSet<&str> = ENVELOPE_COLUMNS.iter().map(|(_, column)| *column).collect();
    for (stream, kind) in documented {
        let declared: BTreeSet<&str> = streams[stream].keys().map(String::as_str).collect();
        let row: BTreeSet<&str> = declared.difference(&envelope).copied().collect();
        let fields: BTreeSet<&str> = kind
            .row_fields()
            .iter()
            .map(|field| if *field == "id" { "rowId" } else { field })
            .collect();
        assert_eq!(row, fields, "{stream}");
        for column in [
            "TimeGenerated",
            "ObservedTimestamp",
            "AgentSource",
            "EntraTenantId",
            "EventKind",
            "User",
        ] {
            assert!(declared.contains(column), "{stream} lacks {column}");
        }
    }
}

#[test]
fn the_dialout_report_stream_declares_exactly_the_columns_its_records_carry() {
    let generator = Generator::new(7, 20_000.0, Lateness::None);
    let encoder = EventEncoder::new("tenant", "t", LogKind::PstnDialoutReport);
    let day = Timestamp::parse("2024-05-20T00:00:00Z").unwrap();
    let now = Timestamp::parse("2024-05-21T12:00:00Z").unwrap();
    let (mut lines, mut events) = (Vec::new(), Vec::new());
    let end = Timestamp::parse("2024-05-21T00:00:00Z").unwrap();
    for row in generator.dialout_report(day, end, false, now) {
        events.push(encoder.encode_report(
            &row,
            day,
            "2024-05-20",
            now,
            &now.to_string(),
            &mut lines,
        ));
    }
    let batch = Batch {
        lines: lines.into(),
        events,
    };
    let stream = default_stream(LogKind::PstnDialoutReport);
    let declared = &streams()[&stream];
    let mut sent = BTreeSet::new();
    for index in 0..batch.events.len() {
        let record: Value = serde_json::from_slice(&record_of(&batch, index).unwrap()).unwrap();
        for (column, value) in record.as_object().unwrap() {
            let declared_type = declared
                .get(column)
                .unwrap_or_else(|| panic!("{stream}: {column} ({value}) is not declared"));
            assert!(
                fits(value, declared_type),
                "{stream}: {column} {declared_type} {value}"
            );
            sent.insert(column.clone());
        }
    }
    let declared: BTreeSet<String> = declared.keys().cloned().collect();
    assert_eq!(sent, declared, "{stream}");
}

#[test]
fn each_kind_the_agent_knows_has_its_default_stream_and_table() {
    let (streams, tables) = (streams(), tables());
    for kind in LogKind::ALL {
        assert!(streams.contains_key(&default_stream(kind)), "{kind}");
        assert!(tables.contains(&default_table(kind)), "{kind}");
    }
    for table in [
        "PstnCalls_CL",
        "DirectRoutingCalls_CL",
        "SmsLog_CL",
        "PstnBlockedUsers_CL",
        "PstnDialoutReport_CL",
    ] {
        assert!(tables.contains(table), "{table}");
    }
}

/// The fenced blocks of `language` in deploy/sentinel/README.md.
fn readme_blocks(language: &str) -> Vec<String> {
    let text = std::fs::read_to_string(sentinel("README.md")).unwrap();
    let fence = format!("```{language}\n");
    text.split(&fence)
        .skip(1)
        .map(|rest| {
            let block = rest.split("```").next().unwrap();
            block
                .lines()
                .map(str::trim_start)
                .collect::<Vec<_>>()
                .join("\n")
        })
        .collect()
}

#[test]
fn the_readme_and_contract_sink_examples_validate() {
    let sources = "[sources.contoso_pstn]\ntype = \"pstn_calls\"\ntenant_id = \"t\"\nclient_id = \"11111111-1111-1111-1111-111111111111\"\nclient_secret = \"s\"\n\
                   [sources.contoso_direct_routing]\ntype = \"direct_routing_calls\"\ntenant_id = \"t\"\nclient_id = \"11111111-1111-1111-1111-111111111111\"\nclient_secret = \"s\"\n\
                   [sinks.archive]\ntype = \"console\"\ninputs = [\"contoso_pstn\", \"contoso_direct_routing\"]\n";
    let environment = pstn_agent::config::Environment::fixed(
        ["AZURE_TENANT_ID", "AZURE_CLIENT_ID", "AZURE_MONITOR_SECRET"].map(|name| {
            (
                name.to_owned(),
                "22222222-2222-2222-2222-222222222222".to_owned(),
            )
        }),
    );
    let readme = readme_blocks("toml");
    assert_eq!(readme.len(), 1);
    // CONTRACT.md's example: one input, one stream_name, every key spelled out.
    let contract = "[sinks.sentinel]\ntype = \"azure_logs_ingestion\"\ninputs = [\"contoso_pstn\"]\nendpoint = \"https://my-dce.westeurope-1.ingest.monitor.azure.com\"\n\
                    dcr_immutable_id = \"dcr-00000000000000000000000000000000\"\nstream_name = \"Custom-PstnCalls\"\ntenant_id = \"${AZURE_TENANT_ID}\"\n\
                    client_id = \"${AZURE_CLIENT_ID}\"\nclient_secret = \"${AZURE_MONITOR_SECRET}\"\nauthority_url = \"https://login.microsoftonline.com\"\n\
                    token_scope = \"https://monitor.azure.com//.default\"\n";
    for sink in [readme[0].as_str(), contract] {
        let text = format!("{sources}{sink}");
        if let Err(problems) =
            pstn_agent::config::Config::parse(&text, Path::new("/"), &environment)
        {
            panic!("{problems:?}\n{sink}");
        }
    }
}

#[test]
fn every_template_parameter_used_is_declared_and_every_declared_one_used() {
    for file in [
        "azuredeploy.json",
        "analytics-rules.json",
        "hunting-queries.json",
    ] {
        let text = std::fs::read_to_string(sentinel(file)).unwrap();
        let template: Value = serde_json::from_str(&text).unwrap();
        let declared: BTreeSet<&str> = template["parameters"]
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        let used: BTreeSet<&str> = text
            .split("parameters('")
            .skip(1)
            .map(|rest| rest.split('\'').next().unwrap())
            .collect();
        assert_eq!(declared, used, "{file}");
    }
}

mod kql;
