//! One batch handed to the embedding program, and the acknowledgement it answers with.
//! The source sees the embedding program as one more sink: [`ChannelSink`] hands the
//! batch over a channel and waits for the [`Ack`].

use crate::sinks::{Batch, DeliveryFuture, Envelope, Progress, Sink, SinkError};
use std::borrow::Cow;
use std::sync::Arc;
use tokio::sync::{mpsc, oneshot};

/// What the embedding program answered for one batch.
type Answer = Result<(), SinkError>;

/// A batch on its way to the embedding program.
pub(super) struct Offer {
    pub(super) batch: Arc<Batch>,
    pub(super) answer: oneshot::Sender<Answer>,
}

/// The sink the source delivers to: the embedding program at the end of a channel.
pub(super) struct ChannelSink {
    pub(super) name: Arc<str>,
    pub(super) offers: mpsc::Sender<Offer>,
}

#[derive(Debug, thiserror::Error)]
enum Refusal {
    #[error("the embedding program rejected the batch (or dropped it unacknowledged)")]
    Rejected,
    #[error("the embedding program stopped taking batches")]
    Gone,
}

impl Sink for ChannelSink {
    fn deliver<'a>(&'a mut self, batch: &'a Batch, _: &'a mut Progress) -> DeliveryFuture<'a> {
        Box::pin(async move {
            let (answer, answered) = oneshot::channel();
            let offer = Offer {
                batch: Arc::new(batch.clone()),
                answer,
            };
            if self.offers.send(offer).await.is_err() {
                return Err(SinkError::permanent(&self.name, "handover", Refusal::Gone));
            }
            match answered.await {
                Ok(answer) => answer,
                // The Ack was dropped without a word: offered again, like a rejection.
                Err(_) => Err(SinkError::retryable(
                    &self.name,
                    "acknowledgement",
                    Refusal::Rejected,
                )),
            }
        })
    }
}

/// One batch of new rows: every event in it is offered exactly once, and the source
/// commits its progress only when the batch is [accepted](Delivery::accept).
///
/// Dropping a `Delivery` (or its [`Ack`]) without accepting it rejects the batch: the
/// source offers it again (after a backoff) and commits nothing meanwhile.
#[derive(Debug)]
pub struct Delivery {
    batch: Arc<Batch>,
    ack: Ack,
}

/// The answer to one [`Delivery`]. `accept` lets the source commit the batch;
/// `reject`, or dropping the handle, makes the source offer the batch again.
#[derive(Debug)]
#[must_use = "dropping an Ack rejects its batch, which is then offered again"]
pub struct Ack {
    answer: Option<oneshot::Sender<Answer>>,
    sink: Arc<str>,
}

/// One event of a batch: its JSON line, the raw Graph row inside it, and the typed
/// envelope the agent wrapped around the row.
#[derive(Debug, Clone, Copy)]
pub struct Event<'a> {
    batch: &'a Batch,
    index: usize,
}

impl Delivery {
    pub(super) fn new(offer: Offer, sink: Arc<str>) -> Delivery {
        Delivery {
            batch: offer.batch,
            ack: Ack {
                answer: Some(offer.answer),
                sink,
            },
        }
    }

    /// How many events the batch holds (never zero).
    pub fn len(&self) -> usize {
        self.batch.events.len()
    }

    /// Whether the batch holds no event (the source never offers an empty one).
    pub fn is_empty(&self) -> bool {
        self.batch.events.is_empty()
    }

    /// The events, in order.
    pub fn events(&self) -> impl ExactSizeIterator<Item = Event<'_>> {
        let batch = &*self.batch;
        (0..batch.events.len()).map(move |index| Event { batch, index })
    }

    /// Every event's line back to back (newline-delimited JSON), ready to write as is.
    pub fn lines(&self) -> &[u8] {
        &self.batch.lines
    }

    /// The batch as the agent's own sinks receive it.
    pub fn batch(&self) -> &Arc<Batch> {
        &self.batch
    }

    /// Splits the delivery, to keep the batch and answer later (or elsewhere).
    pub fn into_parts(self) -> (Arc<Batch>, Ack) {
        (self.batch, self.ack)
    }

    /// Accepts the batch: the source commits its rows and never offers them again.
    pub fn accept(self) {
        self.ack.accept();
    }

    /// Rejects the batch: nothing is committed and the source offers it again.
    pub fn reject(self) {
        self.ack.reject();
    }
}

impl Ack {
    /// The batch is safe with the embedding program: the source may commit it.
    pub fn accept(mut self) {
        if let Some(answer) = self.answer.take() {
            let _ = answer.send(Ok(()));
        }
    }

    /// The batch was not taken: nothing is committed and it is offered again.
    pub fn reject(mut self) {
        self.refuse();
    }

    fn refuse(&mut self) {
        if let Some(answer) = self.answer.take() {
            let error = SinkError::retryable(&self.sink, "acknowledgement", Refusal::Rejected);
            let _ = answer.send(Err(error));
        }
    }
}

impl Drop for Ack {
    fn drop(&mut self) {
        self.refuse();
    }
}

impl<'a> Event<'a> {
    /// The whole event line: `{"timestamp":…,"observed_timestamp":…,"source":…,
    /// "tenant_id":…,"kind":…,"call":{…}}` followed by `\n`.
    pub fn line(&self) -> &'a [u8] {
        self.batch.line(self.index)
    }

    /// The raw Graph row (the `call` object), byte for byte as Graph sent it.
    pub fn call(&self) -> &'a [u8] {
        self.batch.call(self.index)
    }

    /// The envelope's fields, typed: start time, source, tenant, kind, call id.
    pub fn envelope(&self) -> &'a Envelope {
        &self.batch.events[self.index].envelope
    }

    /// The event's `timestamp` as Graph wrote it.
    pub fn timestamp_text(&self) -> Cow<'a, str> {
        self.batch.timestamp_text(self.index)
    }
}
