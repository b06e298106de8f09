//! `type = "azure_logs_ingestion"`: events into Microsoft Sentinel / Log Analytics
//! custom tables through the Azure Monitor Logs Ingestion API and a data collection
//! rule (DCR). Each event is one record ([`record_of`]) sent to its kind's stream.
//!
//! A batch is cut into requests of at most [`MAX_REQUEST_BYTES`] uncompressed (the
//! API's 1 MB limit, with room to spare); a 413 or 400 cuts that request in half and
//! sends both; a record alone over the limit, or refused alone (413; 400 by a stream
//! that accepted other records), is a permanent error for that event (the dead letters
//! take it, the rest goes on). A stream that refuses every one of several records is a
//! permanent error for the batch: the DCR is wrong, and nothing is dead-lettered. The batch is
//! acknowledged only once every request was answered 204.
//!
//! Once per batch: when a later request of a batch fails, the requests already
//! answered 204 are remembered (a digest per record), and offering the batch again
//! sends only what is not in yet. Retries are the source's: this sink returns
//! retryable errors (after sitting out short `Retry-After`s itself, see `upload`).

mod record;
mod upload;

pub use record::record_of;
#[cfg(any(test, feature = "__internals"))]
pub use record::{ENVELOPE_COLUMNS, RESERVED_COLUMNS, is_reserved};
pub use upload::IngestionError;

use super::{Batch, DeliveryFuture, Sink, SinkError};
use crate::config::AzureLogsIngestionConfig;
use crate::entra::{IgnoreTokenEvents, TokenSource};
use std::collections::{HashSet, VecDeque};
use std::sync::Arc;
use upload::{Answer, Uploader};

/// The most uncompressed bytes one request carries (the API allows 1 MB).
pub const MAX_REQUEST_BYTES: usize = 1_000_000;
/// How many records' digests are kept from a batch that failed half way.
const MAX_REMEMBERED: usize = 1_000_000;

/// A record's identity: the first 16 bytes of its SHA-256.
type Digest = [u8; 16];

fn digest(record: &[u8]) -> Digest {
    let full = ring::digest::digest(&ring::digest::SHA256, record);
    let mut short = [0u8; 16];
    short.copy_from_slice(&full.as_ref()[..16]);
    short
}

/// Records bound for one stream, in the batch's order.
struct Chunk {
    stream: Arc<str>,
    /// (index of the event in the batch, record, digest)
    records: Vec<(usize, Vec<u8>, Digest)>,
}

impl Chunk {
    /// The JSON array of the records.
    fn body(&self) -> Vec<u8> {
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
    fn halves(mut self) -> (Chunk, Chunk) {
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

/// Sends events to a DCR and waits for its 204s.
pub struct AzureLogsSink {
    name: Arc<str>,
    config: AzureLogsIngestionConfig,
    uploader: Uploader,
    /// Records of an unfinished batch that are already in.
    acknowledged: HashSet<Digest>,
    /// Streams that accepted a request since start: a 400 for one record of such a
    /// stream is about that record, not the DCR.
    working: HashSet<Arc<str>>,
}

impl std::fmt::Debug for AzureLogsSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AzureLogsSink")
            .field("name", &self.name)
            .field("endpoint", &self.config.endpoint.as_str())
            .finish_non_exhaustive()
    }
}

impl AzureLogsSink {
    /// A sink for `config`, sending with `http` (which must not follow redirects).
    pub fn new(
        name: &str,
        config: &AzureLogsIngestionConfig,
        http: reqwest::Client,
    ) -> Result<Self, SinkError> {
        let setup = |message: String| SinkError::permanent(name, "cannot set up the sink", message);
        let material = config.credential.material().map_err(setup)?;
        let tokens = TokenSource::new(
            http.clone(),
            &config.authority_url,
            &config.tenant_id,
            &config.client_id,
            &config.token_scope,
            material,
            Arc::new(IgnoreTokenEvents),
        )
        .map_err(|error| setup(error.to_string()))?
        .with_timeout(config.timeout);
        let base = format!(
            "{}/dataCollectionRules/{}/streams/",
            config.endpoint.as_str().trim_end_matches('/'),
            config.dcr_immutable_id
        );
        Ok(AzureLogsSink {
            name: name.into(),
            uploader: Uploader {
                http,
                base,
                tokens,
                client_id: config.client_id.clone(),
                dcr: config.dcr_immutable_id.clone(),
                scope: config.token_scope.clone(),
                timeout: config.timeout,
                gzip: config.gzip,
            },
            config: config.clone(),
            acknowledged: HashSet::new(),
            working: HashSet::new(),
        })
    }

    /// A permanent error about one event (its dead letter says why).
    fn event_error(&self, index: usize, error: IngestionError) -> SinkError {
        SinkError::permanent(&self.name, format!("event {index}"), error).for_event(index)
    }

    /// The batch's records not yet in, cut into chunks of at most the request limit.
    fn chunks(&self, batch: &Batch) -> Result<VecDeque<Chunk>, SinkError> {
        let mut chunks: VecDeque<Chunk> = VecDeque::new();
        let mut size = 0usize;
        for index in 0..batch.events.len() {
            let record = record_of(batch, index)
                .map_err(|error| self.event_error(index, IngestionError::Unencodable(error)))?;
            if record.len() + 2 > MAX_REQUEST_BYTES {
                return Err(self.event_error(
                    index,
                    IngestionError::RecordTooLarge {
                        bytes: record.len() + 2,
                        limit: MAX_REQUEST_BYTES,
                    },
                ));
            }
            let id = digest(&record);
            if self.acknowledged.contains(&id) {
                continue;
            }
            let stream: Arc<str> = self
                .config
                .stream_for(batch.events[index].envelope.kind)
                .into();
            let fits = chunks.back().is_some_and(|chunk| {
                chunk.stream == stream && size + record.len() < MAX_REQUEST_BYTES
            });
            if !fits {
                chunks.push_back(Chunk {
                    stream,
                    records: Vec::new(),
                });
                size = 2;
            }
            size += record.len() + 1;
            if let Some(chunk) = chunks.back_mut() {
                chunk.records.push((index, record, id));
            }
        }
        Ok(chunks)
    }

    async fn deliver_batch(&mut self, batch: &Batch) -> Result<(), SinkError> {
        let mut queue = self.chunks(batch)?;
        // Single records refused (400) by a stream not yet known to work: judged at the
        // end, once the rest shows whether the stream takes anything at all.
        let mut doubtful: Vec<(Chunk, String)> = Vec::new();
        while let Some(chunk) = queue.pop_front() {
            let answer = self
                .uploader
                .send(&chunk.stream, &chunk.body())
                .await
                .map_err(|error| {
                    let context = format!("upload to stream {}", chunk.stream);
                    match error.is_retryable() {
                        true => SinkError::retryable(&self.name, context, error),
                        false => SinkError::permanent(&self.name, context, error),
                    }
                })?;
            match answer {
                Answer::Accepted => {
                    if self.acknowledged.len() + chunk.records.len() > MAX_REMEMBERED {
                        self.acknowledged.clear();
                    }
                    self.acknowledged
                        .extend(chunk.records.iter().map(|(_, _, id)| *id));
                    self.working.insert(chunk.stream.clone());
                }
                Answer::TooLarge | Answer::Refused(_) if chunk.records.len() > 1 => {
                    tracing::info!(sink = %self.name, records = chunk.records.len(), "Azure Monitor refused a request (413 or 400); sending it again in two halves");
                    let (first, second) = chunk.halves();
                    queue.push_front(second);
                    queue.push_front(first);
                }
                Answer::TooLarge => {
                    let index = chunk.records[0].0;
                    let detail = ": too large".to_owned();
                    let status = 413;
                    return Err(
                        self.event_error(index, IngestionError::RecordRefused { status, detail })
                    );
                }
                Answer::Refused(detail) if self.working.contains(&chunk.stream) => {
                    let index = chunk.records[0].0;
                    let status = 400;
                    return Err(
                        self.event_error(index, IngestionError::RecordRefused { status, detail })
                    );
                }
                Answer::Refused(detail) => doubtful.push((chunk, detail)),
            }
        }
        if let Some((chunk, detail)) = doubtful.first() {
            let index = chunk.records[0].0;
            // One record refused alone is that record's fault; several records of a
            // stream that took none of them point at the stream (or the DCR).
            let refused = doubtful
                .iter()
                .filter(|(c, _)| c.stream == chunk.stream)
                .count();
            if refused == 1 || self.working.contains(&chunk.stream) {
                let (status, detail) = (400, detail.clone());
                return Err(
                    self.event_error(index, IngestionError::RecordRefused { status, detail })
                );
            }
            let stream = chunk.stream.to_string();
            let context = format!("upload to stream {stream}");
            let error = IngestionError::StreamRefused {
                stream,
                detail: detail.clone(),
            };
            return Err(SinkError::permanent(&self.name, context, error));
        }
        self.acknowledged.clear();
        Ok(())
    }
}

impl Sink for AzureLogsSink {
    fn deliver<'a>(&'a mut self, batch: &'a Batch) -> DeliveryFuture<'a> {
        Box::pin(self.deliver_batch(batch))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Credential, DEFAULT_MONITOR_SCOPE, Secret};
    use std::time::Duration;

    fn sink() -> AzureLogsSink {
        let url = url::Url::parse("http://127.0.0.1:9").unwrap();
        let config = AzureLogsIngestionConfig {
            endpoint: url.clone(),
            dcr_immutable_id: "dcr-00000000000000000000000000000000".into(),
            stream_name: None,
            streams: Vec::new(),
            tenant_id: "t".into(),
            client_id: "c".into(),
            credential: Credential::Secret(Secret::new("s")),
            authority_url: url,
            token_scope: DEFAULT_MONITOR_SCOPE.into(),
            timeout: Duration::from_secs(1),
            gzip: true,
        };
        let _ = rustls::crypto::ring::default_provider().install_default();
        AzureLogsSink::new("sentinel", &config, reqwest::Client::new()).unwrap()
    }

    #[test]
    fn a_batch_over_the_request_limit_is_cut_into_requests_below_it_in_order() {
        let padding = "p".repeat(900);
        let rows: Vec<String> = (0..2500)
            .map(|i| {
                format!(
                    r#"{{"id":"r{i}","startDateTime":"2024-05-01T00:00:00Z","pad":"{padding}"}}"#
                )
            })
            .collect();
        let rows: Vec<&str> = rows.iter().map(String::as_str).collect();
        let batch = crate::sinks::batch_of(&rows);
        let mut sink = sink();
        let chunks = sink.chunks(&batch).unwrap();
        assert!(chunks.len() >= 3, "{} chunks", chunks.len());
        for chunk in &chunks {
            let body = chunk.body();
            assert!(body.len() <= MAX_REQUEST_BYTES, "{}", body.len());
            let records: Vec<serde_json::Value> = serde_json::from_slice(&body).unwrap();
            assert_eq!(records.len(), chunk.records.len());
            assert_eq!(&*chunk.stream, "Custom-PstnCalls");
        }
        let order: Vec<usize> = chunks
            .iter()
            .flat_map(|c| c.records.iter().map(|r| r.0))
            .collect();
        assert_eq!(order, (0..2500).collect::<Vec<_>>());
        // Records already in (a batch that failed half way) are not cut again.
        sink.acknowledged
            .extend(chunks[0].records.iter().map(|r| r.2));
        let rest = sink.chunks(&batch).unwrap();
        assert_eq!(rest[0].records[0].0, chunks[1].records[0].0);
    }
}
