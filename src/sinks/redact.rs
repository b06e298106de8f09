//! `redact = { hash = [...], drop = [...], key = "..." }`: hashes or removes fields of
//! the call before a sink sees the event. The hash is HMAC-SHA256 under a key from the
//! environment, so a SIEM can still correlate calls of one number without the number.

use super::{Batch, DeliveryFuture, EventSpan, Sink, SinkError};
use crate::config::RedactConfig;
use ring::hmac;
use std::sync::Arc;

/// Applies one sink's redaction, then hands the batch to the sink itself.
pub struct RedactingSink {
    name: Arc<str>,
    inner: Box<dyn Sink>,
    hash: Vec<String>,
    drop: Vec<String>,
    key: Option<hmac::Key>,
}

impl std::fmt::Debug for RedactingSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedactingSink")
            .field("hash", &self.hash)
            .field("drop", &self.drop)
            .finish_non_exhaustive()
    }
}

impl RedactingSink {
    /// Wraps `inner` with the redaction of `config`.
    pub fn new(name: &str, inner: Box<dyn Sink>, config: &RedactConfig) -> Self {
        RedactingSink {
            name: name.into(),
            inner,
            hash: config.hash.clone(),
            drop: config.drop.clone(),
            key: config
                .key
                .as_ref()
                .map(|key| hmac::Key::new(hmac::HMAC_SHA256, key.expose().as_bytes())),
        }
    }

    fn hashed(&self, value: &serde_json::Value) -> serde_json::Value {
        let text = match value {
            serde_json::Value::String(text) => text.clone(),
            serde_json::Value::Null => return serde_json::Value::Null,
            other => other.to_string(),
        };
        match &self.key {
            Some(key) => {
                let tag = hmac::sign(key, text.as_bytes());
                let hex: String = tag
                    .as_ref()
                    .iter()
                    .map(|byte| format!("{byte:02x}"))
                    .collect();
                serde_json::Value::String(format!("hmac-sha256:{hex}"))
            }
            None => serde_json::Value::Null,
        }
    }

    /// The batch with every event's call redacted (the events are re-encoded).
    pub fn redact(&self, batch: &Batch) -> Result<Batch, SinkError> {
        let mut lines = Vec::with_capacity(batch.lines.len());
        let mut events = Vec::with_capacity(batch.events.len());
        for span in &batch.events {
            let mut event: serde_json::Value =
                serde_json::from_slice(&batch.lines[span.line.clone()]).map_err(|error| {
                    SinkError {
                        sink: self.name.clone(),
                        message: format!("cannot redact an event: {error}"),
                    }
                })?;
            if let Some(call) = event
                .get_mut("call")
                .and_then(serde_json::Value::as_object_mut)
            {
                for field in &self.drop {
                    call.remove(field);
                }
                for field in &self.hash {
                    if let Some(value) = call.get(field) {
                        let hashed = self.hashed(value);
                        call.insert(field.clone(), hashed);
                    }
                }
            }
            let start = lines.len();
            serde_json::to_writer(&mut lines, &event).map_err(|error| SinkError {
                sink: self.name.clone(),
                message: error.to_string(),
            })?;
            lines.push(b'\n');
            events.push(EventSpan {
                line: start..lines.len(),
                ..span.clone()
            });
        }
        Ok(Batch {
            source: batch.source.clone(),
            kind: batch.kind,
            lines: lines.into(),
            events,
        })
    }
}

impl Sink for RedactingSink {
    fn deliver<'a>(&'a mut self, batch: &'a Batch) -> DeliveryFuture<'a> {
        Box::pin(async move {
            let redacted = self.redact(batch)?;
            self.inner.deliver(&redacted).await
        })
    }
}
