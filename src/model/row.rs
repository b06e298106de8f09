//! The small typed view of a row that the agent itself needs, borrowed from the raw JSON.
//!
//! Every property is nullable in Graph's schema and types drift (a Decimal charge can
//! arrive as a string), so every field here is read leniently: only a missing `id` or
//! an unreadable `startDateTime` makes a row unusable.

use super::{Amount, BadRow, DedupeKey, Timestamp};
use serde::Deserialize;
use serde_json::value::RawValue;
use std::borrow::Cow;

/// A row the agent can deliver: its raw JSON plus the fields it reads.
#[derive(Debug, Clone)]
pub struct Row<'a> {
    /// The row exactly as Graph sent it.
    pub raw: &'a str,
    /// `id`: unique per row, the dedupe key.
    pub id: Cow<'a, str>,
    /// `startDateTime`, parsed.
    pub start: Timestamp,
    /// `startDateTime` as the JSON string literal Graph sent (quotes included).
    pub start_json: &'a str,
    /// `duration` in seconds, when present and numeric.
    pub duration_seconds: Option<f64>,
    /// `callType`.
    pub call_type: Option<Cow<'a, str>>,
    /// `charge` (PSTN only).
    pub charge: Option<Amount<'a>>,
    /// `connectionCharge` (PSTN only).
    pub connection_charge: Option<Amount<'a>>,
    /// `currency` (ISO 4217).
    pub currency: Option<Cow<'a, str>>,
    /// `successfulCall` (Direct Routing only).
    pub successful_call: Option<bool>,
    /// `finalSipCode` (Direct Routing only).
    pub final_sip_code: Option<i64>,
    /// `licenseCapability` (PSTN only).
    pub license_capability: Option<Cow<'a, str>>,
    /// `otherPartyCountryCode` (PSTN, beta API only).
    pub other_party_country: Option<Cow<'a, str>>,
    /// `destinationContext` (PSTN): `Domestic`, `International` or absent.
    pub destination_context: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Fields<'a> {
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

impl<'a> Row<'a> {
    /// Reads the typed view of one raw row.
    pub fn parse(raw: &'a str) -> Result<Row<'a>, BadRow> {
        if !raw.starts_with('{') {
            return Err(BadRow::NotAnObject);
        }
        let fields: Fields<'a> = serde_json::from_str(raw).map_err(|_| BadRow::NotAnObject)?;
        let id = string(fields.id)
            .filter(|id| !id.is_empty())
            .ok_or(BadRow::MissingId)?;
        let start_json = fields
            .start_date_time
            .map(RawValue::get)
            .ok_or(BadRow::BadStart)?;
        let start_text = string(fields.start_date_time).ok_or(BadRow::BadStart)?;
        let start = Timestamp::parse(&start_text).map_err(|_| BadRow::BadStart)?;
        Ok(Row {
            raw,
            id,
            start,
            start_json,
            duration_seconds: fields.duration.and_then(|d| d.get().parse::<f64>().ok()),
            call_type: string(fields.call_type),
            charge: amount(fields.charge),
            connection_charge: amount(fields.connection_charge),
            currency: string(fields.currency),
            successful_call: fields.successful_call.and_then(|v| v.get().parse().ok()),
            final_sip_code: fields.final_sip_code.and_then(|v| v.get().parse().ok()),
            license_capability: string(fields.license_capability),
            other_party_country: string(fields.other_party_country_code),
            destination_context: string(fields.destination_context),
        })
    }

    /// The key this row is deduplicated by.
    pub fn dedupe_key(&self) -> DedupeKey {
        DedupeKey::of(&self.id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PSTN_ROW: &str = r#"{"id":"9c4984c7-6c3c-427d-a30c-bd0b2eacee90","callId":"1835317186_112562680@61.221.3.176","startDateTime":"2019-11-01T00:00:08.2589935Z","duration":219,"charge":0.00,"callType":"user_in","currency":"USD","connectionCharge":"0.10","licenseCapability":"MCOPSTNU","administrativeUnitInfos":[{"id":"x"}]}"#;

    #[test]
    fn the_view_reads_what_the_agent_needs_and_keeps_the_raw_text() {
        let row = Row::parse(PSTN_ROW).unwrap();
        assert_eq!(row.raw, PSTN_ROW);
        assert_eq!(row.id, "9c4984c7-6c3c-427d-a30c-bd0b2eacee90");
        assert_eq!(row.start_json, "\"2019-11-01T00:00:08.2589935Z\"");
        assert_eq!(row.start.to_string(), "2019-11-01T00:00:08.2589935Z");
        assert_eq!(row.duration_seconds, Some(219.0));
        assert_eq!(row.call_type.as_deref(), Some("user_in"));
        assert_eq!(row.charge, Some(Amount::Number("0.00")));
        assert_eq!(row.connection_charge, Some(Amount::Text("0.10".into())));
        assert_eq!(row.connection_charge.unwrap().value(), Some(0.10));
        assert_eq!(row.license_capability.as_deref(), Some("MCOPSTNU"));
    }

    #[test]
    fn a_row_without_id_or_start_is_bad_but_odd_types_elsewhere_are_tolerated() {
        assert_eq!(
            Row::parse(r#"{"startDateTime":"2024-05-01T00:00:00Z"}"#).unwrap_err(),
            BadRow::MissingId
        );
        assert_eq!(
            Row::parse(r#"{"id":"a","startDateTime":"yesterday"}"#).unwrap_err(),
            BadRow::BadStart
        );
        assert_eq!(
            Row::parse(r#"{"id":"a","startDateTime":null}"#).unwrap_err(),
            BadRow::BadStart
        );
        assert_eq!(Row::parse("[1]").unwrap_err(), BadRow::NotAnObject);
        let odd = Row::parse(r#"{"id":"a","startDateTime":"2024-05-01T00:00:00Z","duration":"long","charge":true,"finalSipCode":null}"#).unwrap();
        assert_eq!(odd.duration_seconds, None);
        assert_eq!(odd.charge, None);
    }
}
