//! How the sink reads Azure's 400s and 413s: the stream or the rule (the batch fails),
//! the endpoint (a 413 for a small record: the batch fails), or one record (its dead
//! letter, with Azure's words), and when wholly refused batches in a row point at the
//! rule instead of the records.

use super::chunk::Chunk;
use super::upload::Refused;
use super::{AzureLogsSink, IngestionError, MAX_REFUSED_BATCHES, MAX_REQUEST_BYTES, record_of};
use crate::sinks::{Batch, Progress, Refusal, SinkError, digest};

/// A record this much smaller than the request limit cannot be too large by itself: a
/// 413 for it is the endpoint's doing.
const SMALL_RECORD_BYTES: usize = MAX_REQUEST_BYTES / 4;
/// Azure's error codes that are about the stream or the rule, not the records.
const STREAM_CODES: &[&str] = &[
    "InvalidStream",
    "InvalidDataCollectionRule",
    "DataCollectionRuleNotFound",
    "InvalidApiVersion",
    "NotFound",
];

impl AzureLogsSink {
    /// What a 400 or 413 for `chunk` means: `Ok(Some(halves))` to send again in two,
    /// `Ok(None)` when its one record was refused (now in `progress`), or the error
    /// that fails the batch (the stream, the rule or the endpoint).
    pub(super) fn judge(
        &mut self,
        chunk: Chunk,
        refused: Refused,
        progress: &mut Progress,
    ) -> Result<Option<(Chunk, Chunk)>, SinkError> {
        let Refused {
            status,
            code,
            detail,
        } = refused;
        if status != 413
            && code
                .as_deref()
                .is_some_and(|code| STREAM_CODES.contains(&code))
        {
            let stream = chunk.stream.to_string();
            let dcr = self.config.dcr_immutable_id.clone();
            let error = IngestionError::StreamRefused {
                stream: stream.clone(),
                dcr,
                status,
                detail,
            };
            return Err(self.batch_error(&stream, error));
        }
        if chunk.records.len() > 1 {
            tracing::info!(sink = %self.name, status, records = chunk.records.len(), "Azure Monitor refused a request; sending it again in two halves to find the record");
            return Ok(Some(chunk.halves()));
        }
        let Some((_, record, id)) = chunk.records.first() else {
            return Ok(None);
        };
        if status == 413 && record.len() + 2 < SMALL_RECORD_BYTES {
            let error = IngestionError::EndpointTooSmall {
                bytes: record.len() + 2,
                limit: MAX_REQUEST_BYTES,
                detail,
            };
            return Err(self.batch_error(&chunk.stream, error));
        }
        progress.refused(*id, Refusal { status, detail });
        Ok(None)
    }

    /// The error for a record refused alone: its dead letter, or, once every record of
    /// too many batches in a row was refused, the batch's failure.
    pub(super) fn refused_record(
        &mut self,
        batch: &Batch,
        index: usize,
        stream: &str,
        progress: &mut Progress,
    ) -> Result<(), SinkError> {
        let record = record_of(batch, index)
            .map_err(|error| self.event_error(index, IngestionError::Unencodable(error)))?;
        let Some(Refusal { status, detail }) = progress.refusal(&digest(&record)).cloned() else {
            return Ok(());
        };
        if !progress.any_delivered() && progress.count_once() {
            self.refused_batches += 1;
        }
        if self.refused_batches > MAX_REFUSED_BATCHES {
            // Offered again later, the records are sent again: the rule may be fixed.
            progress.forget_refusals();
            let error = IngestionError::EverythingRefused {
                batches: self.refused_batches,
                stream: stream.to_owned(),
                dcr: self.config.dcr_immutable_id.clone(),
                status,
                detail,
            };
            return Err(self.batch_error(stream, error));
        }
        Err(self.event_error(index, IngestionError::RecordRefused { status, detail }))
    }
}
