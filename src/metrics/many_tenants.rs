//! Tests of the series a tenant of a source with several has (issue 27): what users
//! bill and alert on keeps the tenant, the histograms and failures by SIP code are
//! kept per source, and no zero series are created that no alert reads.

use super::{Metrics, SourceCadence, SourceId};
use crate::facts::CallFacts;
use crate::graph::{GraphEvent, GraphEvents};
use crate::model::{LogKind, Row};
use std::time::Duration;

const CADENCE: SourceCadence = SourceCadence {
    poll_interval: Duration::from_secs(60),
    real_poll_interval: Duration::from_secs(60),
};

fn tenant(tenant: &str, one_of_many: bool) -> SourceId<'_> {
    SourceId {
        name: "customers",
        tenant,
        one_of_many,
    }
}

/// Two PSTN calls of `seconds` each, charged 0.10 EUR.
fn calls(seconds: u32) -> Vec<CallFacts> {
    let rows: Vec<String> = (0..2)
        .map(|index| {
            format!(
                r#"{{"id":"{index}","startDateTime":"2024-05-01T00:00:00Z","endDateTime":"2024-05-01T00:00:{seconds:02}Z","duration":{seconds},"callType":"user_out","currency":"EUR","charge":0.1,"destinationContext":"International"}}"#
            )
        })
        .collect();
    rows.iter()
        .map(|raw| CallFacts::of(&Row::parse(raw).unwrap(), LogKind::Pstn))
        .collect()
}

/// The lines of `text` of `name` (its own samples, not a longer name's).
fn lines<'a>(text: &'a str, name: &str) -> Vec<&'a str> {
    text.lines()
        .filter(|line| {
            line.strip_prefix(name)
                .is_some_and(|rest| rest.starts_with('{'))
        })
        .collect()
}

#[test]
fn tenants_of_one_source_share_its_histograms_and_keep_what_is_billed_and_alerted_on() {
    let metrics = Metrics::new().unwrap();
    for (name, seconds) in [("a.example", 10), ("b.example", 20)] {
        let id = tenant(name, true);
        let telemetry = metrics.source(id, LogKind::Pstn, CADENCE);
        telemetry.emit(GraphEvent::RequestFinished {
            took: Duration::from_millis(100),
            failure: None,
        });
        metrics
            .calls
            .record(id, LogKind::Pstn, &calls(seconds), &[]);
        metrics.calls.set_plan_usage(id, &[]);
    }
    let text = metrics.encode();
    for histogram in [
        "pstn_call_duration_seconds_count",
        "pstn_call_charge_count",
        "pstn_graph_request_duration_seconds_count",
    ] {
        let found = lines(&text, histogram);
        assert_eq!(found.len(), 1, "{histogram} once for the source: {found:?}");
        assert!(found[0].contains(r#"tenant="""#), "{}", found[0]);
    }
    assert!(text.contains(r#"pstn_call_duration_seconds_sum{call_type="user_out",kind="pstn_call",source="customers",tenant=""} 60"#), "{text}");
    for (name, seconds) in [("a.example", 20), ("b.example", 40)] {
        let of = |metric: &str| -> Vec<&str> {
            lines(&text, metric)
                .into_iter()
                .filter(|line| line.contains(&format!(r#"tenant="{name}""#)))
                .collect()
        };
        assert_eq!(
            of("pstn_calls_total"),
            [format!(
                r#"pstn_calls_total{{call_type="user_out",kind="pstn_call",source="customers",tenant="{name}"}} 2"#
            )]
        );
        assert_eq!(
            of("pstn_call_seconds_total"),
            [format!(
                r#"pstn_call_seconds_total{{call_type="user_out",kind="pstn_call",source="customers",tenant="{name}"}} {seconds}"#
            )]
        );
        assert_eq!(of("pstn_call_charge_total").len(), 1, "{name}'s charges");
        // Alerts compare tokens' and polls' outcomes: both at zero from the start.
        assert_eq!(of("pstn_token_requests_total").len(), 2);
        assert_eq!(of("pstn_source_polls_total").len(), 2);
        // No zeros nobody alerts on: reasons, plan licenses without use.
        for unused in [
            "pstn_graph_request_failures_total",
            "pstn_rows_skipped_total",
            "pstn_calling_plan_outbound_month_seconds",
        ] {
            assert_eq!(of(unused), Vec::<&str>::new(), "{unused}");
        }
    }
}

#[test]
fn a_source_of_one_tenant_keeps_its_tenant_and_zero_series_everywhere() {
    let metrics = Metrics::new().unwrap();
    let id = tenant("contoso.example", false);
    metrics.source(id, LogKind::Pstn, CADENCE);
    metrics.calls.record(id, LogKind::Pstn, &calls(10), &[]);
    metrics.calls.set_plan_usage(id, &[]);
    let text = metrics.encode();
    for name in [
        "pstn_call_duration_seconds_count",
        "pstn_row_lateness_seconds_count",
        "pstn_graph_request_duration_seconds_count",
        "pstn_graph_request_failures_total",
        "pstn_rows_skipped_total",
        "pstn_calling_plan_outbound_month_seconds",
        "pstn_call_seconds_total",
    ] {
        let found = lines(&text, name);
        assert!(!found.is_empty(), "{name}");
        assert!(
            found
                .iter()
                .all(|line| line.contains(r#"tenant="contoso.example""#)),
            "{found:?}"
        );
    }
    // Every call type at zero before its first call, as before several tenants existed.
    assert!(lines(&text, "pstn_calls_total").len() > 10);
}
