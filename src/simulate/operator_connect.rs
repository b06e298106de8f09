//! Operator Connect and Teams Phone Mobile rows of the simulated PSTN log: real tenants
//! show these call types though Microsoft's list lacks them; the operator bills them.

use super::random::CallRandom;

/// Operator Connect operators named in `oc_*` rows.
const OPERATORS: &[&str] = &["Contoso Telecom", "Fabrikam Mobile", "Northwind Voice"];

/// About one user call in twelve goes through Operator Connect or Teams Phone Mobile
/// (`oc_user_in`, `oc_user_out`, `oc_user_out_conf`, `oc_fmc_in`, `oc_fmc_out`), with
/// its operator's name. Drawn from a copy of the call's stream, so every other draw
/// (ids, numbers, charges) stays what earlier releases generated for the same seed.
pub(super) fn operator_connect(
    call_type: &'static str,
    random: &CallRandom,
) -> (&'static str, Option<&'static str>) {
    let mut draws = CallRandom::new(random.clone().next_u64(), 0x0C0C, 0);
    if draws.below(12) != 0 {
        return (call_type, None);
    }
    let mobile = draws.below(3) == 0;
    let operator_type = match call_type {
        "user_in" if mobile => "oc_fmc_in",
        "user_in" => "oc_user_in",
        "user_out" if mobile => "oc_fmc_out",
        "user_out" => "oc_user_out",
        "user_out_conf" => "oc_user_out_conf",
        _ => return (call_type, None),
    };
    (operator_type, Some(OPERATORS[draws.below(OPERATORS.len())]))
}

#[cfg(test)]
mod tests {
    use crate::model::{ApiVersion, LogKind, Timestamp};
    use crate::simulate::{Generator, Lateness};
    use std::time::Duration;

    #[test]
    fn some_pstn_rows_are_operator_connect_billed_by_the_operator() {
        let generator = Generator::new(1, 2000.0, Lateness::None);
        let from = Timestamp::parse("2024-05-01T00:00:00Z").unwrap();
        let to = from.saturating_add(Duration::from_secs(86_400));
        let far = Timestamp::parse("2030-01-01T00:00:00Z").unwrap();
        let mut types = std::collections::BTreeSet::new();
        let mut rows = 0;
        for call in generator.visible_calls(LogKind::Pstn, from, to, false, far) {
            let mut text = String::new();
            generator.write_row(LogKind::Pstn, ApiVersion::V1, &call, &mut text);
            let row: serde_json::Value = serde_json::from_str(&text).unwrap();
            let call_type = row["callType"].as_str().unwrap().to_owned();
            if call_type.starts_with("oc_") {
                rows += 1;
                assert_eq!(row["callDurationSource"], "operator", "{row}");
                assert_ne!(row["operator"], "Microsoft", "{row}");
                let charge = (row["charge"].as_f64())
                    .or_else(|| row["charge"].as_str().and_then(|text| text.parse().ok()));
                assert_eq!(charge, Some(0.0), "no Microsoft charge: {row}");
                types.insert(call_type);
            } else {
                assert_eq!(row["callDurationSource"], "microsoft", "{row}");
            }
        }
        assert!(rows > 50, "{rows} Operator Connect rows of about 2,000");
        assert_eq!(
            types.into_iter().collect::<Vec<_>>(),
            [
                "oc_fmc_in",
                "oc_fmc_out",
                "oc_user_in",
                "oc_user_out",
                "oc_user_out_conf"
            ]
        );
    }
}
