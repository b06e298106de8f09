//! `redact = { hash = [...], drop = [...], keep = [...], key = "..." }`: hashes or
//! removes fields of the call, and of the enrichment beside it (`other_party_country`,
//! `user.*`), before a sink sees the event; `keep` lets only the fields it names of
//! the call pass, so a field Graph adds later never reaches the sink unasked. The hash is HMAC-SHA256 under a key from the
//! environment, so a SIEM can still correlate calls of one number without the number.
//!
//! Each row is read once, shallowly: its top-level members, in order, as raw JSON
//! text. The named members are hashed or dropped, the others copied byte for byte,
//! and the envelope around the row is copied from the line as it is.

use super::{Batch, DeliveryFuture, EventSpan, Progress, Sink, SinkError};
pub use config::RedactConfig;
pub(super) use config::{check as check_config, read as read_config};
use ring::hmac;
use serde::de::{Deserializer, MapAccess, Visitor};
use serde_json::value::RawValue;
use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;

/// Applies one sink's redaction, then hands the batch to the sink itself.
pub struct RedactingSink {
    name: Arc<str>,
    inner: Box<dyn Sink>,
    hash: Vec<String>,
    drop: Vec<String>,
    /// `user.KEY` names of `hash`, without `user.`.
    user_hash: Vec<String>,
    /// `user.KEY` names of `drop`, without `user.`.
    user_drop: Vec<String>,
    /// `drop` names `user`: the whole object goes.
    drop_user: bool,
    /// `keep`: when given, the only call fields that pass.
    keep: Option<Vec<String>>,
    /// What becomes of `other_party_country`.
    country: Action,
    key: Option<hmac::Key>,
}

/// What a redaction does with one field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Action {
    Pass,
    Hash,
    Drop,
}

/// The enrichment field beside the call that `hash` and `drop` may name.
const OTHER_PARTY_COUNTRY: &str = "other_party_country";

/// The `user.KEY` names of a list, without `user.`.
fn user_keys(names: &[String]) -> Vec<String> {
    names
        .iter()
        .filter_map(|name| name.strip_prefix(USER_PREFIX))
        .map(str::to_owned)
        .collect()
}

/// How a redaction names a field of the event's `user` object (`user.department`).
pub const USER_PREFIX: &str = "user.";

impl std::fmt::Debug for RedactingSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedactingSink")
            .field("hash", &self.hash)
            .field("drop", &self.drop)
            .finish_non_exhaustive()
    }
}

/// A JSON object's top-level members in order, values left as raw text.
pub(super) struct Members<'a>(pub(super) Vec<(Cow<'a, str>, &'a RawValue)>);

impl<'de> serde::Deserialize<'de> for Members<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct MembersVisitor;
        impl<'de> Visitor<'de> for MembersVisitor {
            type Value = Members<'de>;
            fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
                formatter.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut members = Vec::with_capacity(map.size_hint().unwrap_or(16));
                while let Some(key) = map.next_key::<Cow<'de, str>>()? {
                    members.push((key, map.next_value::<&'de RawValue>()?));
                }
                Ok(Members(members))
            }
        }
        deserializer.deserialize_map(MembersVisitor)
    }
}

/// JSON text without insignificant whitespace (strings kept as they are).
fn compact(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let (mut in_string, mut escaped) = (false, false);
    for character in text.chars() {
        if in_string {
            out.push(character);
            match (escaped, character) {
                (true, _) => escaped = false,
                (false, '\\') => escaped = true,
                (false, '"') => in_string = false,
                _ => {}
            }
        } else if !character.is_ascii_whitespace() {
            in_string = character == '"';
            out.push(character);
        }
    }
    out
}

/// `hmac-sha256:` and the hex HMAC of `text`.
fn hash_text(key: &hmac::Key, text: &str) -> String {
    let tag = hmac::sign(key, text.as_bytes());
    let mut out = String::with_capacity(12 + 64);
    out.push_str("hmac-sha256:");
    for byte in tag.as_ref() {
        out.push_str(&format!("{byte:02x}"));
    }
    out
}

impl RedactingSink {
    /// Wraps `inner` with the redaction of `config`.
    pub fn new(name: &str, inner: Box<dyn Sink>, config: &RedactConfig) -> Self {
        RedactingSink {
            name: name.into(),
            inner,
            hash: config.hash.clone(),
            drop: config.drop.clone(),
            user_hash: user_keys(&config.hash),
            user_drop: user_keys(&config.drop),
            drop_user: config.drop.iter().any(|name| name == "user"),
            keep: config.keep.clone(),
            country: if config.drop.iter().any(|name| name == OTHER_PARTY_COUNTRY) {
                Action::Drop
            } else if config.hash.iter().any(|name| name == OTHER_PARTY_COUNTRY) {
                Action::Hash
            } else {
                Action::Pass
            },
            key: config
                .key
                .as_ref()
                .map(|key| hmac::Key::new(hmac::HMAC_SHA256, key.expose().as_bytes())),
        }
    }

    /// Writes the hashed form of `value`: a string is hashed as its text, any other
    /// value as its compact JSON text; null stays null, as does everything without a key.
    fn write_hashed(&self, value: &RawValue, out: &mut Vec<u8>) -> Result<(), serde_json::Error> {
        let raw = value.get();
        let Some(key) = self.key.as_ref().filter(|_| raw != "null") else {
            out.extend_from_slice(b"null");
            return Ok(());
        };
        let text: Cow<'_, str> = if raw.starts_with('"') {
            serde_json::from_str(raw)?
        } else {
            Cow::Owned(compact(raw))
        };
        out.push(b'"');
        out.extend_from_slice(hash_text(key, &text).as_bytes());
        out.push(b'"');
        Ok(())
    }

    /// Appends event `index` of `batch` with its call redacted.
    fn redact_event(
        &self,
        batch: &Batch,
        index: usize,
        out: &mut Vec<u8>,
    ) -> Result<EventSpan, serde_json::Error> {
        let span = &batch.events[index];
        let members: Members<'_> = serde_json::from_slice(batch.call(index))?;
        let start = out.len();
        let offset = |at: usize| at - span.line.start + start;
        out.extend_from_slice(&batch.lines[span.line.start..span.call.start]);
        let call_start = out.len();
        out.push(b'{');
        let mut first = true;
        // The envelope's `id` and `callType` (OTLP attributes) follow the row's fate.
        let mut envelope = span.envelope.clone();
        for (key, value) in &members.0 {
            let kept = self
                .keep
                .as_ref()
                .is_none_or(|keep| keep.iter().any(|field| field == key));
            if !kept || self.drop.iter().any(|field| field == key) {
                match key.as_ref() {
                    "id" => envelope.call_id = None,
                    "callType" => envelope.call_type = None,
                    _ => {}
                }
                continue;
            }
            if !std::mem::take(&mut first) {
                out.push(b',');
            }
            serde_json::to_writer(&mut *out, key.as_ref())?;
            out.push(b':');
            if self.hash.iter().any(|field| field == key) {
                let at = out.len();
                self.write_hashed(value, out)?;
                let hashed: Option<Box<str>> = serde_json::from_slice(&out[at..])?;
                match key.as_ref() {
                    "id" => envelope.call_id = hashed,
                    "callType" => envelope.call_type = hashed,
                    _ => {}
                }
            } else {
                out.extend_from_slice(value.get().as_bytes());
            }
        }
        out.push(b'}');
        let call_end = out.len();
        let changed = self.write_tail(span, &batch.lines[span.call.end..span.line.end], out)?;
        if let Some(user) = changed.user {
            envelope.user = user;
        }
        if changed.country {
            // The envelope holds only a plain code; a hashed one is in the line alone.
            envelope.other_party_country = None;
        }
        Ok(EventSpan {
            line: start..out.len(),
            call: call_start..call_end,
            timestamp: offset(span.timestamp.start)..offset(span.timestamp.end),
            envelope,
        })
    }

    /// The batch with every event's call redacted. An event whose call cannot be read
    /// is a permanent error for that event alone.
    pub fn redact(&self, batch: &Batch) -> Result<Batch, SinkError> {
        let mut lines = Vec::with_capacity(batch.lines.len());
        let mut events = Vec::with_capacity(batch.events.len());
        for index in 0..batch.events.len() {
            let start = lines.len();
            match self.redact_event(batch, index, &mut lines) {
                Ok(span) => events.push(span),
                Err(error) => {
                    // The dead letter must not hold what this sink is told never to
                    // see: only the envelope and the call's id go there.
                    let span = &batch.events[index];
                    let mut seen = batch.lines[span.line.start..span.call.start].to_vec();
                    seen.extend_from_slice(b"{\"id\":");
                    let id = span.envelope.call_id.as_deref().unwrap_or_default();
                    seen.extend_from_slice(
                        serde_json::to_string(id)
                            .unwrap_or_else(|_| "null".into())
                            .as_bytes(),
                    );
                    seen.extend_from_slice(b"}}");
                    lines.truncate(start);
                    let mut error = SinkError::permanent(
                        &self.name,
                        format!("event {index}: the call cannot be redacted"),
                        error,
                    )
                    .for_event(index);
                    error.seen_as = Some(seen.into());
                    return Err(error);
                }
            }
        }
        Ok(Batch {
            lines: lines.into(),
            events,
        })
    }
}

impl Sink for RedactingSink {
    fn deliver<'a>(
        &'a mut self,
        batch: &'a Batch,
        progress: &'a mut Progress,
    ) -> DeliveryFuture<'a> {
        Box::pin(async move {
            let redacted = self.redact(batch)?;
            self.inner
                .deliver(&redacted, progress)
                .await
                .map_err(|mut error| {
                    // Events map one to one, so the index stands; the dead letter gets the
                    // event as redacted, never the fields this sink must not hold.
                    if let Some(index) = error.event().filter(|i| *i < redacted.events.len())
                        && error.seen_as.is_none()
                    {
                        error.seen_as =
                            Some(redacted.lines.slice(redacted.events[index].line.clone()));
                    }
                    error
                })
        })
    }
}

mod config;
mod enrichment;
pub(super) use enrichment::enrichment_object;

#[cfg(test)]
#[path = "redact_tests.rs"]
mod tests;
