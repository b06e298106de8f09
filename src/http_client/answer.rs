//! Reading an outbound answer the same way in every client: its status, its
//! `Retry-After` within a cap (seconds or an HTTP-date), and its body within a cap,
//! either whole (a page, a token) or only its start (an error's text).

use bytes::{Bytes, BytesMut};
use reqwest::header::{HeaderMap, RETRY_AFTER};
use std::time::{Duration, SystemTime};

/// The longest `Retry-After` any client honours: a peer's number must neither hold a
/// source back for days nor overflow the clock it is added to.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(3600);

/// One answer read off the wire, before its client judges it.
#[derive(Debug)]
pub struct Answer {
    /// HTTP status.
    pub status: u16,
    /// Its `Retry-After`, at most [`MAX_RETRY_AFTER`].
    pub retry_after: Option<Duration>,
    /// The body (whole, or its start: see [`Answer::read_start`]).
    pub body: Bytes,
}

/// Why a whole body could not be read.
#[derive(Debug)]
pub enum ReadError {
    /// It is (or announced itself) larger than the cap, in bytes.
    TooLarge(usize),
    /// The transfer failed part way.
    Transfer(reqwest::Error),
}

impl Answer {
    /// Reads the whole answer; a body over `limit` bytes is an error, refused as soon
    /// as its `Content-Length` or what arrived says so.
    pub async fn read(mut response: reqwest::Response, limit: usize) -> Result<Answer, ReadError> {
        let status = response.status().as_u16();
        let retry_after = retry_after(response.headers(), MAX_RETRY_AFTER);
        let expected = usize::try_from(response.content_length().unwrap_or(0)).unwrap_or(usize::MAX);
        if expected > limit {
            return Err(ReadError::TooLarge(limit));
        }
        let mut body = BytesMut::with_capacity(expected);
        while let Some(chunk) = response.chunk().await.map_err(ReadError::Transfer)? {
            if body.len() + chunk.len() > limit {
                return Err(ReadError::TooLarge(limit));
            }
            body.extend_from_slice(&chunk);
        }
        Ok(Answer {
            status,
            retry_after,
            body: body.freeze(),
        })
    }

    /// Reads an answer whose body matters only for what it says: its first `limit`
    /// bytes, the rest left unread; a transfer that fails ends the body where it broke.
    pub async fn read_start(mut response: reqwest::Response, limit: usize) -> Answer {
        let status = response.status().as_u16();
        let retry_after = retry_after(response.headers(), MAX_RETRY_AFTER);
        let mut body = BytesMut::new();
        while let Ok(Some(chunk)) = response.chunk().await {
            let room = limit.saturating_sub(body.len());
            body.extend_from_slice(&chunk[..chunk.len().min(room)]);
            if body.len() >= limit {
                break;
            }
        }
        Answer {
            status,
            retry_after,
            body: body.freeze(),
        }
    }
}

/// The wait a `Retry-After` header asks for, in delay-seconds or as an HTTP-date (a
/// date already past asks for none), at most `cap`; nothing when absent or unreadable.
pub fn retry_after(headers: &HeaderMap, cap: Duration) -> Option<Duration> {
    let text = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    let wait = match text.parse::<u64>() {
        Ok(seconds) => Duration::from_secs(seconds),
        Err(_) => httpdate::parse_http_date(text)
            .ok()?
            .duration_since(SystemTime::now())
            .unwrap_or(Duration::ZERO),
    };
    Some(wait.min(cap))
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    fn headers(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(RETRY_AFTER, HeaderValue::from_str(value).unwrap());
        headers
    }

    #[test]
    fn retry_after_reads_seconds_within_the_cap() {
        let cap = Duration::from_secs(3600);
        assert_eq!(retry_after(&headers(" 7 "), cap), Some(Duration::from_secs(7)));
        assert_eq!(retry_after(&headers("18446744073709551615"), cap), Some(cap));
        assert_eq!(retry_after(&headers("soon"), cap), None);
        assert_eq!(retry_after(&headers("-3"), cap), None);
        assert_eq!(retry_after(&HeaderMap::new(), cap), None);
    }

    #[test]
    fn retry_after_reads_an_http_date_as_the_time_left_until_it() {
        let cap = Duration::from_secs(3600);
        let in_a_minute = httpdate::fmt_http_date(SystemTime::now() + Duration::from_secs(61));
        let wait = retry_after(&headers(&in_a_minute), cap).unwrap();
        assert!(wait > Duration::from_secs(55) && wait <= Duration::from_secs(61), "{wait:?}");
        let past = "Wed, 21 Oct 2015 07:28:00 GMT";
        assert_eq!(retry_after(&headers(past), cap), Some(Duration::ZERO));
        let far = httpdate::fmt_http_date(SystemTime::now() + Duration::from_secs(86_400 * 30));
        assert_eq!(retry_after(&headers(&far), cap), Some(cap));
    }
}
