//! One event as one Log Analytics record: a flat JSON object whose members become the
//! table's columns. `TimeGenerated` is the call's start; the envelope's fields get
//! Pascal-case column names (the agent's own, apart from Graph's camel-case ones); every
//! field of the row is a column of its own name; enrichment beside `call` is kept.
//!
//! No column may carry a name Log Analytics reserves (`id`, `TenantId`, `Type`, names
//! starting with `_`, ...): such a field is renamed `row` + its name capitalised
//! (`id` → `rowId`). Nulls are left out (an absent column is null). Values are copied
//! as raw JSON, never re-encoded.

use super::super::Batch;
use super::super::redact::Members;
use std::collections::HashSet;

/// How the envelope's keys are named as columns (`timestamp` is `TimeGenerated`).
pub const ENVELOPE_COLUMNS: &[(&str, &str)] = &[
    ("timestamp", "TimeGenerated"),
    ("observed_timestamp", "ObservedTimestamp"),
    ("source", "AgentSource"),
    ("tenant_id", "EntraTenantId"),
    ("kind", "EventKind"),
    ("other_party_country", "OtherPartyCountry"),
    ("user", "User"),
];

/// Column names Log Analytics keeps for itself (compared ignoring case), besides every
/// name starting with `_`: the documented reserved names and the standard columns
/// every table has.
pub const RESERVED_COLUMNS: &[&str] = &[
    "id",
    "TenantId",
    "Type",
    "TimeGenerated",
    "UniqueId",
    "Title",
    "SourceSystem",
    "MG",
    "ManagementGroupName",
    "Computer",
    "RawData",
];

/// Whether Log Analytics refuses `name` as a column of ours.
pub fn is_reserved(name: &str) -> bool {
    name.starts_with('_')
        || RESERVED_COLUMNS
            .iter()
            .any(|reserved| reserved.eq_ignore_ascii_case(name))
}

/// A field name as a legal column name: letters, digits and `_` only, starting with
/// a letter or `_` (anything else becomes `_`; leading digits go).
fn legal(name: &str) -> String {
    let replaced: String = name
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    let kept = replaced.trim_start_matches(|c: char| c.is_ascii_digit());
    if kept.is_empty() {
        "field".to_owned()
    } else {
        kept.to_owned()
    }
}

/// `row` + the name without leading `_`, capitalised: `id` → `rowId`, `_x` → `rowX`.
fn prefixed(name: &str) -> String {
    let bare = name.trim_start_matches('_');
    let mut chars = bare.chars();
    match chars.next() {
        Some(first) => format!("row{}{}", first.to_ascii_uppercase(), chars.as_str()),
        None => "rowField".to_owned(),
    }
}

/// The column a row field goes to, given the columns already taken.
pub fn row_column(field: &str, taken: &HashSet<String>) -> String {
    let mut name = legal(field);
    while is_reserved(&name) || taken.contains(&name) {
        name = prefixed(&name);
    }
    name
}

/// The column an envelope key goes to: the table above, or the key in Pascal case.
fn envelope_column(key: &str) -> String {
    if let Some((_, column)) = ENVELOPE_COLUMNS.iter().find(|(k, _)| *k == key) {
        return (*column).to_owned();
    }
    let pascal = super::pascal_case(key);
    let mut name = legal(&pascal);
    while is_reserved(&name) {
        name = prefixed(&name);
    }
    name
}

fn push_member(out: &mut Vec<u8>, name: &str, raw: &str) -> Result<(), serde_json::Error> {
    if out.len() > 1 {
        out.push(b',');
    }
    serde_json::to_writer(&mut *out, name)?;
    out.push(b':');
    out.extend_from_slice(raw.as_bytes());
    Ok(())
}

/// Event `index` of `batch` as one record (a JSON object, no trailing newline).
pub fn record_of(batch: &Batch, index: usize) -> Result<Vec<u8>, serde_json::Error> {
    let span = &batch.events[index];
    let line = &batch.lines[span.line.clone()];
    let event: Members<'_> = serde_json::from_slice(line)?;
    let mut out = Vec::with_capacity(line.len() + 64);
    out.push(b'{');
    let time = serde_json::to_string(&span.envelope.call_start.to_string())?;
    push_member(&mut out, "TimeGenerated", &time)?;
    let mut taken: HashSet<String> = HashSet::from(["TimeGenerated".to_owned()]);
    let mut call = None;
    for (key, value) in &event.0 {
        match key.as_ref() {
            "timestamp" => {}
            "call" => call = Some(*value),
            _ if value.get() == "null" => {}
            other => {
                let column = envelope_column(other);
                if taken.insert(column.clone()) {
                    push_member(&mut out, &column, value.get())?;
                }
            }
        }
    }
    if let Some(call) = call {
        let row: Members<'_> = serde_json::from_str(call.get())?;
        for (field, value) in &row.0 {
            if value.get() == "null" {
                continue;
            }
            let column = row_column(field, &taken);
            push_member(&mut out, &column, value.get())?;
            taken.insert(column);
        }
    }
    out.push(b'}');
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(raw: &str) -> serde_json::Value {
        let batch = crate::sinks::batch_of(&[raw]);
        serde_json::from_slice(&record_of(&batch, 0).unwrap()).unwrap()
    }

    #[test]
    fn a_record_is_flat_with_time_generated_the_envelope_and_every_row_field() {
        let record = record(
            r#"{"id":"a","startDateTime":"2024-05-01T08:15:03.773Z","charge":"0.10","callType":"user_out","userId":null,"administrativeUnitInfos":[{"id":"u"}]}"#,
        );
        assert_eq!(record["TimeGenerated"], "2024-05-01T08:15:03.7730000Z");
        assert_eq!(record["AgentSource"], "tenant");
        assert_eq!(record["EntraTenantId"], "t-1");
        assert_eq!(record["EventKind"], "pstn_call");
        assert!(record["ObservedTimestamp"].is_string());
        assert_eq!(record["rowId"], "a");
        assert_eq!(record["charge"], "0.10");
        assert_eq!(record["startDateTime"], "2024-05-01T08:15:03.773Z");
        assert_eq!(record["administrativeUnitInfos"][0]["id"], "u");
        let object = record.as_object().unwrap();
        assert!(!object.contains_key("userId"), "nulls are left out");
        assert!(
            !object
                .keys()
                .any(|name| is_reserved(name) && name != "TimeGenerated")
        );
    }

    #[test]
    fn reserved_and_clashing_names_are_renamed_with_a_row_prefix() {
        let record = record(
            r#"{"id":"a","startDateTime":"2024-05-01T00:00:00Z","Type":"t","TenantId":"x","_hidden":1,"rowId":"clash","EventKind":"k","odd name":2}"#,
        );
        assert_eq!(record["rowType"], "t");
        assert_eq!(record["rowTenantId"], "x");
        assert_eq!(record["rowHidden"], 1);
        assert_eq!(record["rowId"], "a");
        assert_eq!(record["rowRowId"], "clash");
        assert_eq!(record["rowEventKind"], "k");
        assert_eq!(record["EventKind"], "pstn_call");
        assert_eq!(record["odd_name"], 2);
    }
}
