//! `pstn_sink_dead_letter_events_total{sink}`: events a sink can never accept, set
//! aside in its dead-letter file so the rest of their batch goes on.

use prometheus::{IntCounter, IntCounterVec};

/// The metric's name.
pub(super) const NAME: &str = "pstn_sink_dead_letter_events_total";
/// The metric's help text.
pub(super) const HELP: &str =
    "Events a sink could never accept, written to {data_dir}/dead-letter/{sink}.jsonl instead.";
/// The metric's labels.
pub(super) const LABELS: &[&str] = &["sink"];

/// The dead-letter counter of every sink.
#[derive(Debug, Clone)]
pub(super) struct DeadLetterMetrics {
    events: IntCounterVec,
}

impl DeadLetterMetrics {
    /// Wraps the registered counter vector (made from [`NAME`], [`HELP`], [`LABELS`]).
    pub(super) fn new(events: IntCounterVec) -> Self {
        DeadLetterMetrics { events }
    }

    /// One sink's counter, its series shown (at 0) from the start.
    pub(super) fn sink(&self, sink: &str) -> DeadLetterCounter {
        DeadLetterCounter(self.events.with_label_values(&[sink]))
    }
}

/// One sink's count of dead-lettered events.
#[derive(Debug, Clone)]
pub struct DeadLetterCounter(IntCounter);

impl DeadLetterCounter {
    /// One more event was dead-lettered.
    pub fn inc(&self) {
        self.0.inc();
    }
}
