//! The row's view as serde_json read it before the one-scan reader (issue 28), kept as
//! the reference: on every valid row both readers must give the same view or reason.

use super::*;
use serde::Deserialize;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ReferenceFields<'a> {
    #[serde(borrow, default)]
    id: Option<&'a RawValue>,
    #[serde(borrow, default)]
    start_date_time: Option<&'a RawValue>,
    #[serde(borrow, default)]
    duration: Option<&'a RawValue>,
    #[serde(borrow, default)]
    call_type: Option<&'a RawValue>,
    #[serde(borrow, default)]
    charge: Option<&'a RawValue>,
    #[serde(borrow, default)]
    connection_charge: Option<&'a RawValue>,
    #[serde(borrow, default)]
    currency: Option<&'a RawValue>,
    #[serde(borrow, default)]
    successful_call: Option<&'a RawValue>,
    #[serde(borrow, default)]
    final_sip_code: Option<&'a RawValue>,
    #[serde(borrow, default)]
    license_capability: Option<&'a RawValue>,
    #[serde(borrow, default)]
    other_party_country_code: Option<&'a RawValue>,
    #[serde(borrow, default)]
    destination_context: Option<&'a RawValue>,
    #[serde(borrow, default)]
    sent_date_time: Option<&'a RawValue>,
    #[serde(borrow, default)]
    block_date_time: Option<&'a RawValue>,
    #[serde(borrow, default)]
    remediation_id: Option<&'a RawValue>,
    #[serde(borrow, default)]
    sms_type: Option<&'a RawValue>,
    #[serde(borrow, default)]
    sms_units: Option<&'a RawValue>,
    #[serde(borrow, default)]
    call_charge: Option<&'a RawValue>,
    #[serde(borrow, default)]
    user_block_mode: Option<&'a RawValue>,
    #[serde(borrow, default)]
    callee_number: Option<&'a RawValue>,
    #[serde(borrow, default)]
    caller_number: Option<&'a RawValue>,
    #[serde(borrow, default)]
    destination_number: Option<&'a RawValue>,
    #[serde(borrow, default)]
    source_number: Option<&'a RawValue>,
    #[serde(borrow, default)]
    user_id: Option<&'a RawValue>,
}

fn string(raw: Option<&RawValue>) -> Option<Cow<'_, str>> {
    let text = raw?.get();
    if !text.starts_with('"') {
        return None;
    }
    match serde_json::from_str::<&str>(text) {
        Ok(borrowed) => Some(Cow::Borrowed(borrowed)),
        Err(_) => serde_json::from_str::<String>(text).ok().map(Cow::Owned),
    }
}

fn amount(raw: Option<&RawValue>) -> Option<Amount<'_>> {
    let text = raw?.get();
    match text.as_bytes().first()? {
        b'"' => string(raw).map(Amount::Text),
        b'-' | b'0'..=b'9' => Some(Amount::Number(text)),
        _ => None,
    }
}

/// The reader before issue 28's step, unchanged.
fn reference(raw: &str, kind: LogKind) -> Result<Row<'_>, BadRow> {
    if !raw.starts_with('{') {
        return Err(BadRow::NotAnObject);
    }
    if crate::model::bad_row::too_deep(raw) {
        return Err(BadRow::TooDeep);
    }
    let fields: ReferenceFields<'_> = serde_json::from_str(raw).map_err(|_| BadRow::NotAnObject)?;
    let (key, timestamp, charge) = reference_key_fields(&fields, kind);
    let id = string(key).filter(|id| !id.is_empty());
    if id.is_none() && kind.missing_key() == MissingKey::Skip {
        return Err(BadRow::MissingId);
    }
    let start_json = timestamp.map(RawValue::get).ok_or(BadRow::BadStart)?;
    let start_text = string(timestamp).ok_or(BadRow::BadStart)?;
    let start = Timestamp::parse(&start_text).map_err(|_| BadRow::BadStart)?;
    let call_type = string(fields.call_type);
    let sms_type = string(fields.sms_type);
    let other_party = match kind.other_party_field(call_type.as_deref(), sms_type.as_deref()) {
        Some(party) => reference_other_party(&fields, party),
        None => None,
    };
    Ok(Row {
        raw,
        id,
        start,
        start_json,
        duration_seconds: fields.duration.and_then(|d| d.get().parse::<f64>().ok()),
        call_type,
        charge: amount(charge),
        connection_charge: amount(fields.connection_charge),
        currency: string(fields.currency),
        successful_call: fields.successful_call.and_then(|v| v.get().parse().ok()),
        final_sip_code: fields.final_sip_code.and_then(|v| v.get().parse().ok()),
        license_capability: string(fields.license_capability),
        other_party_country: string(fields.other_party_country_code),
        destination_context: string(fields.destination_context),
        sms_type,
        sms_units: fields.sms_units.and_then(|v| v.get().parse::<f64>().ok()),
        block_mode: string(fields.user_block_mode),
        other_party_number: string(other_party),
        user_id: string(fields.user_id),
    })
}

/// The key, instant and charge fields of `kind`, as the old reader chose them.
type KeyFields<'a> = (
    Option<&'a RawValue>,
    Option<&'a RawValue>,
    Option<&'a RawValue>,
);

fn reference_key_fields<'a>(fields: &ReferenceFields<'a>, kind: LogKind) -> KeyFields<'a> {
    match kind {
        LogKind::Pstn | LogKind::DirectRouting => {
            (fields.id, fields.start_date_time, fields.charge)
        }
        LogKind::Sms => (fields.id, fields.sent_date_time, fields.call_charge),
        LogKind::PstnBlockedUser => (fields.remediation_id, fields.block_date_time, None),
        // Report rows have no instant of their own: read with `DialoutRow`.
        LogKind::PstnDialoutReport => (None, None, None),
    }
}

/// The other party's number field, as the old reader chose it.
fn reference_other_party<'a>(
    fields: &ReferenceFields<'a>,
    party: OtherParty,
) -> Option<&'a RawValue> {
    match party {
        OtherParty::Callee => fields.callee_number,
        OtherParty::Caller => fields.caller_number,
        OtherParty::Destination => fields.destination_number,
        OtherParty::Source => fields.source_number,
    }
}

/// A call row carrying every field the view reads, as key and JSON value.
const BASE: &[(&str, &str)] = &[
    ("id", r#""9c4984c7-6c3c-427d-a30c-bd0b2eacee90""#),
    ("callId", r#""1835317186_112562680@61.221.3.176""#),
    ("userId", r#""u-1""#),
    ("startDateTime", r#""2019-11-01T00:00:08.2589935Z""#),
    ("duration", "219"),
    ("charge", "0.00"),
    ("connectionCharge", r#""0.10""#),
    ("callType", r#""user_out""#),
    ("currency", r#""USD""#),
    ("calleeNumber", r#""+14165550123""#),
    ("callerNumber", r#""+4930123***""#),
    ("successfulCall", "true"),
    ("finalSipCode", "200"),
    ("licenseCapability", r#""MCOPSTNU""#),
    ("otherPartyCountryCode", r#""ca""#),
    ("destinationContext", r#""International""#),
    ("sentDateTime", r#""2024-05-01T08:00:00.1234567Z""#),
    ("blockDateTime", r#""2024-05-01T09:00:00Z""#),
    ("remediationId", r#""r-1""#),
    ("smsType", r#""sms_in""#),
    ("smsUnits", "2"),
    ("callCharge", r#""0.05""#),
    ("userBlockMode", r#""blocked""#),
    ("destinationNumber", r#""+442071838750""#),
    ("sourceNumber", r#""+74951234567""#),
    (
        "administrativeUnitInfos",
        r#"[{"id":"x","n":[1,2,{"a":"]}"}]}]"#,
    ),
];

/// Values of every JSON type, strings with escapes and brackets, nesting.
const VALUES: &[&str] = &[
    "null",
    r#""""#,
    r#""x\"y""#,
    r#""a\u0041\\""#,
    r#""[{""#,
    "12",
    "-1.5e3",
    "0.00",
    "true",
    "false",
    "[]",
    "{}",
    r#"{"a":[1,{"b":"]"}]}"#,
    r#""2024-05-01T00:00:00Z""#,
    r#""user_in""#,
    r#""sms_out""#,
    r#""+1809555\u0030123""#,
];

fn render(pairs: &[(String, String)], spaced: bool) -> String {
    let separator = if spaced { " ,\n\t" } else { "," };
    let fields: Vec<String> = pairs
        .iter()
        .map(|(key, value)| match spaced {
            true => format!("\"{key}\" : {value}"),
            false => format!("\"{key}\":{value}"),
        })
        .collect();
    match spaced {
        true => format!("{{ {} \r\n}}", fields.join(separator)),
        false => format!("{{{}}}", fields.join(separator)),
    }
}

/// Rows around [`BASE`]: each field given each value, doubled, dropped, its key
/// escaped; nesting around the depth limit; empty objects; a row longer than 64 KB.
fn rows() -> Vec<String> {
    let base: Vec<(String, String)> = BASE
        .iter()
        .map(|(key, value)| (key.to_string(), value.to_string()))
        .collect();
    let mut variants = vec![base.clone(), Vec::new()];
    for index in 0..base.len() {
        for value in VALUES {
            let mut pairs = base.clone();
            pairs[index].1 = value.to_string();
            variants.push(pairs);
        }
        let mut doubled = base.clone();
        doubled.push(base[index].clone());
        variants.push(doubled);
        let mut dropped = base.clone();
        dropped.remove(index);
        variants.push(dropped);
        let mut escaped = base.clone();
        let key = &base[index].0;
        escaped[index].0 = format!("\\u{:04x}{}", key.as_bytes()[0], &key[1..]);
        variants.push(escaped);
    }
    for depth in [62, 63, 64, 65, 100] {
        let mut deep = base.clone();
        let nest = format!("{}1{}", "[".repeat(depth), "]".repeat(depth));
        deep.insert(3, ("x".into(), nest));
        variants.push(deep);
    }
    // Fields past 64 KB into the row, beyond the spans' reach; `id` across the edge.
    for padding in [65_500, 70_000] {
        let mut long = base.clone();
        long.insert(0, ("pad".into(), format!("\"{}\"", "x".repeat(padding))));
        variants.push(long);
    }
    let mut rows = Vec::new();
    for pairs in &variants {
        rows.push(render(pairs, false));
        rows.push(render(pairs, true));
    }
    rows
}

/// The places a page's walk notes for `row` (the walk calls the same `members_end`), or
/// `None` where the walk leaves the page to serde_json (a row nested too deep).
fn spans_of(row: &str) -> Option<FieldSpans> {
    let (mut spans, depth) = (FieldSpans::default(), crate::model::MAX_ROW_DEPTH - 1);
    let note = |key: &[u8], escaped, value| spans.note(key, escaped, value);
    crate::model::json_text::members_end(row.as_bytes(), 0, depth, note).map(|_| spans)
}

#[test]
fn the_one_scan_reader_and_the_walks_spans_give_every_row_the_view_serde_json_gave_it() {
    let kinds = [
        LogKind::Pstn,
        LogKind::DirectRouting,
        LogKind::Sms,
        LogKind::PstnBlockedUser,
        LogKind::PstnDialoutReport,
    ];
    let rows = rows();
    assert!(rows.len() > 1_000, "{}", rows.len());
    let (mut good, mut bad) = (0, 0);
    for row in &rows {
        assert!(
            serde_json::from_str::<serde::de::IgnoredAny>(row).is_ok(),
            "{row}"
        );
        for kind in kinds {
            let expected = format!("{:?}", reference(row, kind));
            assert_eq!(
                format!("{:?}", Row::parse_page_row(row, kind, None)),
                expected,
                "{kind:?} {row}"
            );
            assert_eq!(
                format!(
                    "{:?}",
                    Row::parse_page_row(row, kind, spans_of(row).as_ref())
                ),
                expected,
                "{kind:?} {row}, read from the walk's spans"
            );
            assert_eq!(
                format!("{:?}", Row::parse_as(row, kind)),
                expected,
                "{kind:?} {row}"
            );
            match reference(row, kind) {
                Ok(_) => good += 1,
                Err(_) => bad += 1,
            }
        }
    }
    assert!(good > 1_000 && bad > 100, "{good} good, {bad} bad");
}

#[test]
fn text_that_is_not_json_is_refused_by_parse_as_and_never_panics_the_page_reader() {
    let row = render(
        &BASE
            .iter()
            .map(|(key, value)| (key.to_string(), value.to_string()))
            .collect::<Vec<_>>(),
        false,
    );
    for end in 0..row.len() {
        let cut = &row[..end];
        assert!(Row::parse_as(cut, LogKind::Pstn).is_err(), "{cut}");
        let _ = Row::parse_page_row(cut, LogKind::Pstn, None);
    }
    for bad in [
        r#"{"id" "a"}"#,
        r#"{"id":"a",}"#,
        r#"{"id":"a""#,
        r#"{"#,
        r#"{"a\"#,
    ] {
        assert!(Row::parse_as(bad, LogKind::Pstn).is_err(), "{bad}");
        let _ = Row::parse_page_row(bad, LogKind::Pstn, None);
    }
}
