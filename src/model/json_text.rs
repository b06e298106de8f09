//! Where a JSON string or value ends, found by walking its bytes and checked as
//! serde_json checks it, without building anything (issue 28: a page's rows are located
//! by one walk of our own, not by serde_json's `RawValue` pass). Every function answers
//! `None` for text it cannot vouch for; its caller then leaves the text to serde_json,
//! whose answer (or error) stands.

use std::ops::Range;

/// Bytes that end a string's plain run: its closing quote, an escape, and the control
/// characters JSON forbids unescaped.
const STOP: [bool; 256] = {
    let mut table = [false; 256];
    let mut byte = 0;
    while byte < 0x20 {
        table[byte] = true;
        byte += 1;
    }
    table[b'"' as usize] = true;
    table[b'\\' as usize] = true;
    table
};

/// The index past the closing quote of the string whose opening quote is at `at`, and
/// whether it holds an escape; `None` if it is no valid JSON string (unclosed, a raw
/// control character, an unknown escape, `\u` without four hex digits).
// Inlined into each caller's loop: its call was a third of its cost per string
// (strings are short), 6% of the agent's instructions (callgrind, BENCHMARKS.md).
#[inline(always)]
pub fn string_end(bytes: &[u8], at: usize) -> Option<(usize, bool)> {
    let mut index = at + 1;
    let mut escaped = false;
    loop {
        index = plain_run_end(bytes, index);
        match bytes.get(index)? {
            b'"' => return Some((index + 1, escaped)),
            b'\\' => {
                escaped = true;
                index += 1 + escape_length(bytes.get(index + 1..)?)?;
            }
            _ => return None,
        }
    }
}

/// The index of the first [`STOP`] byte at or after `at` (`bytes.len()` if none): eight
/// bytes at a time, as serde_json's own check does, since most of a page is strings.
fn plain_run_end(bytes: &[u8], mut at: usize) -> usize {
    const ONES: u64 = u64::from_ne_bytes([1; 8]);
    const HIGH: u64 = ONES << 7;
    /// The high bit of each byte of `word` below `limit` (≤ 128); the lowest one set is
    /// exact (a borrow can set bits only above it).
    fn below(word: u64, limit: u8) -> u64 {
        word.wrapping_sub(ONES * u64::from(limit)) & !word & HIGH
    }
    while let Some(chunk) = bytes.get(at..at + 8) {
        let Ok(chunk) = <[u8; 8]>::try_from(chunk) else {
            break;
        };
        let word = u64::from_le_bytes(chunk);
        let stops = below(word ^ (ONES * u64::from(b'"')), 1)
            | below(word ^ (ONES * u64::from(b'\\')), 1)
            | below(word, 0x20);
        if stops != 0 {
            return at + (stops.trailing_zeros() / 8) as usize;
        }
        at += 8;
    }
    let rest = bytes.get(at..).unwrap_or_default();
    at + rest
        .iter()
        .position(|byte| STOP[usize::from(*byte)])
        .unwrap_or(rest.len())
}

/// The length of the escape after a backslash (`n`, `u00e9`), if it is one JSON knows.
/// A `\u` escape of a lone surrogate passes, as in serde_json's check of a value it
/// skips (it fails only when the string is decoded).
fn escape_length(rest: &[u8]) -> Option<usize> {
    match rest.first()? {
        b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't' => Some(1),
        b'u' => {
            let hex = rest.get(1..5)?;
            hex.iter().all(u8::is_ascii_hexdigit).then_some(5)
        }
        _ => None,
    }
}

/// The index of the first byte at or after `at` that is not JSON whitespace.
pub fn skip_space(bytes: &[u8], mut at: usize) -> usize {
    while matches!(bytes.get(at), Some(b' ' | b'\t' | b'\n' | b'\r')) {
        at += 1;
    }
    at
}

/// The index past the value starting at `at` (no whitespace before it), checked, with
/// objects and arrays nested at most `depth` deep (beyond: `None`).
pub fn value_end(bytes: &[u8], at: usize, depth: usize) -> Option<usize> {
    match bytes.get(at)? {
        b'"' => string_end(bytes, at).map(|(end, _)| end),
        b'{' => object_end(bytes, at, depth.checked_sub(1)?),
        b'[' => array_end(bytes, at, depth.checked_sub(1)?),
        b't' => literal_end(bytes, at, b"true"),
        b'f' => literal_end(bytes, at, b"false"),
        b'n' => literal_end(bytes, at, b"null"),
        _ => number_end(bytes, at),
    }
}

/// The index past the object opening at `at`, its values nested at most `depth` deep.
fn object_end(bytes: &[u8], at: usize, depth: usize) -> Option<usize> {
    members_end(bytes, at, depth, |_, _, _| {})
}

/// [`object_end`], each member shown to `member` as it passes: its key's text between
/// the quotes, whether that holds an escape, and where its value lies. The page's walk
/// notes a row's fields so while it checks the row (issue 28).
#[inline(always)]
pub fn members_end(
    bytes: &[u8],
    at: usize,
    depth: usize,
    mut member: impl FnMut(&[u8], bool, Range<usize>),
) -> Option<usize> {
    let mut index = skip_space(bytes, at + 1);
    if bytes.get(index) == Some(&b'}') {
        return Some(index + 1);
    }
    loop {
        if bytes.get(index) != Some(&b'"') {
            return None;
        }
        let (key_end, escaped) = string_end(bytes, index)?;
        let key = bytes.get(index + 1..key_end - 1)?;
        index = skip_space(bytes, key_end);
        if bytes.get(index) != Some(&b':') {
            return None;
        }
        let start = skip_space(bytes, index + 1);
        let end = value_end(bytes, start, depth)?;
        member(key, escaped, start..end);
        index = skip_space(bytes, end);
        match bytes.get(index)? {
            b',' => index = skip_space(bytes, index + 1),
            b'}' => return Some(index + 1),
            _ => return None,
        }
    }
}

/// The index past the array opening at `at`, its values nested at most `depth` deep.
fn array_end(bytes: &[u8], at: usize, depth: usize) -> Option<usize> {
    elements_end(bytes, at, |start| value_end(bytes, start, depth))
}

/// The index past the array opening at `at`, each element's end found by `element`
/// (given where the element starts): the page's `value` array records its rows so.
pub fn elements_end(
    bytes: &[u8],
    at: usize,
    mut element: impl FnMut(usize) -> Option<usize>,
) -> Option<usize> {
    let mut index = skip_space(bytes, at + 1);
    if bytes.get(index) == Some(&b']') {
        return Some(index + 1);
    }
    loop {
        index = skip_space(bytes, element(index)?);
        match bytes.get(index)? {
            b',' => index = skip_space(bytes, index + 1),
            b']' => return Some(index + 1),
            _ => return None,
        }
    }
}

/// The index past `literal` (`true`, `false`, `null`) if it is at `at`.
pub fn literal_end(bytes: &[u8], at: usize, literal: &[u8]) -> Option<usize> {
    let end = at + literal.len();
    (bytes.get(at..end)? == literal).then_some(end)
}

/// The index past the number at `at`: `-`, an integer part, an optional fraction and
/// exponent, each with at least one digit. A leading zero ends the integer part (`01`
/// ends after `0`): the caller's check of what follows a value refuses the `1`.
fn number_end(bytes: &[u8], at: usize) -> Option<usize> {
    let mut index = at + usize::from(bytes.get(at) == Some(&b'-'));
    match bytes.get(index)? {
        b'0' => index += 1,
        b'1'..=b'9' => index = digits_end(bytes, index + 1),
        _ => return None,
    }
    if bytes.get(index) == Some(&b'.') {
        index = some_digits_end(bytes, index + 1)?;
    }
    if matches!(bytes.get(index), Some(b'e' | b'E')) {
        index += 1;
        index += usize::from(matches!(bytes.get(index), Some(b'+' | b'-')));
        index = some_digits_end(bytes, index)?;
    }
    Some(index)
}

fn digits_end(bytes: &[u8], at: usize) -> usize {
    let digits = bytes.get(at..).unwrap_or_default();
    at + digits
        .iter()
        .take_while(|byte| byte.is_ascii_digit())
        .count()
}

/// [`digits_end`], for a place that needs at least one digit.
fn some_digits_end(bytes: &[u8], at: usize) -> Option<usize> {
    let end = digits_end(bytes, at);
    (end > at).then_some(end)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn value(text: &str) -> Option<usize> {
        value_end(text.as_bytes(), 0, 4)
    }

    #[test]
    fn strings_end_at_their_closing_quote_past_escapes() {
        assert_eq!(string_end(br#""abc","#, 0), Some((5, false)));
        assert_eq!(string_end(br#""a\"b\\""#, 0), Some((8, true)));
        assert_eq!(string_end(br#""\u00e9\ud800/\/""#, 0), Some((17, true)));
        assert_eq!(string_end("\"é\"".as_bytes(), 0), Some((4, false)));
    }

    #[test]
    fn the_eight_byte_search_stops_where_a_byte_by_byte_one_does() {
        let naive = |bytes: &[u8], at: usize| {
            (at..bytes.len())
                .find(|index| STOP[usize::from(bytes[*index])])
                .unwrap_or(bytes.len())
        };
        // Every byte value at every place of a run, and runs of bytes near the stops
        // (a borrow from one byte must not hide a stop in the next).
        for byte in 0..=255u8 {
            for place in 0..20 {
                let mut bytes = vec![b'a'; 24];
                bytes[place] = byte;
                for at in [0, 1, 7, 9] {
                    assert_eq!(
                        plain_run_end(&bytes, at),
                        naive(&bytes, at),
                        "{byte} at {place}"
                    );
                }
            }
        }
        let mut seed = 0x2545_f491_4f6c_dd1d_u64;
        let alphabet = [
            0, 1, 0x1f, 0x20, 0x21, b'"', b'\\', b'#', b'[', 0x7f, 0x80, 0xa2, 0xff,
        ];
        for _ in 0..20_000 {
            let bytes: Vec<u8> = (0..17)
                .map(|_| {
                    seed ^= seed << 13;
                    seed ^= seed >> 7;
                    seed ^= seed << 17;
                    alphabet[(seed % alphabet.len() as u64) as usize]
                })
                .collect();
            let at = (seed % 5) as usize;
            assert_eq!(plain_run_end(&bytes, at), naive(&bytes, at), "{bytes:?}");
        }
    }

    #[test]
    fn strings_json_refuses_are_not_vouched_for() {
        for bad in [
            "\"abc",
            "\"a\nb\"",
            "\"a\u{1}\"",
            r#""\x""#,
            r#""\u12g4""#,
            r#""\u12"#,
            "\"\\",
        ] {
            assert_eq!(string_end(bad.as_bytes(), 0), None, "{bad:?}");
        }
    }

    #[test]
    fn numbers_follow_jsons_grammar() {
        for (good, end) in [
            ("0", 1),
            ("-0", 2),
            ("12.50", 5),
            ("1e9", 3),
            ("-1.5E-3", 7),
            ("7,", 1),
            ("01", 1),
        ] {
            assert_eq!(value(good), Some(end), "{good}");
        }
        for bad in ["-", "+1", ".5", "1.", "1e", "1e+", "x", ""] {
            assert_eq!(value(bad), None, "{bad}");
        }
    }

    #[test]
    fn containers_are_checked_whole_and_nested_only_as_deep_as_allowed() {
        assert_eq!(value(r#"{"a":[1,{"b":null}],"c":true} "#), Some(29));
        assert_eq!(value("[ ]"), Some(3));
        assert_eq!(value("{ }"), Some(3));
        assert_eq!(value("[[[[1]]]]"), Some(9));
        assert_eq!(
            value("[[[[[1]]]]]"),
            None,
            "five deep where four are allowed"
        );
        for bad in [
            "[1,]",
            "{\"a\":1,}",
            "{\"a\" 1}",
            "{a:1}",
            "[1 2]",
            "[true,nul]",
            "[",
            "{\"a\":1",
        ] {
            assert_eq!(value(bad), None, "{bad}");
        }
    }
}
