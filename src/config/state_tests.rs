//! `[state]` read as part of a whole file (the reader lives beside state, `state/config.rs`).

use super::{Config, Environment};
use std::path::Path;
use std::time::Duration;

const SOURCE_AND_SINK: &str = "[sources.p]\ntype = \"pstn_calls\"\ntenant_id = \"t\"\nclient_id = \"11111111-1111-1111-1111-111111111111\"\nclient_secret = \"s\"\n[sinks.out]\ntype = \"console\"\ninputs = [\"p\"]\n";

fn parse(state: &str) -> Result<Config, Vec<String>> {
    let environment =
        Environment::fixed([("PG_PASSWORD".to_owned(), "pg-secret-value".to_owned())]);
    Config::parse(
        &format!("{state}\n{SOURCE_AND_SINK}"),
        Path::new("/etc"),
        &environment,
    )
    .map_err(|problems| problems.lines())
}

#[test]
fn without_a_state_table_state_is_sqlite_with_the_default_lease() {
    let config = parse("").unwrap();
    assert!(config.state.postgres_url.is_none());
    assert_eq!(config.state.lease_ttl, Duration::from_secs(30));
}

#[test]
fn the_contract_keys_are_read_and_the_password_is_never_printed() {
    let config = parse(
        "[state]\npostgres_url = \"postgres://pstn:${PG_PASSWORD}@db.internal:5432/pstn\"\nlease_ttl = \"45s\"\nreplica_name = \"pod-1\"",
    )
    .unwrap();
    let url = config.state.postgres_url.as_ref().unwrap();
    assert_eq!(
        url.expose(),
        "postgres://pstn:pg-secret-value@db.internal:5432/pstn"
    );
    assert_eq!(config.state.lease_ttl, Duration::from_secs(45));
    assert_eq!(config.state.replica_name(), "pod-1");
    assert!(!format!("{config:?}").contains("pg-secret-value"));
}

#[test]
fn a_bad_url_and_bad_keys_are_problem_lines_naming_their_key() {
    let problems = parse(
        "[state]\npostgres_url = \"mysql://root:pg-secret-value@db\"\nlease_ttl = \"0s\"\nreplica = \"x\"",
    )
    .unwrap_err();
    assert!(
        problems
            .iter()
            .any(|line| line.starts_with("state.postgres_url: not a PostgreSQL URL")),
        "{problems:?}"
    );
    assert!(
        problems
            .iter()
            .any(|line| line.starts_with("state.lease_ttl:")),
        "{problems:?}"
    );
    assert!(
        problems
            .iter()
            .any(|line| line.starts_with("state.replica:")),
        "{problems:?}"
    );
    assert!(
        !problems.join("\n").contains("pg-secret-value"),
        "{problems:?}"
    );
}
