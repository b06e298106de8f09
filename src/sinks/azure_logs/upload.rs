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
use crate::entra::{TokenSource, error_chain};
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

/// Azure's error code from its error body.
fn code(body: &[u8]) -> Option<String> {
    let value: serde_json::Value = serde_json::from_slice(body).ok()?;
    value["error"]["code"].as_str().map(str::to_owned)
}

/// `: CODE: message` from Azure's error body, or nothing.
fn detail(body: &[u8]) -> String {
    let value: serde_json::Value = serde_json::from_slice(body).unwrap_or_default();
    let error = &value["error"];
    let text = match (error["code"].as_str(), error["message"].as_str()) {
        (Some(code), Some(message)) => format!("{code}: {message}"),
        (None, Some(message)) | (Some(message), None) => message.to_owned(),
        (None, None) => String::from_utf8_lossy(body).trim().to_owned(),
    };
    let text: String = text.chars().take(400).collect();
    if text.is_empty() {
        text
    } else {
        format!(": {text}")
    }
}

fn retry_after(response: &reqwest::Response) -> Option<Duration> {
    response
        .headers()
        .get(reqwest::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim()
        .parse::<u64>()
        .ok()
        .map(Duration::from_secs)
}

async fn read_capped(mut response: reqwest::Response) -> Vec<u8> {
    let mut body = Vec::new();
    while let Ok(Some(chunk)) = response.chunk().await {
        let room = MAX_ANSWER_BYTES.saturating_sub(body.len());
        body.extend_from_slice(&chunk[..chunk.len().min(room)]);
        if body.len() >= MAX_ANSWER_BYTES {
            break;
        }
    }
    body
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
        let (mut refreshed, mut waits) = (false, 0);
        loop {
            let token = tokio::time::timeout(self.timeout, self.tokens.token())
                .await
                .map_err(|_| IngestionError::Timeout(self.timeout))??;
            let mut request = self
                .http
                .post(&url)
                .timeout(self.timeout)
                .header(reqwest::header::AUTHORIZATION, token.header_value())
                .header(reqwest::header::CONTENT_TYPE, "application/json");
            if self.gzip {
                request = request.header(reqwest::header::CONTENT_ENCODING, "gzip");
            }
            let response =
                request
                    .body(payload.clone())
                    .send()
                    .await
                    .map_err(|error| match error.is_timeout() {
                        true => IngestionError::Timeout(self.timeout),
                        false => IngestionError::Network(error_chain(&error.without_url())),
                    })?;
            let status = response.status().as_u16();
            let wait = retry_after(&response);
            let answer = read_capped(response).await;
            match status {
                200..=299 => return Ok(Answer::Accepted),
                400 | 413 => {
                    return Ok(Answer::Refused(Refused {
                        status,
                        code: code(&answer),
                        detail: detail(&answer),
                    }));
                }
                401 if !refreshed => {
                    refreshed = true;
                    self.tokens.invalidate(&token).await;
                }
                401 => {
                    return Err(IngestionError::Unauthorized {
                        scope: self.scope.clone(),
                        detail: detail(&answer),
                    });
                }
                403 => {
                    return Err(IngestionError::Forbidden {
                        client_id: self.client_id.clone(),
                        dcr: self.dcr.clone(),
                        detail: detail(&answer),
                    });
                }
                429 | 503 => match wait {
                    Some(wait)
                        if wait <= self.timeout.min(MAX_INLINE_WAIT) && waits < MAX_WAITS =>
                    {
                        waits += 1;
                        tracing::info!(
                            status,
                            ?wait,
                            "Azure Monitor asked to wait (Retry-After); waiting, then sending the same records again"
                        );
                        tokio::time::sleep(wait).await;
                    }
                    Some(wait) => {
                        return Err(IngestionError::Throttled {
                            status,
                            wait,
                            detail: detail(&answer),
                        });
                    }
                    None => {
                        return Err(IngestionError::Unavailable {
                            status,
                            detail: detail(&answer),
                        });
                    }
                },
                500..=599 | 408 => {
                    return Err(IngestionError::Unavailable {
                        status,
                        detail: detail(&answer),
                    });
                }
                _ => {
                    return Err(IngestionError::Refused {
                        status,
                        stream: stream.to_owned(),
                        dcr: self.dcr.clone(),
                        detail: detail(&answer),
                    });
                }
            }
        }
    }
}
