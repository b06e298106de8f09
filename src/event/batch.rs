//! What a sink receives: one buffer of event lines and, for each event, its typed
//! envelope and where its line and its raw row sit in the buffer. Console and file
//! write the buffer as it is; OTLP and redaction read the envelope from the typed
//! fields and touch only the raw row, so no sink parses an event it was handed.

use crate::model::{CountryCode, LogKind, UserAttributes};
use crate::time::Timestamp;
use std::borrow::Cow;
use std::ops::Range;
use std::sync::Arc;

/// The events of one page of one source. `lines` holds exactly the events' lines, in
/// order and back to back, so writing `lines` writes every event once.
#[derive(Debug, Clone)]
pub struct Batch {
    /// The events, one JSON object per line, each ending in `\n`.
    pub lines: bytes::Bytes,
    /// Each event's envelope and place in `lines`.
    pub events: Vec<EventSpan>,
}

/// One event: its envelope, typed, and byte ranges into its batch's `lines`.
#[derive(Debug, Clone)]
pub struct EventSpan {
    /// The whole line, newline included.
    pub line: Range<usize>,
    /// The raw Graph row (the `call` object) inside the line.
    pub call: Range<usize>,
    /// The `timestamp` value inside the line: the JSON string literal of the call's
    /// start exactly as Graph wrote it (quotes included).
    pub timestamp: Range<usize>,
    /// The envelope's fields.
    pub envelope: Envelope,
}

/// The fields the agent wraps around a row, typed, so sinks need not parse them back.
#[derive(Debug, Clone)]
pub struct Envelope {
    /// The row's instant (`timestamp`): the call's start, an SMS's `sentDateTime`, a
    /// block's `blockDateTime`, the start of a dial-out report row's UTC day.
    pub call_start: Timestamp,
    /// When the agent read the row (`observed_timestamp`).
    pub observed: Timestamp,
    /// The source's name (`source`).
    pub source: Arc<str>,
    /// The tenant (`tenant_id`).
    pub tenant_id: Arc<str>,
    /// Which log the row came from (`kind`).
    pub kind: LogKind,
    /// The row's documented key when it has one: `id` (`remediationId` for a blocked-user
    /// row); absent for rows known only by their content.
    pub call_id: Option<Box<str>>,
    /// The row's `callType`, when it has one.
    pub call_type: Option<Box<str>>,
    /// `other_party_country`, when known.
    pub other_party_country: Option<CountryCode>,
    /// `user`: the directory attributes of the row's user, when known.
    pub user: Option<Arc<UserAttributes>>,
}

impl Batch {
    /// The line of event `index` (newline included).
    pub fn line(&self, index: usize) -> &[u8] {
        &self.lines[self.events[index].line.clone()]
    }

    /// The raw row of event `index`.
    pub fn call(&self, index: usize) -> &[u8] {
        &self.lines[self.events[index].call.clone()]
    }

    /// The `timestamp` of event `index` as text (the call's start as Graph wrote it).
    pub fn timestamp_text(&self, index: usize) -> Cow<'_, str> {
        let literal = &self.lines[self.events[index].timestamp.clone()];
        match serde_json::from_slice::<Cow<'_, str>>(literal) {
            Ok(text) => text,
            // Cannot happen for lines the encoder wrote; the typed instant is as good.
            Err(_) => Cow::Owned(self.events[index].envelope.call_start.to_string()),
        }
    }

    /// The same batch without the events at `skip` (indices into this batch): the
    /// buffer is rebuilt so that it again holds exactly the remaining lines.
    pub fn without(&self, skip: &[usize]) -> Batch {
        let mut lines = Vec::with_capacity(self.lines.len());
        let mut events = Vec::with_capacity(self.events.len().saturating_sub(skip.len()));
        for (index, span) in self.events.iter().enumerate() {
            if skip.contains(&index) {
                continue;
            }
            let start = lines.len();
            lines.extend_from_slice(&self.lines[span.line.clone()]);
            let shift = |range: &Range<usize>| {
                range.start - span.line.start + start..range.end - span.line.start + start
            };
            events.push(EventSpan {
                line: start..lines.len(),
                call: shift(&span.call),
                timestamp: shift(&span.timestamp),
                envelope: span.envelope.clone(),
            });
        }
        Batch {
            lines: lines.into(),
            events,
        }
    }
}

/// A batch of the given raw rows, as a source of PSTN calls would hand it over (for
/// the sinks' tests).
#[cfg(test)]
pub(crate) fn batch_of(rows: &[&str]) -> Batch {
    let encoder = super::EventEncoder::new("tenant", "t-1", LogKind::Pstn);
    let observed = Timestamp::from_ticks(0);
    let (mut lines, mut events) = (Vec::new(), Vec::new());
    for raw in rows {
        let row = crate::model::Row::parse(raw).expect("a valid test row");
        events.push(encoder.encode(
            &row,
            &crate::model::Enrichment::NONE,
            observed,
            &observed.to_string(),
            &mut lines,
        ));
    }
    Batch {
        lines: lines.into(),
        events,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_batch_without_some_events_holds_exactly_the_others() {
        let batch = batch_of(&[
            r#"{"id":"a","startDateTime":"2024-05-01T00:00:00Z"}"#,
            r#"{"id":"b","startDateTime":"2024-05-01T00:00:01Z","callType":"user_in"}"#,
            r#"{"id":"c","startDateTime":"2024-05-01T00:00:02Z"}"#,
        ]);
        let rest = batch.without(&[0, 2]);
        assert_eq!(rest.events.len(), 1);
        assert_eq!(&rest.lines[..], batch.line(1));
        assert_eq!(rest.call(0), batch.call(1));
        assert_eq!(rest.timestamp_text(0), "2024-05-01T00:00:01Z");
        assert_eq!(
            rest.events[0].envelope.call_type.as_deref(),
            Some("user_in")
        );
    }
}
