//! Why a sink did not take a batch, in the terms the caller acts on: try again later
//! or never, and the whole batch or one event of it.

use std::sync::Arc;

/// Whether offering the same thing again can succeed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Retry {
    /// A passing condition (collector down, disk full): offer it again later.
    Retryable,
    /// It will never be accepted as it is (stdout closed, event not encodable).
    Permanent,
}

/// What the error is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// The batch as a whole.
    Batch,
    /// Only this event (an index into the batch the sink was handed).
    Event(usize),
}

/// The underlying cause of a [`SinkError`].
pub type Cause = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Why a sink did not accept a batch.
#[derive(Debug, thiserror::Error)]
#[error("sink {sink}: {context}: {cause}")]
pub struct SinkError {
    /// The sink's name.
    pub sink: Arc<str>,
    /// Whether to offer it again.
    pub retry: Retry,
    /// The whole batch, or one event.
    pub scope: Scope,
    /// What the sink was doing (a path, "export", "event 3").
    pub context: Box<str>,
    /// The error underneath.
    #[source]
    pub cause: Cause,
    /// For an event error: the event as this sink saw it (after redaction), which is
    /// what its dead letter holds instead of the event as the source wrote it.
    pub seen_as: Option<bytes::Bytes>,
    /// The earliest the destination wants to be asked again (its `Retry-After`): the
    /// source's backoff waits at least until then.
    pub not_before: Option<tokio::time::Instant>,
}

impl SinkError {
    /// A failure that may pass: the batch is offered again.
    pub fn retryable(sink: &str, context: impl Into<String>, cause: impl Into<Cause>) -> Self {
        Self::new(sink, Retry::Retryable, context, cause)
    }

    /// A failure that offering the same again cannot fix.
    pub fn permanent(sink: &str, context: impl Into<String>, cause: impl Into<Cause>) -> Self {
        Self::new(sink, Retry::Permanent, context, cause)
    }

    fn new(sink: &str, retry: Retry, context: impl Into<String>, cause: impl Into<Cause>) -> Self {
        SinkError {
            sink: sink.into(),
            retry,
            scope: Scope::Batch,
            context: context.into().into_boxed_str(),
            cause: cause.into(),
            seen_as: None,
            not_before: None,
        }
    }

    /// The same error, asking not to be offered anything before `wait` has passed.
    pub fn retry_after(mut self, wait: std::time::Duration) -> Self {
        self.not_before = Some(tokio::time::Instant::now() + wait);
        self
    }

    /// The same error, about event `index` of the batch only.
    pub fn for_event(mut self, index: usize) -> Self {
        self.scope = Scope::Event(index);
        self
    }

    /// Whether offering the batch again may succeed.
    pub fn is_retryable(&self) -> bool {
        self.retry == Retry::Retryable
    }

    /// The event this error is about, when it is about one.
    pub fn event(&self) -> Option<usize> {
        match self.scope {
            Scope::Event(index) => Some(index),
            Scope::Batch => None,
        }
    }

    /// Why, without the sink's name (for a dead letter, which the sink's file names).
    pub fn reason(&self) -> String {
        format!("{}: {}", self.context, self.cause)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_error_names_its_sink_and_keeps_its_cause() {
        let io = std::io::Error::new(std::io::ErrorKind::StorageFull, "no space left");
        let error = SinkError::retryable("archive", "/var/log/calls.jsonl", io);
        assert_eq!(
            error.to_string(),
            "sink archive: /var/log/calls.jsonl: no space left"
        );
        assert!(error.is_retryable() && error.event().is_none());
        let cause = std::error::Error::source(&error).unwrap();
        assert!(cause.downcast_ref::<std::io::Error>().is_some());
        let event = SinkError::permanent("siem", "event 2", "too deep").for_event(2);
        assert_eq!((event.is_retryable(), event.event()), (false, Some(2)));
        assert_eq!(event.reason(), "event 2: too deep");
    }
}
