//! `type = "pstn_dialout_report"`: beta only, and the keys that do not apply to a
//! report read per day are problems naming them.

use super::minimal_config::{MINIMAL, parse};
use crate::model::{ApiVersion, LogKind};

fn report(extra: &str) -> String {
    let text = MINIMAL.replace("type = \"pstn_calls\"", "type = \"pstn_dialout_report\"");
    format!("{text}{extra}")
}

#[test]
fn the_dialout_report_is_beta_and_refuses_v1_max_delay_and_a_directory_by_key() {
    let config = parse(&report("")).unwrap();
    assert_eq!(config.sources[0].kind, LogKind::PstnDialoutReport);
    assert_eq!(config.sources[0].api_version, ApiVersion::Beta);
    let v1 = report("").replace("client_id =", "api_version = \"v1.0\"\nclient_id =");
    let problems = parse(&v1).unwrap_err();
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert!(
        problems[0].starts_with("sources.contoso_pstn.api_version: ")
            && problems[0].contains("getPstnOnlineMeetingDialoutReport"),
        "{problems:?}"
    );
    let max_delay = report("").replace("client_id =", "max_delay = \"1h\"\nclient_id =");
    let problems = parse(&max_delay).unwrap_err();
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert!(
        problems[0].starts_with("sources.contoso_pstn.max_delay: "),
        "{problems:?}"
    );
    let problems = parse(&report("[sources.contoso_pstn.directory]\n")).unwrap_err();
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert!(
        problems[0].starts_with("sources.contoso_pstn.directory: "),
        "{problems:?}"
    );
}

#[test]
fn a_reports_days_over_the_pace_are_refused_naming_poll_interval_and_what_fits() {
    // 90 days at one poll a minute: 91 requests a poll, against 50 a minute.
    let long = report("").replace(
        "client_id =",
        "late_window = \"90d\"\npoll_interval = \"1m\"\nclient_id =",
    );
    let problems = parse(&long).unwrap_err();
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert!(
        problems[0].starts_with("sources.contoso_pstn.poll_interval: ")
            && problems[0].contains("would fit: poll_interval = \"2m\""),
        "{problems:?}"
    );
    // The default (72 h, 5 min): 4 days a poll, 48 an hour, well inside.
    let config = parse(&report("")).unwrap();
    assert_eq!(config.sources[0].planned_requests_per_hour(), 48.0);
}
