//! The event written for each call: the Graph row embedded verbatim in a small envelope.
//!
//! `{"timestamp":<startDateTime>,"observed_timestamp":"...","source":"...","tenant_id":"...","kind":"pstn_call","call":<row>}`
//! The envelope is assembled from pieces fixed per source; the row's bytes are copied
//! as Graph sent them, so writing an event costs a copy, not a serialisation.

use crate::model::{LogKind, Row};

/// Writes events of one source.
#[derive(Debug, Clone)]
pub struct EventEncoder {
    /// `,"source":...,"kind":"...","call":` — fixed per source.
    middle: Vec<u8>,
}

impl EventEncoder {
    /// An encoder for one source.
    pub fn new(source: &str, tenant_id: &str, kind: LogKind) -> Self {
        let quote = |text: &str| serde_json::to_string(text).unwrap_or_else(|_| "\"\"".into());
        let middle = format!(
            ",\"source\":{},\"tenant_id\":{},\"kind\":\"{}\",\"call\":",
            quote(source),
            quote(tenant_id),
            kind.event_kind()
        );
        EventEncoder {
            middle: middle.into_bytes(),
        }
    }

    /// Appends one event line (newline included) for `row`, read at `observed`
    /// (already formatted, since it is the same for a whole page).
    pub fn encode(&self, row: &Row<'_>, observed: &str, out: &mut Vec<u8>) {
        out.extend_from_slice(b"{\"timestamp\":");
        out.extend_from_slice(row.start_json.as_bytes());
        out.extend_from_slice(b",\"observed_timestamp\":\"");
        out.extend_from_slice(observed.as_bytes());
        out.push(b'"');
        out.extend_from_slice(&self.middle);
        let start = out.len();
        out.extend_from_slice(row.raw.as_bytes());
        // A raw line break can only be insignificant whitespace in valid JSON (inside
        // strings it is escaped); replacing it keeps one event per line.
        for byte in &mut out[start..] {
            if *byte == b'\n' || *byte == b'\r' {
                *byte = b' ';
            }
        }
        out.extend_from_slice(b"}\n");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_event_is_one_json_line_with_the_row_unchanged() {
        let raw = "{\"id\":\"a\",\n \"startDateTime\":\"2024-05-01T08:15:03.7730000Z\",\"charge\":\"0.10\",\"unknownField\":[1,2]}";
        let row = Row::parse(raw).unwrap();
        let encoder = EventEncoder::new("contoso \"pstn\"", "t-1", LogKind::Pstn);
        let mut out = Vec::new();
        encoder.encode(&row, "2024-05-02T00:00:00.0000000Z", &mut out);
        assert_eq!(out.iter().filter(|b| **b == b'\n').count(), 1);
        assert!(out.ends_with(b"}\n"));
        let event: serde_json::Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(event["timestamp"], "2024-05-01T08:15:03.7730000Z");
        assert_eq!(event["observed_timestamp"], "2024-05-02T00:00:00.0000000Z");
        assert_eq!(event["source"], "contoso \"pstn\"");
        assert_eq!(event["tenant_id"], "t-1");
        assert_eq!(event["kind"], "pstn_call");
        assert_eq!(event["call"]["charge"], "0.10");
        assert_eq!(event["call"]["unknownField"], serde_json::json!([1, 2]));
    }
}
