//! `redact`'s `keep` list and the enrichment fields `hash` and `drop` may name.

use super::*;

const SOURCE: &str = "data_dir = \"/tmp/pstn\"\n[sources.p]\ntype = \"pstn_calls\"\ntenant_id = \"t\"\nclient_id = \"11111111-1111-1111-1111-111111111111\"\nclient_secret = \"s\"\n";
const KEY: &str = "k3y-0123456789abcdef0123456789abcdef";

fn with(redact: &str) -> Result<Config, Vec<String>> {
    let text = format!(
        "{SOURCE}[sinks.archive]\ntype = \"file\"\npath = \"/tmp/x.jsonl\"\ninputs = [\"p\"]\nredact = {redact}\n"
    );
    Config::parse(&text, Path::new("/etc"), &Environment::fixed([])).map_err(|p| p.lines())
}

#[test]
fn keep_and_the_enrichment_fields_are_accepted() {
    let config = with(&format!(
        "{{ keep = [\"id\", \"startDateTime\", \"callType\", \"callerNumber\"], hash = [\"callerNumber\", \"other_party_country\"], key = \"{KEY}\" }}"
    ))
    .unwrap();
    let redact = config.sinks[0].redact.as_ref().unwrap();
    assert_eq!(redact.keep.as_ref().map(Vec::len), Some(4));
    assert!(with("{ drop = [\"other_party_country\"] }").is_ok());
    // README's example.
    let readme = format!(
        "{{ keep = [\"id\", \"startDateTime\", \"endDateTime\", \"duration\", \"callType\", \"charge\", \"currency\", \"callerNumber\", \"calleeNumber\"], hash = [\"callerNumber\", \"calleeNumber\", \"other_party_country\"], key = \"{KEY}\" }}"
    );
    assert!(with(&readme).is_ok(), "{:?}", with(&readme).err());
    assert!(
        with("{ drop = [\"callerNumber\"] }").unwrap().sinks[0]
            .redact
            .as_ref()
            .unwrap()
            .keep
            .is_none()
    );
}

#[test]
fn keep_problems_name_their_key() {
    let problems = with(&format!(
        "{{ keep = [\"id\", \"CallType\", \"other_party_country\", \"user.department\", \"calleeNumber\"], hash = [\"callerNumber\"], drop = [\"calleeNumber\"], key = \"{KEY}\" }}"
    ))
    .unwrap_err();
    for expected in [
        "sinks.archive.redact.keep[1]: \"CallType\" is not a field of the rows this sink takes; did you mean \"callType\"?",
        "sinks.archive.redact.keep[2]: \"other_party_country\": keep names fields of the call",
        "sinks.archive.redact.keep[3]: \"user.department\": keep names fields of the call",
        "sinks.archive.redact.drop[0]: \"calleeNumber\" is also in keep",
        "sinks.archive.redact.hash[0]: \"callerNumber\" is not in keep",
    ] {
        assert!(
            problems.iter().any(|p| p.starts_with(expected)),
            "{expected} in {problems:?}"
        );
    }
    assert_eq!(problems.len(), 5, "{problems:?}");
    let empty = with("{ keep = [] }").unwrap_err();
    assert_eq!(empty.len(), 1, "{empty:?}");
    assert!(
        empty[0].starts_with("sinks.archive.redact.keep: an empty list"),
        "{empty:?}"
    );
}
