//! What a sink remembers of ONE batch while that batch is being offered: the records
//! the destination already has and those it refused. The sink's task keeps one per
//! batch in flight (two sources feeding one sink have two) and drops it only when
//! that batch is accepted or given up, so a batch of another source delivered in
//! between never makes a sink forget what it sent, and offering a batch again after
//! a failure half way sends only what is not in yet.

use std::collections::{HashMap, HashSet};

/// A record's identity within its batch: the first 16 bytes of its SHA-256.
pub type Digest = [u8; 16];

/// The digest of one record as the sink sends it.
pub fn digest(record: &[u8]) -> Digest {
    let full = ring::digest::digest(&ring::digest::SHA256, record);
    let mut short = [0u8; 16];
    short.copy_from_slice(&full.as_ref()[..16]);
    short
}

/// One record the destination refused on its own, with its words.
#[derive(Debug, Clone)]
pub struct Refusal {
    /// The HTTP status it answered.
    pub status: u16,
    /// What it said (code and message).
    pub detail: String,
}

/// A sink's memory of one batch. Sinks that send a batch in one piece ignore it.
#[derive(Debug, Default)]
pub struct Progress {
    /// Records of this batch the destination already holds.
    delivered: HashSet<Digest>,
    /// Records of this batch the destination refused on their own (not sent again).
    refused: HashMap<Digest, Refusal>,
    /// Whether this batch already counted in its sink's run of wholly refused batches.
    counted: bool,
}

impl Progress {
    /// Whether the record is already at the destination.
    pub fn is_delivered(&self, record: &Digest) -> bool {
        self.delivered.contains(record)
    }

    /// The records of one answered request are now at the destination.
    pub fn delivered(&mut self, records: impl IntoIterator<Item = Digest>) {
        self.delivered.extend(records);
    }

    /// Whether any record of this batch reached the destination.
    pub fn any_delivered(&self) -> bool {
        !self.delivered.is_empty()
    }

    /// Why the destination refused this record, if it did.
    pub fn refusal(&self, record: &Digest) -> Option<&Refusal> {
        self.refused.get(record)
    }

    /// The destination refused this record on its own.
    pub fn refused(&mut self, record: Digest, refusal: Refusal) {
        self.refused.insert(record, refusal);
    }

    /// Forgets the refusals, so the records are tried again (the refusals turned out
    /// to be about the destination, not the records).
    pub fn forget_refusals(&mut self) {
        self.refused.clear();
    }

    /// Marks the batch as counted once; true the first time only.
    pub fn count_once(&mut self) -> bool {
        !std::mem::replace(&mut self.counted, true)
    }
}
