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

fn with(lines: &str) -> Result<super::Config, Vec<String>> {
    parse(&MINIMAL.replace(
        "type = \"pstn_calls\"",
        &format!("type = \"pstn_calls\"\n{lines}"),
    ))
}

#[test]
fn the_pace_is_graphs_fifty_a_minute_unless_set_per_minute_or_per_second() {
    assert_eq!(with("").unwrap().sources[0].requests_per_minute, 50.0);
    let per_minute = with("requests_per_minute = 20").unwrap();
    assert_eq!(per_minute.sources[0].requests_per_minute, 20.0);
    let per_second = with("requests_per_second = 0.5").unwrap();
    assert_eq!(
        per_second.sources[0].requests_per_minute, 30.0,
        "the same pace × 60"
    );
    let both = with("requests_per_minute = 20\nrequests_per_second = 1").unwrap_err();
    assert_eq!(both.len(), 1, "{both:?}");
    assert!(
        both[0].starts_with("sources.contoso_pstn.requests_per_second: "),
        "{both:?}"
    );
    let zero = with("requests_per_minute = 0").unwrap_err();
    assert!(
        zero[0].starts_with("sources.contoso_pstn.requests_per_minute: "),
        "{zero:?}"
    );
}

#[test]
fn a_plan_over_the_pace_is_refused_naming_the_keys_and_what_would_fit() {
    // 76 windows a poll, every minute: 4,560 an hour, over 50 × 60 = 3,000.
    let problems = with("poll_interval = \"1m\"\nmax_delay = \"1h\"").unwrap_err();
    assert_eq!(problems.len(), 1, "{problems:?}");
    let line = &problems[0];
    assert!(
        line.starts_with("sources.contoso_pstn.max_delay: "),
        "{line}"
    );
    for says in [
        "4560 requests per hour",
        "poll_interval 1m",
        "max_delay 1h",
        "late_window 3d",
        "3000 per hour",
        "would fit: poll_interval = \"2m\"",
        "max_delay = \"2h\"",
        "late_window = \"",
    ] {
        assert!(line.contains(says), "{says} in {line}");
    }
    // What it says would fit does fit.
    assert!(with("poll_interval = \"2m\"\nmax_delay = \"1h\"").is_ok());
    assert!(with("poll_interval = \"1m\"\nmax_delay = \"2h\"").is_ok());
    // A faster pace, said in so many words, makes room.
    assert!(with("poll_interval = \"1m\"\nmax_delay = \"1h\"\nrequests_per_minute = 100").is_ok());
    // No max_delay: the key named is poll_interval.
    let fast = with("poll_interval = \"1s\"").unwrap_err();
    assert!(
        fast[0].starts_with("sources.contoso_pstn.poll_interval: "),
        "{fast:?}"
    );
}
