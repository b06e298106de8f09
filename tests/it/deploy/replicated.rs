//! The replicated variant (`deploy/kubernetes-replicated/`): three replicas sharing
//! their state in PostgreSQL.

use super::{deploy, node_checker, succeeds};
use std::process::Command;

/// The replicated variant keeps what it is for: three replicas on three nodes, at most
/// one taken by a disruption, ready only on `/readyz`, and every `${VAR}` of its agent
/// config set by the pod: the PostgreSQL URL from a Secret, the replica's name its pod's.
#[test]
fn the_replicated_variant_spreads_three_replicas_and_reads_postgres_from_a_secret() {
    let Some(mut check) = node_checker() else {
        return;
    };
    let output = succeeds(check.arg("replicated").arg(deploy("kubernetes-replicated")));
    let env: std::collections::HashMap<String, String> =
        serde_json::from_slice(&output.stdout).unwrap();
    let output = succeeds(
        node_checker()
            .unwrap()
            .arg("configmap")
            .arg(deploy("kubernetes-replicated/configmap.yaml"))
            .arg("pstn-agent.toml"),
    );
    let text = String::from_utf8(output.stdout).unwrap();
    let config: toml::Table = text.parse().unwrap();
    let state = config["state"].as_table().expect("a [state] table");
    let variable = |key: &str| {
        let value = state[key].as_str().unwrap();
        let name = value
            .strip_prefix("${")
            .and_then(|rest| rest.strip_suffix('}'));
        name.unwrap_or_else(|| panic!("state.{key} = {value:?}, not one ${{VAR}}"))
            .to_owned()
    };
    let url = variable("postgres_url");
    assert!(env[&url].starts_with("secret:"), "{url}: {}", env[&url]);
    let replica = variable("replica_name");
    assert_eq!(env[&replica], "field:metadata.name");
    // The file passes the agent's validate, `[state]` and all, as the pod's
    // environment fills it.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("pstn-agent.toml");
    std::fs::write(&path, config.to_string()).unwrap();
    succeeds(
        Command::new(env!("CARGO_BIN_EXE_pstn-agent"))
            .args(["validate", "--no-local-checks", "--config"])
            .arg(&path)
            .env("AZURE_TENANT_ID", "contoso.onmicrosoft.com")
            .env("AZURE_CLIENT_ID", "11111111-1111-1111-1111-111111111111")
            .env("GRAPH_CLIENT_SECRET", "s")
            .env("PG_URL", "postgres://pstn:p@db.internal:5432/pstn")
            .env("POD_NAME", "pstn-agent-0"),
    );
    for (at, _) in text.match_indices("${") {
        let name = &text[at + 2..];
        let name = &name[..name.find(['}', ':']).unwrap()];
        assert!(
            env.contains_key(name),
            "${{{name}}} is not set by the pod: {env:?}"
        );
    }
}
