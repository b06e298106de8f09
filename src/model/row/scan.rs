//! One scan over a row's text that finds the fields the agent reads and measures the
//! row's depth (issue 28): the page's parse has already checked the row is valid JSON,
//! so this walks it once instead of parsing it again with serde_json and counting its
//! brackets in a second pass.

use super::super::BadRow;
use super::super::bad_row::MAX_ROW_DEPTH;
use super::super::json_text::{skip_space, string_end};
use std::borrow::Cow;

/// The top-level fields of a row that [`super::Row`] reads, by their Graph names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Field {
    Id,
    StartDateTime,
    Duration,
    CallType,
    Charge,
    ConnectionCharge,
    Currency,
    SuccessfulCall,
    FinalSipCode,
    LicenseCapability,
    OtherPartyCountryCode,
    DestinationContext,
    SentDateTime,
    BlockDateTime,
    RemediationId,
    SmsType,
    SmsUnits,
    CallCharge,
    UserBlockMode,
    CalleeNumber,
    CallerNumber,
    DestinationNumber,
    SourceNumber,
    UserId,
}

pub(super) const FIELDS: usize = 24;

impl Field {
    /// The field a key names, if the agent reads it.
    pub(super) fn of(key: &[u8]) -> Option<Field> {
        Some(match key {
            b"id" => Field::Id,
            b"startDateTime" => Field::StartDateTime,
            b"duration" => Field::Duration,
            b"callType" => Field::CallType,
            b"charge" => Field::Charge,
            b"connectionCharge" => Field::ConnectionCharge,
            b"currency" => Field::Currency,
            b"successfulCall" => Field::SuccessfulCall,
            b"finalSipCode" => Field::FinalSipCode,
            b"licenseCapability" => Field::LicenseCapability,
            b"otherPartyCountryCode" => Field::OtherPartyCountryCode,
            b"destinationContext" => Field::DestinationContext,
            b"sentDateTime" => Field::SentDateTime,
            b"blockDateTime" => Field::BlockDateTime,
            b"remediationId" => Field::RemediationId,
            b"smsType" => Field::SmsType,
            b"smsUnits" => Field::SmsUnits,
            b"callCharge" => Field::CallCharge,
            b"userBlockMode" => Field::UserBlockMode,
            b"calleeNumber" => Field::CalleeNumber,
            b"callerNumber" => Field::CallerNumber,
            b"destinationNumber" => Field::DestinationNumber,
            b"sourceNumber" => Field::SourceNumber,
            b"userId" => Field::UserId,
            _ => return None,
        })
    }
}

/// Each read field's JSON text (`None` when absent or `null`), borrowed from the row.
#[derive(Debug, Default)]
pub(super) struct Fields<'a>(pub(super) [Option<&'a str>; FIELDS]);

impl<'a> Fields<'a> {
    /// The JSON text of `field`, unless absent or `null`.
    pub(super) fn get(&self, field: Field) -> Option<&'a str> {
        self.0[field as usize]
    }
}

/// Walks one JSON object already known to be valid: its read fields, or why the row
/// is bad (nested deeper than [`MAX_ROW_DEPTH`]; a read field given twice, which
/// serde_json refused as well). Text that is not valid JSON is never read past its end
/// and yields [`BadRow::NotAnObject`] or fields of no meaning, never a panic.
pub(super) fn scan(raw: &str) -> Result<Fields<'_>, BadRow> {
    let bytes = raw.as_bytes();
    let mut fields = Fields::default();
    let (mut seen, mut twice, mut deepest) = (0u32, false, 1usize);
    let mut at = 1; // past the row's `{`
    loop {
        at = skip_space(bytes, at);
        match bytes.get(at) {
            Some(b'}') => break,
            Some(b',') => at = skip_space(bytes, at + 1),
            Some(b'"') => {}
            _ => return Err(BadRow::NotAnObject),
        }
        let (key_end, escaped) = string_end(bytes, at).ok_or(BadRow::NotAnObject)?;
        let key: Cow<'_, str> = match escaped {
            false => Cow::Borrowed(raw.get(at + 1..key_end - 1).ok_or(BadRow::NotAnObject)?),
            true => Cow::Owned(
                serde_json::from_str(raw.get(at..key_end).ok_or(BadRow::NotAnObject)?)
                    .map_err(|_| BadRow::NotAnObject)?,
            ),
        };
        at = skip_space(bytes, key_end);
        if bytes.get(at) != Some(&b':') {
            return Err(BadRow::NotAnObject);
        }
        let start = skip_space(bytes, at + 1);
        let (end, depth) = end_and_depth(bytes, start).ok_or(BadRow::NotAnObject)?;
        deepest = deepest.max(1 + depth);
        at = end;
        if let Some(field) = Field::of(key.as_bytes()) {
            let bit = 1u32 << field as u32;
            twice |= seen & bit != 0;
            seen |= bit;
            let text = raw.get(start..end).ok_or(BadRow::NotAnObject)?;
            fields.0[field as usize] = (text != "null").then_some(text);
        }
    }
    if deepest > MAX_ROW_DEPTH {
        Err(BadRow::TooDeep)
    } else if twice {
        Err(BadRow::NotAnObject)
    } else {
        Ok(fields)
    }
}

/// The index past the value starting at `at`, and how deep it nests (0 for a scalar,
/// 1 for `[]` or `{"a":1}`); brackets inside strings do not count.
fn end_and_depth(bytes: &[u8], at: usize) -> Option<(usize, usize)> {
    match bytes.get(at)? {
        b'"' => string_end(bytes, at).map(|(end, _)| (end, 0)),
        b'{' | b'[' => {
            let (mut depth, mut deepest, mut index) = (0usize, 0usize, at);
            loop {
                match bytes.get(index)? {
                    b'"' => {
                        index = string_end(bytes, index)?.0;
                        continue;
                    }
                    b'{' | b'[' => {
                        depth += 1;
                        deepest = deepest.max(depth);
                    }
                    b'}' | b']' => {
                        depth -= 1;
                        if depth == 0 {
                            return Some((index + 1, deepest));
                        }
                    }
                    _ => {}
                }
                index += 1;
            }
        }
        _ => {
            let length = bytes[at..]
                .iter()
                .position(|byte| matches!(byte, b',' | b'}' | b']' | b' ' | b'\t' | b'\n' | b'\r'))
                .unwrap_or(bytes.len() - at);
            Some((at + length, 0))
        }
    }
}
