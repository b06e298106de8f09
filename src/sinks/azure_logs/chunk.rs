//! One request's worth of records, bound for one stream.

use super::Digest;
use std::collections::VecDeque;
use std::sync::Arc;

/// Records bound for one stream, in the batch's order.
pub(super) struct Chunk {
    pub(super) stream: Arc<str>,
    /// (index of the event in the batch, record, digest)
    pub(super) records: Vec<(usize, Vec<u8>, Digest)>,
}

impl Chunk {
    /// The JSON array of the records.
    pub(super) fn body(&self) -> Vec<u8> {
        let size = self
            .records
            .iter()
            .map(|(_, r, _)| r.len() + 1)
            .sum::<usize>()
            + 2;
        let mut body = Vec::with_capacity(size);
        body.push(b'[');
        for (position, (_, record, _)) in self.records.iter().enumerate() {
            if position > 0 {
                body.push(b',');
            }
            body.extend_from_slice(record);
        }
        body.push(b']');
        body
    }

    /// The two halves of a chunk of at least two records.
    pub(super) fn halves(mut self) -> (Chunk, Chunk) {
        let second = self.records.split_off(self.records.len() / 2);
        let stream = self.stream.clone();
        (
            self,
            Chunk {
                stream,
                records: second,
            },
        )
    }
}

/// The chunks to send, and the first record already refused (its index and stream).
pub(super) type Chunks = (VecDeque<Chunk>, Option<(usize, Arc<str>)>);
