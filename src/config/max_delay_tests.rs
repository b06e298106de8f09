//! `sources.NAME.max_delay`: optional, a duration, longer than zero, at most `late_window`.

use super::minimal_config::{MINIMAL, parse};
use std::time::Duration;


#[test]
fn max_delay_is_optional_and_read_as_a_duration() {
    let config = parse(MINIMAL).unwrap();
    assert_eq!(
        config.sources[0].max_delay, None,
        "absent: the default ladder"
    );
    let text = MINIMAL.replace(
        "type = \"pstn_calls\"",
        "type = \"pstn_calls\"\nmax_delay = \"1h\"",
    );
    let config = parse(&text).unwrap();
    assert_eq!(config.sources[0].max_delay, Some(Duration::from_secs(3600)));
}

#[test]
fn a_zero_or_too_long_or_malformed_max_delay_is_one_problem_naming_it() {
    for (lines, says) in [
        ("max_delay = \"0s\"", "longer than zero"),
        ("max_delay = \"4d\"", "at most late_window"),
        (
            "late_window = \"6h\"\nmax_delay = \"7h\"",
            "at most late_window",
        ),
        ("max_delay = \"soon\"", ""),
    ] {
        let text = MINIMAL.replace(
            "type = \"pstn_calls\"",
            &format!("type = \"pstn_calls\"\n{lines}"),
        );
        let problems = parse(&text).unwrap_err();
        assert_eq!(problems.len(), 1, "{lines}: {problems:?}");
        assert!(
            problems[0].starts_with("sources.contoso_pstn.max_delay: ")
                && problems[0].contains(says),
            "{lines}: {problems:?}"
        );
    }
    let equal = MINIMAL.replace(
        "type = \"pstn_calls\"",
        "type = \"pstn_calls\"\nlate_window = \"6h\"\nmax_delay = \"6h\"",
    );
    assert!(parse(&equal).is_ok());
}
