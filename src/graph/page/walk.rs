//! A page's rows and next link found by one checked walk of its bytes (issue 28): a
//! page as Graph writes it costs one pass of our own instead of serde_json's `RawValue`
//! pass. Whatever the walk cannot vouch for (invalid JSON, an escaped key, a repeated
//! field, deep nesting, too many rows, a top level that is not an object) it leaves to
//! serde_json, so every page parses exactly as serde_json alone would parse it.

use super::MAX_ROWS_PER_PAGE;
use crate::model::json_text::{
    elements_end, literal_end, members_end, skip_space, string_end, value_end,
};
use crate::model::{FieldSpans, MAX_ROW_DEPTH};
use std::ops::Range;

/// How deep an unread field of the page, or a row that is no object, may nest for the
/// walk to vouch for it (its search recurses once a level; an object row is walked to
/// `MAX_ROW_DEPTH`, the depth the row's view allows); a deeper page goes to serde_json,
/// which checks such values without recursing and reads them whatever their depth.
const DEPTH: usize = 64;

/// A page's rows as the walk finds them: each row's range in the body and the places
/// of its read fields, noted as the row is checked (issue 28).
#[derive(Debug, Default)]
pub(super) struct Found {
    pub(super) rows: Vec<Range<usize>>,
    pub(super) spans: Vec<FieldSpans>,
}

/// The page's next link, with each row found pushed on `found`; `None` when the walk
/// cannot vouch for the page (then `found` holds nothing of use).
pub(super) fn page(body: &str, found: &mut Found) -> Option<Option<String>> {
    let bytes = body.as_bytes();
    let mut index = skip_space(bytes, 0);
    if bytes.get(index) != Some(&b'{') {
        return None;
    }
    index = skip_space(bytes, index + 1);
    let (mut value, mut next_link) = (false, None);
    loop {
        if bytes.get(index) != Some(&b'"') {
            return None;
        }
        let (key_end, escaped) = string_end(bytes, index)?;
        let key = (!escaped).then(|| &bytes[index + 1..key_end - 1])?;
        index = skip_space(bytes, key_end);
        if bytes.get(index) != Some(&b':') {
            return None;
        }
        index = skip_space(bytes, index + 1);
        index = match key {
            b"value" if !value => {
                value = true;
                rows_end(bytes, index, found)?
            }
            b"@odata.nextLink" if next_link.is_none() => {
                let (end, link) = link(body, index)?;
                next_link = Some(link);
                end
            }
            b"value" | b"@odata.nextLink" => return None, // twice: serde_json's error
            _ => value_end(bytes, index, DEPTH)?,
        };
        index = skip_space(bytes, index);
        match bytes.get(index)? {
            b',' => index = skip_space(bytes, index + 1),
            b'}' => break,
            _ => return None,
        }
    }
    let whole = skip_space(bytes, index + 1) == bytes.len();
    (whole && value).then(|| next_link.flatten())
}

/// The index past the `value` array at `at`, each row pushed on `found`: a row that is
/// an object with its fields' places noted, walked no deeper than a row may nest.
fn rows_end(bytes: &[u8], at: usize, found: &mut Found) -> Option<usize> {
    if bytes.get(at) != Some(&b'[') {
        return None; // `null` or another type: serde_json says what is wrong
    }
    elements_end(bytes, at, |start| {
        if found.rows.len() == MAX_ROWS_PER_PAGE {
            return None;
        }
        let mut spans = FieldSpans::default();
        let end = match bytes.get(start) {
            // As `value_end` at MAX_ROW_DEPTH: the object is a level.
            Some(b'{') => members_end(bytes, start, MAX_ROW_DEPTH - 1, |key, escaped, value| {
                spans.note(key, escaped, value.start - start..value.end - start)
            })?,
            _ => value_end(bytes, start, DEPTH)?,
        };
        found.rows.push(start..end);
        found.spans.push(spans);
        Some(end)
    })
}

/// The index past the next link's value at `at`, and the link (`null` is none); a link
/// with an escape is left to serde_json to decode.
fn link(body: &str, at: usize) -> Option<(usize, Option<String>)> {
    let bytes = body.as_bytes();
    if bytes.get(at) == Some(&b'n') {
        return Some((literal_end(bytes, at, b"null")?, None));
    }
    if bytes.get(at) != Some(&b'"') {
        return None;
    }
    match string_end(bytes, at)? {
        (end, false) => Some((end, Some(body.get(at + 1..end - 1)?.to_owned()))),
        (_, true) => None,
    }
}
