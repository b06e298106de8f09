//! The dedupe key of a row that has no documented key (`id`, `remediationId`): a
//! SHA-256 of the row's content in a canonical form, so every re-read of the same row
//! gives the same key whatever Graph's serialiser did this time.
//!
//! "Same row" means: the same fields with the same values. Every field takes part,
//! because no subset is documented as identifying (`smsId` is documented as not unique)
//! and a subset would merge two real events that differ only outside it. The canonical
//! form ignores what a re-serialisation may change and nothing else:
//!
//! - field order (keys sorted) and insignificant whitespace;
//! - `null` versus absent (a field sent as `null` on one read and left out on the next);
//! - OData annotations (`@odata.type` and kin), which describe the payload, not the event;
//! - how a number is written: `0.1`, `0.10`, `1e-1` and the string `"0.10"` are one value
//!   (Graph's Decimal fields arrive as numbers or strings);
//! - how an instant is written: `2024-05-01T08:00:00Z` and `2024-05-01T08:00:00.0000000Z`
//!   are one instant (seven fractional digits, or fewer).
//!
//! A field whose value really changes between reads (a charge rated later) makes a new
//! row: delivered again, with the new content. Two rows with the same content are one row.

use super::Timestamp;
use serde_json::{Number, Value};

/// Writes the canonical form of `raw` (a JSON object) to `out`; `None` when `raw` is not JSON.
pub(super) fn canonical(raw: &str) -> Option<Vec<u8>> {
    let value: Value = serde_json::from_str(raw).ok()?;
    let mut out = Vec::with_capacity(raw.len());
    write(&value, &mut out);
    Some(out)
}

fn write(value: &Value, out: &mut Vec<u8>) {
    match value {
        Value::Null => out.extend_from_slice(b"null"),
        Value::Bool(true) => out.extend_from_slice(b"true"),
        Value::Bool(false) => out.extend_from_slice(b"false"),
        Value::Number(number) => write_number(number, out),
        Value::String(text) => write_string(text, out),
        Value::Array(items) => {
            out.push(b'[');
            for (index, item) in items.iter().enumerate() {
                if index > 0 {
                    out.push(b',');
                }
                write(item, out);
            }
            out.push(b']');
        }
        Value::Object(map) => {
            // serde_json's map (no `preserve_order`) iterates in key order already;
            // sorting here keeps the form canonical even if that feature is switched on.
            let mut entries: Vec<(&String, &Value)> = map
                .iter()
                .filter(|(key, value)| !value.is_null() && !key.starts_with("@odata."))
                .collect();
            entries.sort_by(|a, b| a.0.cmp(b.0));
            out.push(b'{');
            for (index, (key, value)) in entries.into_iter().enumerate() {
                if index > 0 {
                    out.push(b',');
                }
                quote(key, out);
                out.push(b':');
                write(value, out);
            }
            out.push(b'}');
        }
    }
}

/// Numbers as `N` + the value: integers exactly, others as the shortest decimal that
/// reads back as the same f64 (so `1.0` is `N1`, `0.10` is `N0.1`).
fn write_number(number: &Number, out: &mut Vec<u8>) {
    let text = if let Some(integer) = number.as_i64() {
        integer.to_string()
    } else if let Some(integer) = number.as_u64() {
        integer.to_string()
    } else {
        match number.as_f64() {
            Some(float) if float.fract() == 0.0 && float.abs() < 9.0e15 => {
                (float as i64).to_string()
            }
            Some(float) => float.to_string(),
            None => number.to_string(),
        }
    };
    out.push(b'N');
    out.extend_from_slice(text.as_bytes());
}

/// Strings JSON-quoted, except an instant (`T` + ticks) and a JSON number literal
/// written as a string (`N` + its value): the tags cannot start a quoted string.
fn write_string(text: &str, out: &mut Vec<u8>) {
    if looks_like_instant(text)
        && let Ok(instant) = Timestamp::parse(text)
    {
        out.push(b'T');
        out.extend_from_slice(instant.ticks().to_string().as_bytes());
        return;
    }
    if is_number_literal(text)
        && let Ok(Value::Number(number)) = serde_json::from_str::<Value>(text)
    {
        write_number(&number, out);
        return;
    }
    quote(text, out);
}

fn looks_like_instant(text: &str) -> bool {
    let bytes = text.as_bytes();
    bytes.len() >= 20 && bytes[4] == b'-' && bytes[10] == b'T'
}

/// A JSON number literal exactly (no leading zeros, no `+`, no surrounding space), so a
/// string such as `"007"` or a phone number `"+4930123"` stays a string.
fn is_number_literal(text: &str) -> bool {
    let digits = text.strip_prefix('-').unwrap_or(text);
    let integer_end = digits
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(digits.len());
    let (integer, rest) = digits.split_at(integer_end);
    if integer.is_empty() || (integer.len() > 1 && integer.starts_with('0')) {
        return false;
    }
    let rest = match rest.strip_prefix('.') {
        Some(fraction) => {
            let end = fraction
                .find(|c: char| !c.is_ascii_digit())
                .unwrap_or(fraction.len());
            if end == 0 {
                return false;
            }
            &fraction[end..]
        }
        None => rest,
    };
    match rest.strip_prefix(['e', 'E']) {
        Some(exponent) => {
            let exponent = exponent.strip_prefix(['+', '-']).unwrap_or(exponent);
            !exponent.is_empty() && exponent.bytes().all(|b| b.is_ascii_digit())
        }
        None => rest.is_empty(),
    }
}

fn quote(text: &str, out: &mut Vec<u8>) {
    match serde_json::to_vec(text) {
        Ok(quoted) => out.extend_from_slice(&quoted),
        // Serialising a &str cannot fail; keep the key total anyway.
        Err(_) => out.extend_from_slice(text.as_bytes()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form(raw: &str) -> String {
        String::from_utf8(canonical(raw).unwrap()).unwrap()
    }

    #[test]
    fn reserialisations_of_one_row_have_one_form() {
        let first = r##"{"smsId":"123","sentDateTime":"2024-05-01T08:00:00Z","callCharge":0.10,"smsUnits":1,"userId":null,"@odata.type":"#microsoft.graph.callRecords.smsLogRow"}"##;
        let second = "{ \"smsUnits\" : 1.0,\n \"callCharge\":\"0.1\", \"sentDateTime\":\"2024-05-01T08:00:00.0000000Z\", \"smsId\":\"123\" }";
        assert_eq!(form(first), form(second));
        assert_eq!(
            form(first),
            r#"{"callCharge":N0.1,"sentDateTime":T17145504000000000,"smsId":N123,"smsUnits":N1}"#
        );
    }

    #[test]
    fn any_real_difference_changes_the_form() {
        let base = r#"{"a":"+4930123***","b":[1,null],"c":"007"}"#;
        for other in [
            r#"{"a":"+4930123***","b":[1],"c":"007"}"#,
            r#"{"a":"+4930124***","b":[1,null],"c":"007"}"#,
            r#"{"a":"+4930123***","b":[1,null],"c":"7"}"#,
            r#"{"a":"+4930123***","b":[1,null],"c":7,"d":false}"#,
        ] {
            assert_ne!(form(base), form(other), "{other}");
        }
        assert!(form(base).contains("\"+4930123***\""));
        assert!(form(base).contains("\"007\""));
    }

    #[test]
    fn number_literals_are_recognised_exactly() {
        for yes in ["0", "-1", "0.10", "1e5", "2.5E-3", "12"] {
            assert!(is_number_literal(yes), "{yes}");
        }
        for no in [
            "", "-", "007", "+1", "1.", ".5", "1e", " 1", "1 ", "0x10", "+4930123",
        ] {
            assert!(!is_number_literal(no), "{no}");
        }
    }
}
