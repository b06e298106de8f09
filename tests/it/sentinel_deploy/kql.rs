//! The KQL of deploy/sentinel and the README, checked by Microsoft's Kusto language
//! service against the tables the templates declare; the checker itself must catch a
//! broken query.

use super::*;

/// node and the Kusto language service `.ci/run` installs, or `None` outside CI.
fn kql_checker() -> Option<Command> {
    let node = external_tool("node", "--version")?;
    let modules = std::env::var_os("PSTN_AGENT_NODE_MODULES")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            Path::new(env!("CARGO_MANIFEST_DIR")).join("target/deploy-tools/node_modules")
        });
    if !modules.join("@kusto/language-service-next").is_dir() {
        common::tools::skipped(&format!(
            "no @kusto/language-service-next in {}",
            modules.display()
        ));
        return None;
    }
    let mut command = Command::new(node);
    command
        .env("PSTN_AGENT_NODE_MODULES", modules)
        .arg(sentinel("check-kql.mjs"));
    Some(command)
}

fn said(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

#[test]
fn every_kql_query_parses_and_binds_against_the_tables_with_the_kusto_language_service() {
    let Some(mut checker) = kql_checker() else {
        return;
    };
    // The README's first query too.
    let readme = readme_blocks("kusto");
    assert!(!readme.is_empty());
    for query in &readme {
        checker.args(["--query", query]);
    }
    let output = checker.output().unwrap();
    let said = said(&output);
    println!("{said}");
    assert!(output.status.success(), "{said}");
    let total = format!("{} queries checked against 5 tables", 13 + readme.len());
    assert!(
        said.contains(&total) && said.contains(": 0 error(s)"),
        "{said}"
    );
}

#[test]
fn the_kql_checker_fails_on_a_broken_query_and_on_an_unknown_column() {
    let Some(mut checker) = kql_checker() else {
        return;
    };
    let broken = checker
        .args(["--query", "PstnCalls_CL | summarize by"])
        .output()
        .unwrap();
    assert!(!broken.status.success(), "{}", said(&broken));
    assert!(said(&broken).contains("--query 1"), "{}", said(&broken));
    let mut checker = kql_checker().unwrap();
    let unknown = checker
        .args(["--query", "PstnCalls_CL | where chargeInEuros > 10"])
        .output()
        .unwrap();
    assert!(!unknown.status.success(), "{}", said(&unknown));
    assert!(
        said(&unknown).contains("KS142") && said(&unknown).contains("chargeInEuros"),
        "{}",
        said(&unknown)
    );
}
