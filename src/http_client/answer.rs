//! Reading an outbound answer the same way in every client: its status, its
//! `Retry-After` within a cap (seconds or an HTTP-date), and its body within a cap,
//! either whole (a page, a token) or only its start (an error's text).

use super::BufferPool;
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
    pub async fn read(response: reqwest::Response, limit: usize) -> Result<Answer, ReadError> {
        Answer::read_pooled(response, limit, None).await
    }

    /// [`Answer::read`], the body read into a buffer of `pool` when there is one (a
    /// page's body, given back to the pool once the page is done).
    pub async fn read_pooled(
        mut response: reqwest::Response,
        limit: usize,
        pool: Option<&BufferPool>,
    ) -> Result<Answer, ReadError> {
        let status = response.status().as_u16();
        let retry_after = retry_after(response.headers(), MAX_RETRY_AFTER);
        let expected =
            usize::try_from(response.content_length().unwrap_or(0)).unwrap_or(usize::MAX);
        if expected > limit {
            return Err(ReadError::TooLarge(limit));
        }
        let mut body = match pool {
            Some(pool) => pool.take(expected),
            None => Vec::with_capacity(expected),
        };
        while let Some(chunk) = response.chunk().await.map_err(ReadError::Transfer)? {
            if body.len() + chunk.len() > limit {
                return Err(ReadError::TooLarge(limit));
            }
            body.extend_from_slice(&chunk);
        }
        // Still one owner: `Page::parse` takes the buffer back whole, room included.
        Ok(Answer {
            status,
            retry_after,
            body: Bytes::from(body),
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

    /// A one-connection server on loopback that answers any request with `raw`.
    async fn serving(raw: &'static [u8]) -> String {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/", listener.local_addr().unwrap());
        tokio::spawn(async move {
            let (mut stream, _) = listener.accept().await.unwrap();
            let mut request = Vec::new();
            let mut buffer = [0u8; 1024];
            while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                let n = stream.read(&mut buffer).await.unwrap();
                if n == 0 {
                    return;
                }
                request.extend_from_slice(&buffer[..n]);
            }
            let _ = stream.write_all(raw).await;
        });
        url
    }

    async fn get(raw: &'static [u8]) -> reqwest::Response {
        let client = crate::http_client::builder().unwrap().build().unwrap();
        client.get(serving(raw).await).send().await.unwrap()
    }

    #[tokio::test]
    async fn a_whole_read_keeps_the_status_the_wait_and_a_body_within_the_cap() {
        let raw = b"HTTP/1.1 503 Service Unavailable\r\nRetry-After: 7\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello";
        let answer = Answer::read(get(raw).await, 5).await.unwrap();
        assert_eq!(
            (answer.status, answer.retry_after),
            (503, Some(Duration::from_secs(7)))
        );
        assert_eq!(&answer.body[..], b"hello");
    }

    #[tokio::test]
    async fn a_whole_read_refuses_a_body_over_the_cap_announced_or_not() {
        let announced = b"HTTP/1.1 200 OK\r\nContent-Length: 6\r\nConnection: close\r\n\r\nhello!";
        let error = Answer::read(get(announced).await, 5).await.unwrap_err();
        assert!(matches!(error, ReadError::TooLarge(5)), "{error:?}");
        let chunked = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n3\r\nabc\r\n3\r\ndef\r\n0\r\n\r\n";
        let error = Answer::read(get(chunked).await, 5).await.unwrap_err();
        assert!(matches!(error, ReadError::TooLarge(5)), "{error:?}");
        let cut = b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\nConnection: close\r\n\r\nhalf";
        let error = Answer::read(get(cut).await, 1000).await.unwrap_err();
        assert!(matches!(error, ReadError::Transfer(_)), "{error:?}");
    }

    #[tokio::test]
    async fn reading_the_start_keeps_the_first_bytes_and_what_a_cut_transfer_sent() {
        let long = b"HTTP/1.1 400 Bad Request\r\nContent-Length: 11\r\nConnection: close\r\n\r\nhello world";
        let answer = Answer::read_start(get(long).await, 5).await;
        assert_eq!((answer.status, &answer.body[..]), (400, &b"hello"[..]));
        let cut =
            b"HTTP/1.1 400 Bad Request\r\nContent-Length: 100\r\nConnection: close\r\n\r\nhalf";
        let answer = Answer::read_start(get(cut).await, 1000).await;
        assert_eq!(&answer.body[..], b"half");
    }

    #[test]
    fn retry_after_reads_seconds_within_the_cap() {
        let cap = Duration::from_secs(3600);
        assert_eq!(
            retry_after(&headers(" 7 "), cap),
            Some(Duration::from_secs(7))
        );
        assert_eq!(
            retry_after(&headers("18446744073709551615"), cap),
            Some(cap)
        );
        assert_eq!(retry_after(&headers("soon"), cap), None);
        assert_eq!(retry_after(&headers("-3"), cap), None);
        assert_eq!(retry_after(&HeaderMap::new(), cap), None);
    }

    #[test]
    fn retry_after_reads_an_http_date_as_the_time_left_until_it() {
        let cap = Duration::from_secs(3600);
        let in_a_minute = httpdate::fmt_http_date(SystemTime::now() + Duration::from_secs(61));
        let wait = retry_after(&headers(&in_a_minute), cap).unwrap();
        assert!(
            wait > Duration::from_secs(55) && wait <= Duration::from_secs(61),
            "{wait:?}"
        );
        let past = "Wed, 21 Oct 2015 07:28:00 GMT";
        assert_eq!(retry_after(&headers(past), cap), Some(Duration::ZERO));
        let far = httpdate::fmt_http_date(SystemTime::now() + Duration::from_secs(86_400 * 30));
        assert_eq!(retry_after(&headers(&far), cap), Some(cap));
    }
}
