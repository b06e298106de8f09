//! `[sources.NAME.directory]`: defaults, problems naming their key, redaction of `user.*`.

use super::minimal_config::{MINIMAL, parse};
use super::*;
use std::time::Duration;

fn with_directory(lines: &str) -> String {
    format!("{MINIMAL}[sources.contoso_pstn.directory]\n{lines}\n")
}

#[test]
fn an_empty_directory_table_takes_the_contract_defaults() {
    assert_eq!(parse(MINIMAL).unwrap().sources[0].directory, None);
    let config = parse(&with_directory("")).unwrap();
    let directory = config.sources[0].directory.clone().unwrap();
    let paths: Vec<&str> = directory.attributes.iter().map(|a| a.path()).collect();
    assert_eq!(paths, crate::model::DEFAULT_DIRECTORY_ATTRIBUTES);
    assert_eq!(directory.refresh, Duration::from_secs(3600));
    assert_eq!(directory.max_label_values, 200);
    let config = parse(&with_directory(
        "attributes = [\"department\", \"employeeOrgData/costCenter\"]\nrefresh = \"15m\"\nmax_label_values = 50",
    ))
    .unwrap();
    let directory = config.sources[0].directory.clone().unwrap();
    assert_eq!(directory.attributes.len(), 2);
    assert_eq!(directory.refresh, Duration::from_secs(900));
    assert_eq!(directory.max_label_values, 50);
}

#[test]
fn directory_problems_name_their_key_and_suggest_the_attribute_meant() {
    for (lines, key, says) in [
        (
            "attributes = [\"departmant\"]",
            "attributes[0]",
            "did you mean \"department\"",
        ),
        (
            "attributes = [\"costCenter\"]",
            "attributes[0]",
            "did you mean \"employeeOrgData/costCenter\"",
        ),
        (
            "attributes = [\"department\", \"department\"]",
            "attributes[1]",
            "twice",
        ),
        ("attributes = []", "attributes", "at least one"),
        ("refresh = \"0s\"", "refresh", "at least 1s"),
        ("max_label_values = 1.5", "max_label_values", "whole number"),
        ("max_label_values = 0", "max_label_values", "positive"),
        ("refesh = \"1h\"", "refesh", "did you mean \"refresh\""),
    ] {
        let problems = parse(&with_directory(lines)).unwrap_err();
        assert_eq!(problems.len(), 1, "{lines}: {problems:?}");
        assert!(
            problems[0].starts_with(&format!("sources.contoso_pstn.directory.{key}: "))
                && problems[0].contains(says),
            "{lines}: {problems:?}"
        );
    }
}

#[test]
fn user_fields_are_redaction_names_only_with_a_directory() {
    let redact =
        "redact = { hash = [\"user.department\"], drop = [\"user.costCenter\"], key = \"${KEY}\" }";
    let sink_with = |text: &str| {
        text.replace(
            "type = \"console\"",
            &format!("type = \"console\"\n{redact}"),
        )
    };
    let environment = Environment::fixed([(
        "KEY".to_owned(),
        "0123456789abcdef0123456789abcdef".to_owned(),
    )]);
    let parse_with = |text: &str| {
        Config::parse(text, Path::new("/etc"), &environment).map_err(|problems| problems.lines())
    };
    assert!(parse_with(&sink_with(&with_directory(""))).is_ok());
    let problems = parse_with(&sink_with(MINIMAL)).unwrap_err();
    assert!(
        problems
            .iter()
            .all(|p| p.contains("[sources.NAME.directory]"))
            && problems.len() == 2,
        "{problems:?}"
    );
    let problems =
        parse_with(&sink_with(&with_directory("attributes = [\"department\"]"))).unwrap_err();
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert!(
        problems[0].starts_with("sinks.stdout.redact.drop[0]: "),
        "{problems:?}"
    );
}
