//! The logs Graph serves under beta only: SMS, blocked users and the dial-out report,
//! as the simulated tenant serves them.

use super::*;

#[tokio::test]
async fn the_sms_and_blocked_user_logs_are_served_under_beta_only() {
    let harness = Harness::start(SimulatorOptions {
        calls_per_day: 20_000.0,
        lateness: Lateness::None,
        ..options()
    })
    .await;
    let token = token(&harness).await;
    for kind in [
        pstn_agent::model::LogKind::Sms,
        pstn_agent::model::LogKind::PstnBlockedUser,
    ] {
        // Microsoft's example passes bare dates.
        let path = |version: &str| {
            format!(
                "/{version}/communications/callRecords/{}(fromDateTime=2024-05-13,toDateTime=2024-05-14)",
                kind.function()
            )
        };
        let refused = get(&harness, &path("v1.0"), Some(&token)).await;
        assert_eq!(refused.status(), 400, "{kind} under v1.0");
        let error = refused.json_value().await;
        assert!(
            error["error"]["message"]
                .as_str()
                .unwrap()
                .contains(kind.function())
        );
        let page = get(&harness, &path("beta"), Some(&token)).await;
        assert_eq!(page.status(), 200, "{kind} under beta");
        let page = page.json_value().await;
        let context = page["@odata.context"].as_str().unwrap();
        assert!(
            context.ends_with(&format!("callRecords.{})", kind.row_type())),
            "{context}"
        );
        let rows = page["value"].as_array().unwrap();
        assert!(!rows.is_empty(), "{kind}: no rows in a weekday");
        for row in rows {
            assert!(row[kind.timestamp_field()].is_string(), "{row}");
            assert!(row.get("startDateTime").is_none(), "{row}");
        }
        if kind == pstn_agent::model::LogKind::Sms {
            let with_id = rows.iter().filter(|row| row.get("id").is_some()).count();
            assert!(
                with_id > 0 && with_id < rows.len(),
                "{with_id} of {} with an id",
                rows.len()
            );
            assert!(rows.iter().any(|row| row["smsType"] == "sms_in"));
            assert!(
                rows.iter()
                    .any(|row| row["destinationNumber"].as_str().unwrap().ends_with("***"))
            );
        } else {
            assert!(
                rows.iter()
                    .all(|row| row["remediationId"].is_string() && row.get("id").is_none())
            );
        }
    }
}

#[tokio::test]
async fn the_dialout_report_is_served_under_beta_only_summing_the_range_asked_for() {
    use pstn_agent::model::LogKind;
    let harness = Harness::start(SimulatorOptions {
        calls_per_day: 20_000.0,
        lateness: Lateness::None,
        ..options()
    })
    .await;
    let token = token(&harness).await;
    let kind = LogKind::PstnDialoutReport;
    let path = |version: &str, to: &str| {
        format!(
            "/{version}/communications/callRecords/{}(fromDateTime=2024-05-13T00:00:00Z,toDateTime={to})",
            kind.function()
        )
    };
    let refused = get(
        &harness,
        &path("v1.0", "2024-05-14T00:00:00Z"),
        Some(&token),
    )
    .await;
    assert_eq!(refused.status(), 400);
    let report = |to: &'static str| {
        let (harness, token) = (&harness, &token);
        async move {
            let page = get(harness, &path("beta", to), Some(token)).await;
            assert_eq!(page.status(), 200);
            page.json_value().await
        }
    };
    let day = report("2024-05-14T00:00:00Z").await;
    let context = day["@odata.context"].as_str().unwrap();
    assert!(
        context.ends_with("callRecords.pstnOnlineMeetingDialoutReport)"),
        "{context}"
    );
    let rows = day["value"].as_array().unwrap();
    assert!(rows.len() > 5, "{} rows in a weekday", rows.len());
    for row in rows {
        let fields: HashSet<&str> = row
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        let documented: HashSet<&str> = kind.row_fields().iter().copied().collect();
        assert_eq!(fields, documented, "{row}");
        assert!(row["totalCalls"].as_i64().unwrap() > 0, "{row}");
    }
    let calls = |page: &serde_json::Value| -> i64 {
        page["value"]
            .as_array()
            .unwrap()
            .iter()
            .map(|row| row["totalCalls"].as_i64().unwrap())
            .sum()
    };
    let morning = report("2024-05-13T12:00:00Z").await;
    assert!(
        0 < calls(&morning) && calls(&morning) < calls(&day),
        "half a day sums fewer calls: {} of {}",
        calls(&morning),
        calls(&day)
    );
}
