//! The small typed view of a row that the agent itself needs, borrowed from the raw JSON.
//!
//! Every property is nullable in Graph's schema and types drift (a Decimal charge can
//! arrive as a string), so every field here is read leniently: only an unreadable
//! timestamp, or a missing `id` on a call row, makes a row unusable. Which field is the
//! timestamp and which the key comes from the row's [`LogKind`].

use super::{Amount, BadRow, DedupeKey, LogKind, MissingKey, OtherParty, Timestamp};
use scan::{Field, Fields};
use serde_json::value::RawValue;
use std::borrow::Cow;

#[cfg(test)]
mod reference_tests;
mod scan;
mod spans;

pub use spans::FieldSpans;

/// A row the agent can deliver: its raw JSON plus the fields it reads.
#[derive(Debug, Clone)]
pub struct Row<'a> {
    /// The row exactly as Graph sent it.
    pub raw: &'a str,
    /// The kind's documented key (`id`; `remediationId` for blocked users), when the
    /// row has one; without it the row is keyed by its content.
    pub id: Option<Cow<'a, str>>,
    /// The kind's timestamp (`startDateTime`, `sentDateTime`, `blockDateTime`), parsed.
    pub start: Timestamp,
    /// That timestamp as the JSON string literal Graph sent (quotes included).
    pub start_json: &'a str,
    /// `duration` in seconds, when present and numeric.
    pub duration_seconds: Option<f64>,
    /// `callType`.
    pub call_type: Option<Cow<'a, str>>,
    /// `charge` (PSTN calls) or `callCharge` (SMS).
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
    /// `destinationContext` (PSTN, SMS): `Domestic`, `International` or absent.
    pub destination_context: Option<Cow<'a, str>>,
    /// `smsType` (SMS): `sms_out`, `sms_in`.
    pub sms_type: Option<Cow<'a, str>>,
    /// `smsUnits` (SMS), when numeric.
    pub sms_units: Option<f64>,
    /// `userBlockMode` (blocked users): `blocked`, `unblocked`, `unknownFutureValue`.
    pub block_mode: Option<Cow<'a, str>>,
    /// The other party's number: `calleeNumber` of an outbound call, `callerNumber` of
    /// an inbound one; `destinationNumber` of an outgoing SMS, `sourceNumber` of an
    /// incoming one (see [`LogKind::other_party_field`]).
    pub other_party_number: Option<Cow<'a, str>>,
    /// `userId`.
    pub user_id: Option<Cow<'a, str>>,
}

/// A JSON string's text, or `None` (null, absent, another type); the dial-out
/// report's view reads its fields with it too.
pub(super) fn string(raw: Option<&RawValue>) -> Option<Cow<'_, str>> {
    string_text(raw.map(RawValue::get))
}

/// [`string`] of a value's JSON text, which must be valid JSON (a page's, or checked).
fn string_text(text: Option<&str>) -> Option<Cow<'_, str>> {
    let inner = text?.strip_prefix('"')?.strip_suffix('"')?;
    if !inner.contains('\\') {
        return Some(Cow::Borrowed(inner));
    }
    serde_json::from_str::<String>(text?).ok().map(Cow::Owned)
}

/// A Decimal (number or string) as an [`Amount`].
pub(super) fn amount(raw: Option<&RawValue>) -> Option<Amount<'_>> {
    amount_text(raw.map(RawValue::get))
}

/// [`amount`] of a value's JSON text.
fn amount_text(text: Option<&str>) -> Option<Amount<'_>> {
    let text = text?;
    match text.as_bytes().first()? {
        b'"' => string_text(Some(text)).map(Amount::Text),
        b'-' | b'0'..=b'9' => Some(Amount::Number(text)),
        _ => None,
    }
}

impl<'a> Row<'a> {
    #[cfg(any(test, feature = "__internals"))]
    /// Reads the typed view of one raw call-log row (`id`, `startDateTime`): the same as
    /// [`Row::parse_as`] with [`LogKind::Pstn`], kept for the many call-only callers.
    pub fn parse(raw: &'a str) -> Result<Row<'a>, BadRow> {
        Row::parse_as(raw, LogKind::Pstn)
    }

    /// Reads the typed view of one raw row of `kind`: its timestamp and key come from
    /// the kind's fields. Borrows from `raw`; allocates only to unescape a string.
    #[cfg(any(test, feature = "__internals"))]
    pub fn parse_as(raw: &'a str, kind: LogKind) -> Result<Row<'a>, BadRow> {
        if !raw.starts_with('{') {
            return Err(BadRow::NotAnObject);
        }
        if super::bad_row::too_deep(raw) {
            return Err(BadRow::TooDeep);
        }
        serde_json::from_str::<serde::de::IgnoredAny>(raw).map_err(|_| BadRow::NotAnObject)?;
        Row::of_fields(raw, scan::scan(raw)?, kind)
    }

    /// [`Row::parse_as`] of one row of a page already checked (by its walk or by
    /// serde_json, so `raw` is valid JSON): its fields read from the places the page's
    /// walk noted (`spans`), or found by one scan of the row when the walk left it
    /// (issue 28). A walked row is no deeper than [`super::MAX_ROW_DEPTH`]: the walk
    /// vouches for no deeper row.
    /// Text that is not valid JSON gives a bad row or a row of no meaning, never a panic.
    pub fn parse_page_row(
        raw: &'a str,
        kind: LogKind,
        spans: Option<&FieldSpans>,
    ) -> Result<Row<'a>, BadRow> {
        if !raw.starts_with('{') {
            return Err(BadRow::NotAnObject);
        }
        let fields = match spans {
            Some(spans) => spans.fields(raw)?,
            None => scan::scan(raw)?,
        };
        Row::of_fields(raw, fields, kind)
    }

    /// The view of a row from its fields' JSON texts.
    fn of_fields(raw: &'a str, fields: Fields<'a>, kind: LogKind) -> Result<Row<'a>, BadRow> {
        let (key, timestamp, charge) = match kind {
            LogKind::Pstn | LogKind::DirectRouting => (
                fields.get(Field::Id),
                fields.get(Field::StartDateTime),
                fields.get(Field::Charge),
            ),
            LogKind::Sms => (
                fields.get(Field::Id),
                fields.get(Field::SentDateTime),
                fields.get(Field::CallCharge),
            ),
            LogKind::PstnBlockedUser => (
                fields.get(Field::RemediationId),
                fields.get(Field::BlockDateTime),
                None,
            ),
            // Report rows have no instant of their own: read with `DialoutRow`.
            LogKind::PstnDialoutReport => (None, None, None),
        };
        let id = string_text(key).filter(|id| !id.is_empty());
        if id.is_none() && kind.missing_key() == MissingKey::Skip {
            return Err(BadRow::MissingId);
        }
        let start_json = timestamp.ok_or(BadRow::BadStart)?;
        let start_text = string_text(timestamp).ok_or(BadRow::BadStart)?;
        let start = Timestamp::parse(&start_text).map_err(|_| BadRow::BadStart)?;
        let call_type = string_text(fields.get(Field::CallType));
        let sms_type = string_text(fields.get(Field::SmsType));
        let other_party = match kind.other_party_field(call_type.as_deref(), sms_type.as_deref()) {
            Some(OtherParty::Callee) => fields.get(Field::CalleeNumber),
            Some(OtherParty::Caller) => fields.get(Field::CallerNumber),
            Some(OtherParty::Destination) => fields.get(Field::DestinationNumber),
            Some(OtherParty::Source) => fields.get(Field::SourceNumber),
            None => None,
        };
        let parsed = |field| fields.get(field).and_then(|text: &str| text.parse().ok());
        Ok(Row {
            raw,
            id,
            start,
            start_json,
            duration_seconds: parsed(Field::Duration),
            call_type,
            charge: amount_text(charge),
            connection_charge: amount_text(fields.get(Field::ConnectionCharge)),
            currency: string_text(fields.get(Field::Currency)),
            successful_call: fields
                .get(Field::SuccessfulCall)
                .and_then(|v| v.parse().ok()),
            final_sip_code: fields.get(Field::FinalSipCode).and_then(|v| v.parse().ok()),
            license_capability: string_text(fields.get(Field::LicenseCapability)),
            other_party_country: string_text(fields.get(Field::OtherPartyCountryCode)),
            destination_context: string_text(fields.get(Field::DestinationContext)),
            sms_type,
            sms_units: parsed(Field::SmsUnits),
            block_mode: string_text(fields.get(Field::UserBlockMode)),
            other_party_number: string_text(other_party),
            user_id: string_text(fields.get(Field::UserId)),
        })
    }

    /// The key this row is deduplicated by: its documented key, or, when it has none,
    /// a hash of its canonical content (the same on every re-read).
    pub fn dedupe_key(&self) -> DedupeKey {
        match &self.id {
            Some(id) => DedupeKey::of(id),
            None => DedupeKey::of_content(self.raw),
        }
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
        assert_eq!(
            row.id.as_deref(),
            Some("9c4984c7-6c3c-427d-a30c-bd0b2eacee90")
        );
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

    const SMS_ROW: &str = r#"{"smsId":"0x7d1f","sentDateTime":"2024-05-01T08:00:00.1234567Z","smsType":"sms_out","smsUnits":2,"callCharge":"0.05","currency":"EUR","destinationContext":"International","destinationNumber":"+4930123***","userId":"u-1"}"#;

    #[test]
    fn an_sms_row_is_timed_by_sent_date_time_and_keyed_by_content_without_an_id() {
        let row = Row::parse_as(SMS_ROW, LogKind::Sms).unwrap();
        assert_eq!(row.id, None);
        assert_eq!(row.start.to_string(), "2024-05-01T08:00:00.1234567Z");
        assert_eq!(row.start_json, "\"2024-05-01T08:00:00.1234567Z\"");
        assert_eq!(row.sms_type.as_deref(), Some("sms_out"));
        assert_eq!(row.sms_units, Some(2.0));
        assert_eq!(row.charge.as_ref().and_then(Amount::value), Some(0.05));
        assert!(row.dedupe_key().is_content_hash());
        let with_id = SMS_ROW.replacen('{', r#"{"id":"9c4984c7-6c3c-427d-a30c-bd0b2eacee90","#, 1);
        let keyed = Row::parse_as(&with_id, LogKind::Sms).unwrap();
        assert_eq!(
            keyed.dedupe_key(),
            DedupeKey::of("9c4984c7-6c3c-427d-a30c-bd0b2eacee90")
        );
        assert_eq!(
            Row::parse_as(SMS_ROW, LogKind::Pstn).unwrap_err(),
            BadRow::MissingId,
            "a call row still needs its id"
        );
    }

    #[test]
    fn a_blocked_user_row_is_keyed_by_remediation_id_and_timed_by_block_date_time() {
        let raw = r#"{"blockDateTime":"2024-05-01T09:00:00Z","blockReason":"High Overall Usage","remediationId":"1b2c3d4e-0000-4000-8000-000000000001","userBlockMode":"blocked","userId":"u-1","startDateTime":"1999-01-01T00:00:00Z"}"#;
        let row = Row::parse_as(raw, LogKind::PstnBlockedUser).unwrap();
        assert_eq!(
            row.id.as_deref(),
            Some("1b2c3d4e-0000-4000-8000-000000000001")
        );
        assert_eq!(row.start.to_string(), "2024-05-01T09:00:00.0000000Z");
        assert_eq!(row.block_mode.as_deref(), Some("blocked"));
        let anonymous = Row::parse_as(
            r#"{"blockDateTime":"2024-05-01T09:00:00Z","userBlockMode":"unblocked"}"#,
            LogKind::PstnBlockedUser,
        )
        .unwrap();
        assert!(anonymous.dedupe_key().is_content_hash());
        assert_eq!(
            Row::parse_as(r#"{"remediationId":"r"}"#, LogKind::PstnBlockedUser).unwrap_err(),
            BadRow::BadStart
        );
    }

    #[test]
    fn a_row_nested_deeper_than_any_sink_takes_is_bad_and_brackets_in_strings_do_not_count() {
        let nest = |depth: usize| {
            format!(
                r#"{{"id":"a","startDateTime":"2024-05-01T00:00:00Z","x":{}1{}}}"#,
                "[".repeat(depth - 1),
                "]".repeat(depth - 1)
            )
        };
        assert_eq!(
            Row::parse(&nest(crate::model::MAX_ROW_DEPTH + 1)).unwrap_err(),
            BadRow::TooDeep
        );
        assert!(Row::parse(&nest(crate::model::MAX_ROW_DEPTH)).is_ok());
        let brackets_in_text = format!(
            r#"{{"id":"a","startDateTime":"2024-05-01T00:00:00Z","x":"{}\"{}"}}"#,
            "[".repeat(200),
            "{".repeat(200)
        );
        assert!(Row::parse(&brackets_in_text).is_ok());
    }
}
