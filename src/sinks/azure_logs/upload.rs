//! One upload to the Logs Ingestion API: `POST {endpoint}/dataCollectionRules/{dcr}/
//! streams/{stream}?api-version=2023-01-01` with a bearer token for Azure Monitor, the
//! body gzipped, and the answer sorted into what the sink does next.
//!
//! Within one upload: a 401 gets one fresh token; a 429 or 503 with `Retry-After` of at
//! most 5 s (and the request `timeout`) is waited out here and the same body sent again
//! (three times at most); a longer one becomes a retryable error carrying the wait, and
//! the source's backoff (which a shutdown cuts short) waits at least that long before
//! offering the batch again. The token only ever goes to the
//! configured endpoint: the HTTP client follows no redirect.

use super::IngestionError;
use crate::entra::{AccessToken, TokenSource, error_chain};
use crate::http_client::{Answer as HttpAnswer, ErrorBody, Exchange, Step, Throttling, clip};
use std::io::Write;
use std::time::Duration;

/// The API version the documented request uses.
const API_VERSION: &str = "2023-01-01";
/// How much of an answer's body is read (for its error message).
const MAX_ANSWER_BYTES: usize = 16 * 1024;
/// How many `Retry-After` waits one upload sits out before handing back.
const MAX_WAITS: usize = 3;
/// The longest `Retry-After` waited out inside the sink: short enough for a shutdown's
/// flush; a longer one goes back to the source, whose backoff wakes on shutdown.
const MAX_INLINE_WAIT: Duration = Duration::from_secs(5);

/// What an upload came to, when it did not fail outright.
#[derive(Debug)]
pub(super) enum Answer {
    /// 204: every record of the body is in.
    Accepted,
    /// 400 or 413: something in the body is refused; the sink judges, from the status,
    /// Azure's error code and the body's size, whether the stream or the records.
    Refused(Refused),
}

/// A 400 or 413 as Azure gave it.
#[derive(Debug)]
pub(super) struct Refused {
    /// 400 or 413.
    pub(super) status: u16,
    /// Azure's error code (`InvalidStream`, `InvalidContent`, ...), when it gave one.
    pub(super) code: Option<String>,
    /// `: CODE: message`, Azure's own words.
    pub(super) detail: String,
}

/// Sends bodies to one DCR.
pub(super) struct Uploader {
    pub(super) http: reqwest::Client,
    /// `{endpoint}/dataCollectionRules/{dcr}/streams/`.
    pub(super) base: String,
    pub(super) tokens: TokenSource,
    pub(super) client_id: String,
    pub(super) dcr: String,
    pub(super) scope: String,
    pub(super) timeout: Duration,
    pub(super) gzip: bool,
}

/// `: CODE: message` from Azure's error body, or its start as text, or nothing.
fn detail(body: &[u8]) -> String {
    let text = match ErrorBody::service(body) {
        (Some(code), Some(message)) => format!("{code}: {message}"),
        (None, Some(message)) | (Some(message), None) => message,
        (None, None) => String::from_utf8_lossy(body).trim().to_owned(),
    };
    let text = clip(&text, 400);
    if text.is_empty() {
        text
    } else {
        format!(": {text}")
    }
}

impl Uploader {
    fn gzipped(body: &[u8]) -> Result<Vec<u8>, IngestionError> {
        let mut encoder = flate2::write::GzEncoder::new(
            Vec::with_capacity(body.len() / 4),
            flate2::Compression::fast(),
        );
        encoder
            .write_all(body)
            .and_then(|()| encoder.finish())
            .map_err(|error| IngestionError::Network(format!("gzip: {error}")))
    }

    /// Uploads one JSON array to `stream`.
    pub(super) async fn send(&self, stream: &str, body: &[u8]) -> Result<Answer, IngestionError> {
        let url = format!("{}{stream}?api-version={API_VERSION}", self.base);
        let payload = if self.gzip {
            Self::gzipped(body)?
        } else {
            body.to_vec()
        };
        let mut exchange = Exchange::new(Throttling {
            statuses: &[429, 503],
            unannounced: None,
            longest_wait: self.timeout.min(MAX_INLINE_WAIT),
            most_waits: MAX_WAITS,
            within: Duration::MAX,
        });
        loop {
            let token = tokio::time::timeout(self.timeout, self.tokens.token())
                .await
                .map_err(|_| IngestionError::Timeout(self.timeout))??;
            let answer = self.post(&url, &token, payload.clone()).await?;
            let status = answer.status;
            match exchange.judge(status, answer.retry_after) {
                Step::Read => return self.read(stream, answer),
                Step::RefreshToken => self.tokens.invalidate(&token).await,
                Step::Unauthorized => {
                    return Err(IngestionError::Unauthorized {
                        scope: self.scope.clone(),
                        detail: detail(&answer.body),
                    });
                }
                Step::Wait(wait) => {
                    tracing::info!(
                        status,
                        ?wait,
                        "Azure Monitor asked to wait (Retry-After); waiting, then sending the same records again"
                    );
                    tokio::time::sleep(wait).await;
                }
                Step::Throttled(Some(wait)) => {
                    return Err(IngestionError::Throttled {
                        status,
                        wait,
                        detail: detail(&answer.body),
                    });
                }
                Step::Throttled(None) => {
                    return Err(IngestionError::Unavailable {
                        status,
                        detail: detail(&answer.body),
                    });
                }
            }
        }
    }

    /// One POST of the payload with `token`; the answer's body read only as far as its
    /// error text needs.
    async fn post(
        &self,
        url: &str,
        token: &AccessToken,
        payload: Vec<u8>,
    ) -> Result<HttpAnswer, IngestionError> {
        let mut request = self
            .http
            .post(url)
            .timeout(self.timeout)
            .header(reqwest::header::AUTHORIZATION, token.header_value())
            .header(reqwest::header::CONTENT_TYPE, "application/json");
        if self.gzip {
            request = request.header(reqwest::header::CONTENT_ENCODING, "gzip");
        }
        let response =
            request
                .body(payload)
                .send()
                .await
                .map_err(|error| match error.is_timeout() {
                    true => IngestionError::Timeout(self.timeout),
                    false => IngestionError::Network(error_chain(&error.without_url())),
                })?;
        Ok(HttpAnswer::read_start(response, MAX_ANSWER_BYTES).await)
    }

    /// What an answer the exchange left to the sink means: accepted, records refused
    /// (for the sink to judge), or the error its status says.
    fn read(&self, stream: &str, answer: HttpAnswer) -> Result<Answer, IngestionError> {
        let (status, body) = (answer.status, &answer.body);
        match status {
            200..=299 => Ok(Answer::Accepted),
            400 | 413 => Ok(Answer::Refused(Refused {
                status,
                code: ErrorBody::service(body).0,
                detail: detail(body),
            })),
            403 => Err(IngestionError::Forbidden {
                client_id: self.client_id.clone(),
                dcr: self.dcr.clone(),
                detail: detail(body),
            }),
            500..=599 | 408 => Err(IngestionError::Unavailable {
                status,
                detail: detail(body),
            }),
            _ => Err(IngestionError::Refused {
                status,
                stream: stream.to_owned(),
                dcr: self.dcr.clone(),
                detail: detail(body),
            }),
        }
    }
}
