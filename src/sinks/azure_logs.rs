//! `type = "azure_logs_ingestion"`: events into Microsoft Sentinel / Log Analytics
//! custom tables through the Azure Monitor Logs Ingestion API and a data collection
//! rule (DCR). Each event is one record ([`record_of`]) sent to its kind's stream.
//!
//! A batch is cut into requests of at most [`MAX_REQUEST_BYTES`] uncompressed (the
//! API's 1 MB limit, with room to spare). Azure's refusals are sorted by status and
//! error code:
//! - about the stream or the rule (`InvalidStream`, 404, 403, any other 4xx about the
//!   request): the batch fails, retryably (the source backs off; `--once` exits 1), and
//!   the error names the stream or the rule and what to check; nothing is dead-lettered;
//! - about records (400 with a content error, 413): the request is cut in half until
//!   the refused record is alone; that record goes to the dead letters with Azure's own
//!   message, the rest goes on. A 413 for one record far under the limit is about the
//!   endpoint, not the record: the batch fails, keeping Azure's message;
//! - after [`MAX_REFUSED_BATCHES`] batches in a row whose every record was refused, the
//!   next such batch fails instead of going to the dead letters (the rule, not the
//!   records, is wrong), until a record goes in again.
//!
//! Once per batch: the requests of a batch already answered 204 are remembered in that
//! batch's own [`Progress`] (a digest per record), and offering it again sends only
//! what is not in yet, whatever other batches (of other sources) went in between.
//! Retries are the source's: this sink returns retryable errors (after sitting out
//! short `Retry-After`s itself, see `upload`; a longer one goes with the error).

mod chunk;
mod config;
mod error;
mod record;
mod refusal;
mod upload;

pub use error::IngestionError;
pub use record::record_of;
#[cfg(any(test, feature = "__internals"))]
pub use record::{ENVELOPE_COLUMNS, RESERVED_COLUMNS, is_reserved};

use super::{Batch, DeliveryFuture, Digest, Progress, Sink, SinkError, digest};
use crate::entra::{IgnoreTokenEvents, TokenSource};
use chunk::{Chunk, Chunks};
#[cfg(any(test, feature = "__internals", feature = "simulator"))]
pub use config::DEFAULT_MONITOR_SCOPE;
pub(super) use config::read as read_config;
pub use config::{AzureLogsIngestionConfig, pascal_case};
#[cfg(any(test, feature = "__internals"))]
pub use config::{default_stream, default_table};
use std::collections::VecDeque;
use std::sync::Arc;
use upload::{Answer, Uploader};

/// The most uncompressed bytes one request carries (the API allows 1 MB).
pub const MAX_REQUEST_BYTES: usize = 1_000_000;
/// How many batches in a row may have every record refused (and dead-lettered) before
/// the sink blames the rule and fails such batches instead.
pub const MAX_REFUSED_BATCHES: usize = 3;
/// Sends events to a DCR and waits for its 204s.
pub struct AzureLogsSink {
    name: Arc<str>,
    config: AzureLogsIngestionConfig,
    uploader: Uploader,
    /// Batches in a row whose every record was refused (reset when one goes in).
    refused_batches: usize,
    /// Azure's last `Retry-After` past what the sink waits out itself: until then no
    /// batch, of any source, is sent.
    not_before: Option<tokio::time::Instant>,
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
            refused_batches: 0,
            not_before: None,
        })
    }

    /// A permanent error about one event (its dead letter says why).
    fn event_error(&self, index: usize, error: IngestionError) -> SinkError {
        SinkError::permanent(&self.name, format!("event {index}"), error).for_event(index)
    }

    /// A retryable error about the whole batch.
    fn batch_error(&mut self, stream: &str, error: IngestionError) -> SinkError {
        let wait = error.retry_after();
        if let Some(wait) = wait {
            self.not_before = Some(tokio::time::Instant::now() + wait);
        }
        let context = format!("upload to stream {stream}");
        let error = match error.is_retryable() {
            true => SinkError::retryable(&self.name, context, error),
            false => SinkError::permanent(&self.name, context, error),
        };
        match wait {
            Some(wait) => error.retry_after(wait),
            None => error,
        }
    }

    /// The batch's records not yet in and not refused by an earlier offer of this
    /// batch, cut into chunks of at most the request limit, and the first record an
    /// earlier offer saw refused; or the error for a record too large to send.
    fn chunks(&self, batch: &Batch, progress: &Progress) -> Result<Chunks, SinkError> {
        let mut chunks: VecDeque<Chunk> = VecDeque::new();
        let mut refused = None;
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
            if progress.is_delivered(&id) {
                continue;
            }
            let stream: Arc<str> = self
                .config
                .stream_for(batch.events[index].envelope.kind)
                .into();
            if progress.refusal(&id).is_some() {
                refused.get_or_insert((index, stream));
                continue;
            }
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
        Ok((chunks, refused))
    }

    async fn deliver_batch(
        &mut self,
        batch: &Batch,
        progress: &mut Progress,
    ) -> Result<(), SinkError> {
        // The first record refused alone (by this offer or an earlier one), with where
        // it went: it is answered once the rest was sent.
        let (mut queue, mut first_refused) = self.chunks(batch, progress)?;
        // Nothing is sent before an earlier Retry-After has passed.
        let now = tokio::time::Instant::now();
        let held = self.not_before.map(|at| at.saturating_duration_since(now));
        if let (Some(wait), Some(chunk)) = (held.filter(|wait| !wait.is_zero()), queue.front()) {
            let stream = chunk.stream.to_string();
            let error = IngestionError::Throttled {
                status: 429,
                wait,
                detail: " (what is left of an earlier answer's Retry-After)".into(),
            };
            return Err(self.batch_error(&stream, error));
        }
        while let Some(chunk) = queue.pop_front() {
            let answer = self
                .uploader
                .send(&chunk.stream, &chunk.body())
                .await
                .map_err(|error| self.batch_error(&chunk.stream, error))?;
            match answer {
                Answer::Accepted => {
                    progress.delivered(chunk.records.iter().map(|(_, _, id)| *id));
                    self.refused_batches = 0;
                }
                Answer::Refused(refused) => {
                    let (index, stream) = (chunk.records[0].0, chunk.stream.clone());
                    match self.judge(chunk, refused, progress)? {
                        Some((first, second)) => {
                            queue.push_front(second);
                            queue.push_front(first);
                        }
                        None => {
                            let earlier = first_refused.as_ref().is_some_and(|(i, _)| *i < index);
                            if !earlier {
                                first_refused = Some((index, stream));
                            }
                        }
                    }
                }
            }
        }
        let Some((index, stream)) = first_refused else {
            return Ok(());
        };
        self.refused_record(batch, index, &stream, progress)
    }
}

impl Sink for AzureLogsSink {
    fn deliver<'a>(
        &'a mut self,
        batch: &'a Batch,
        progress: &'a mut Progress,
    ) -> DeliveryFuture<'a> {
        Box::pin(self.deliver_batch(batch, progress))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Secret;
    use crate::settings::Credential;
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
        let sink = sink();
        let mut progress = Progress::default();
        let (chunks, _) = sink.chunks(&batch, &progress).unwrap();
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
        progress.delivered(chunks[0].records.iter().map(|r| r.2));
        let (rest, _) = sink.chunks(&batch, &progress).unwrap();
        assert_eq!(rest[0].records[0].0, chunks[1].records[0].0);
    }
}
