//! Why the Logs Ingestion sink did not take a batch or a record, in words that say
//! what to check, and whether offering it again may help.

use crate::entra::AuthError;
use std::time::Duration;

/// Why an upload did not go through.
#[derive(Debug, thiserror::Error)]
pub enum IngestionError {
    /// No token from Entra ID.
    #[error("no token for Azure Monitor: {0}")]
    Token(#[from] AuthError),
    /// The token request or the upload took longer than `timeout`.
    #[error("no answer within {0:?}")]
    Timeout(Duration),
    /// Connection refused or reset, TLS, a cut transfer.
    #[error("network error: {0}")]
    Network(String),
    /// 403: the role assignment is missing or still propagating.
    #[error(
        "Azure Monitor refused the upload (403 Forbidden): application {client_id} needs the \"Monitoring Metrics Publisher\" role on the data collection rule {dcr} (a new role assignment can take up to 30 minutes to apply){detail}"
    )]
    Forbidden {
        /// The application.
        client_id: String,
        /// The DCR's immutable id.
        dcr: String,
        /// What Azure said, when it said something.
        detail: String,
    },
    /// 401 again with a freshly issued token (wrong `token_scope`, wrong cloud).
    #[error(
        "Azure Monitor refused a freshly issued token (401): check token_scope ({scope}) and authority_url{detail}"
    )]
    Unauthorized {
        /// The scope the token was asked for.
        scope: String,
        /// What Azure said.
        detail: String,
    },
    /// 429 or 503 asking for a wait longer than this upload may sit out.
    #[error("Azure Monitor answered HTTP {status}: retry after {wait:?}{detail}")]
    Throttled {
        /// 429 or 503.
        status: u16,
        /// The `Retry-After` it announced.
        wait: Duration,
        /// What Azure said.
        detail: String,
    },
    /// Any other 5xx, or 429/503 without `Retry-After`.
    #[error("Azure Monitor answered HTTP {status}{detail}")]
    Unavailable {
        /// HTTP status.
        status: u16,
        /// What Azure said.
        detail: String,
    },
    /// 404, or another 4xx about the request rather than its records: the endpoint,
    /// the DCR or the stream is not what the configuration says.
    #[error(
        "Azure Monitor refused the upload to stream {stream} with HTTP {status}{detail}: check endpoint, dcr_immutable_id ({dcr}) and the stream's name and declaration in the rule"
    )]
    Refused {
        /// HTTP status.
        status: u16,
        /// The stream.
        stream: String,
        /// The DCR's immutable id.
        dcr: String,
        /// What Azure said.
        detail: String,
    },
    /// One record that alone is over the request limit.
    #[error(
        "the record is {bytes} bytes, over the Logs Ingestion limit of {limit} bytes per request"
    )]
    RecordTooLarge {
        /// Its size.
        bytes: usize,
        /// The limit.
        limit: usize,
    },
    /// One record the API refused on its own (400 about its content, or 413 for a
    /// record near the limit), in Azure's own words.
    #[error("Azure Monitor refused the record alone (HTTP {status}){detail}")]
    RecordRefused {
        /// 400 or 413.
        status: u16,
        /// What Azure said.
        detail: String,
    },
    /// The stream or the rule is wrong (`InvalidStream`, an unknown rule): nothing is
    /// dead-lettered, the batch waits until the configuration or the DCR is fixed.
    #[error(
        "Azure Monitor refused stream {stream} of data collection rule {dcr} (HTTP {status}){detail}: check the stream's name (stream_name / streams) and that the rule declares it"
    )]
    StreamRefused {
        /// The stream.
        stream: String,
        /// The DCR's immutable id.
        dcr: String,
        /// HTTP status.
        status: u16,
        /// What Azure said.
        detail: String,
    },
    /// A 413 for one record far under the request limit: the endpoint, not the record.
    #[error(
        "Azure Monitor answered 413 for one record of {bytes} bytes, far under the limit of {limit} bytes per request{detail}: check the endpoint (a proxy or gateway in front of it may cap bodies)"
    )]
    EndpointTooSmall {
        /// The record's size.
        bytes: usize,
        /// The limit the agent keeps to.
        limit: usize,
        /// What it said.
        detail: String,
    },
    /// Every record of several batches in a row was refused: the rule (a transformation,
    /// a column type) rather than the records; dead-lettering stops until one goes in.
    #[error(
        "Azure Monitor refused every record of the last {batches} batches (stream {stream}, HTTP {status}){detail}: not dead-lettering more; check the data collection rule {dcr} (its transformation and the stream's columns)"
    )]
    EverythingRefused {
        /// How many batches in a row.
        batches: usize,
        /// The stream of the last refusal.
        stream: String,
        /// The DCR's immutable id.
        dcr: String,
        /// The last refusal's status.
        status: u16,
        /// What Azure said last.
        detail: String,
    },
    /// The event could not be turned into a record.
    #[error("the event cannot be encoded as a record: {0}")]
    Unencodable(#[from] serde_json::Error),
}

impl IngestionError {
    /// Whether offering the same records again may succeed.
    pub fn is_retryable(&self) -> bool {
        match self {
            IngestionError::Token(error) => matches!(error, AuthError::Unavailable(_)),
            IngestionError::Timeout(_)
            | IngestionError::Network(_)
            | IngestionError::Forbidden { .. }
            | IngestionError::Unauthorized { .. }
            | IngestionError::Throttled { .. }
            | IngestionError::Unavailable { .. }
            | IngestionError::Refused { .. }
            | IngestionError::StreamRefused { .. }
            | IngestionError::EndpointTooSmall { .. }
            | IngestionError::EverythingRefused { .. } => true,
            IngestionError::RecordTooLarge { .. }
            | IngestionError::RecordRefused { .. }
            | IngestionError::Unencodable(_) => false,
        }
    }

    /// The earliest Azure wants to be asked again, when it said.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            IngestionError::Throttled { wait, .. } => Some(*wait),
            _ => None,
        }
    }
}
