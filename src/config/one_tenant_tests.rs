//! `Config::reads_one_tenant`: the agent runs on one worker thread only when all its
//! work is one tenant's, fixed in the file.

use super::minimal_config::{MINIMAL, parse};

/// MINIMAL with a second source whose `tenant_key` is `tenants` (the TOML value after
/// `tenant_id = `, `tenants = ` or `tenants_file = `), also printed to the console.
fn with_second_source(tenant_key: &str, tenants: &str) -> String {
    let second = format!(
        "[sources.second]\ntype = \"direct_routing_calls\"\n{tenant_key} = {tenants}\nclient_id = \"11111111-1111-1111-1111-111111111111\"\nclient_secret = \"s\"\n"
    );
    MINIMAL
        .replace("[sinks.stdout]", &format!("{second}[sinks.stdout]"))
        .replace(
            r#"inputs = ["contoso_pstn"]"#,
            r#"inputs = ["contoso_pstn", "second"]"#,
        )
}

/// What `reads_one_tenant` says of a valid configuration `text`.
fn one_tenant(text: &str) -> bool {
    parse(text).expect("valid").reads_one_tenant()
}

#[test]
fn one_source_of_one_tenant_is_one_tenant() {
    assert!(one_tenant(MINIMAL));
}

#[test]
fn several_sources_of_the_same_tenant_are_one_tenant() {
    let same = r#""00000000-0000-0000-0000-000000000000""#;
    assert!(one_tenant(&with_second_source("tenant_id", same)));
    let listed = r#"["00000000-0000-0000-0000-000000000000"]"#;
    assert!(one_tenant(&with_second_source("tenants", listed)));
    let upper = r#""00000000-0000-0000-0000-00000000000A""#;
    let lower = MINIMAL.replace(
        "00000000-0000-0000-0000-000000000000",
        "00000000-0000-0000-0000-00000000000a",
    );
    let lower_and_upper = with_second_source("tenant_id", upper).replace(
        "tenant_id = \"00000000-0000-0000-0000-000000000000\"",
        "tenant_id = \"00000000-0000-0000-0000-00000000000a\"",
    );
    assert!(one_tenant(&lower), "one source");
    assert!(
        one_tenant(&lower_and_upper),
        "one tenant's GUID in two cases"
    );
}

#[test]
fn a_second_tenant_anywhere_is_several() {
    let other = r#""22222222-2222-2222-2222-222222222222""#;
    assert!(!one_tenant(&with_second_source("tenant_id", other)));
    let both =
        r#"["00000000-0000-0000-0000-000000000000", "22222222-2222-2222-2222-222222222222"]"#;
    assert!(!one_tenant(&with_second_source("tenants", both)));
    let listed_alone = MINIMAL.replace(
        r#"tenant_id = "00000000-0000-0000-0000-000000000000""#,
        &format!("tenants = {both}"),
    );
    assert!(!one_tenant(&listed_alone));
}

#[test]
fn a_tenants_file_may_grow_so_it_is_several_even_with_one_line() {
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("tenants.txt");
    std::fs::write(&file, "00000000-0000-0000-0000-000000000000\n").expect("written");
    let tenants_file = format!("{:?}", file.display().to_string());
    let alone = MINIMAL.replace(
        r#"tenant_id = "00000000-0000-0000-0000-000000000000""#,
        &format!("tenants_file = {tenants_file}"),
    );
    assert!(!one_tenant(&alone), "the only source");
    let second = with_second_source("tenants_file", &tenants_file);
    assert!(!one_tenant(&second), "beside a source of that same tenant");
}
