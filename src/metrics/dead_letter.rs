//! `pstn_sink_dead_letter_events_total{sink}`: events a sink can never accept, set
//! aside in its dead-letter file so the rest of their batch goes on.

use prometheus::{IntCounter, IntCounterVec, Opts, Registry};

/// The dead-letter counter of every sink.
#[derive(Debug, Clone)]
pub(super) struct DeadLetterMetrics {
    events: IntCounterVec,
}

impl DeadLetterMetrics {
    pub(super) fn new(registry: &Registry) -> Self {
        let events = IntCounterVec::new(
            Opts::new(
                "pstn_sink_dead_letter_events_total",
                "Events a sink could never accept, written to {data_dir}/dead-letter/{sink}.jsonl instead.",
            ),
            &["sink"],
        )
        .unwrap_or_else(|error| unreachable!("{error}"));
        DeadLetterMetrics {
            events: super::register(registry, events),
        }
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
