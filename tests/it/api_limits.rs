//! The `/metrics` listener against idle and crowding clients: an idle connection is
//! closed, and neither hundreds of half-sent requests nor a crowd of keep-alive
//! clients keep a scrape out. Loopback connections only; every wait has a deadline.

use pstn_agent::api::{API_LIMITS, ApiListener, ServeLimits};
use pstn_agent::metrics::Metrics;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

async fn listener() -> std::net::SocketAddr {
    listener_with(API_LIMITS).await
}

async fn listener_with(limits: ServeLimits) -> std::net::SocketAddr {
    let listener = ApiListener::bind(([127, 0, 0, 1], 0).into())
        .await
        .unwrap()
        .with_limits(limits);
    let address = listener.local_address().unwrap();
    listener.spawn(Metrics::new().unwrap());
    address
}

/// The first half of a request, never finished.
const HALF_SENT: &[u8] = b"GET /metrics HTTP/1.1\r\nHost: x\r\n";

/// Reads one response (head and a `Content-Length` body) off a kept-alive connection.
async fn read_response(stream: &mut TcpStream) -> (String, Vec<u8>) {
    let mut buffer = Vec::new();
    let mut chunk = [0u8; 8192];
    let head_end = loop {
        if let Some(at) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
            break at + 4;
        }
        let read = stream.read(&mut chunk).await.unwrap();
        assert!(read > 0, "closed before the response's head");
        buffer.extend_from_slice(&chunk[..read]);
    };
    let head = String::from_utf8_lossy(&buffer[..head_end]).to_ascii_lowercase();
    let length: usize = head
        .lines()
        .find_map(|line| line.strip_prefix("content-length:"))
        .map(|value| value.trim().parse().unwrap())
        .expect("a content-length");
    let mut body = buffer[head_end..].to_vec();
    while body.len() < length {
        let read = stream.read(&mut chunk).await.unwrap();
        assert!(read > 0, "closed mid-body");
        body.extend_from_slice(&chunk[..read]);
    }
    (head, body)
}

/// A scrape on a new connection; its response head, and how long it took.
async fn scrape(address: std::net::SocketAddr) -> (String, Duration) {
    let started = Instant::now();
    let mut stream = TcpStream::connect(address).await.unwrap();
    stream
        .write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let (head, body) = read_response(&mut stream).await;
    assert!(head.starts_with("http/1.1 200"), "{head}");
    assert!(
        String::from_utf8_lossy(&body).contains("pstn_agent_build_info"),
        "not the metrics"
    );
    (head, started.elapsed())
}

/// Reads until the server closes the connection; how long that took.
async fn closed_after(stream: &mut TcpStream, within: Duration) -> Duration {
    let started = Instant::now();
    let mut buffer = [0u8; 1024];
    loop {
        match tokio::time::timeout(within, stream.read(&mut buffer)).await {
            Ok(Ok(0) | Err(_)) => return started.elapsed(),
            Ok(Ok(_)) => continue,
            Err(_) => panic!("the connection was still open after {within:?}"),
        }
    }
}

#[tokio::test]
async fn an_idle_connection_is_closed_after_the_header_read_timeout() {
    let address = listener().await;
    let mut idle = TcpStream::connect(address).await.unwrap();
    let took = closed_after(&mut idle, API_LIMITS.header_read_timeout * 4).await;
    assert!(
        took >= API_LIMITS.header_read_timeout / 2,
        "closed too soon: {took:?}"
    );
}

#[tokio::test]
async fn a_client_dribbling_its_headers_is_cut_off() {
    let address = listener().await;
    let mut slow = TcpStream::connect(address).await.unwrap();
    slow.write_all(b"GET /metrics HTTP/1.1\r\n").await.unwrap();
    // Never finishes the headers.
    closed_after(&mut slow, API_LIMITS.header_read_timeout * 4).await;
}

#[tokio::test]
async fn a_kept_alive_connection_idle_after_its_response_is_closed_after_the_header_read_timeout() {
    let address = listener().await;
    let mut kept = TcpStream::connect(address).await.unwrap();
    kept.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let (head, _) = read_response(&mut kept).await;
    assert!(!head.contains("connection: close"), "{head}");
    let took = closed_after(&mut kept, API_LIMITS.header_read_timeout * 3).await;
    assert!(
        took >= API_LIMITS.header_read_timeout / 2,
        "closed too soon: {took:?}"
    );
}

#[tokio::test]
async fn metrics_answers_within_a_second_while_300_connections_sit_half_sent() {
    let address = listener().await;
    let mut half_sent = Vec::new();
    for _ in 0..300 {
        let mut stream = TcpStream::connect(address).await.unwrap();
        stream.write_all(HALF_SENT).await.unwrap();
        half_sent.push(stream);
    }
    let (head, took) = tokio::time::timeout(Duration::from_secs(5), scrape(address))
        .await
        .expect("the scrape was never answered while 300 requests sat half-sent");
    assert!(took < Duration::from_secs(1), "answered after {took:?}");
    // 300 is past `crowded_at`: the scrape got its one request and the hint to leave.
    const { assert!(API_LIMITS.crowded_at < 300) };
    assert!(head.contains("connection: close"), "{head}");
}

#[tokio::test]
async fn metrics_answers_within_a_second_while_32_keep_alive_clients_poll() {
    let address = listener().await;
    let poll = Duration::from_millis(400);
    assert!(poll < API_LIMITS.header_read_timeout);
    let mut clients = Vec::new();
    for _ in 0..32 {
        clients.push(tokio::spawn(async move {
            let mut stream = TcpStream::connect(address).await.unwrap();
            for _ in 0..4 {
                stream
                    .write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
                    .await
                    .unwrap();
                let (head, _) = read_response(&mut stream).await;
                // Not crowded: the clients keep their connections (they hold slots).
                assert!(!head.contains("connection: close"), "{head}");
                tokio::time::sleep(poll).await;
            }
        }));
    }
    tokio::time::sleep(poll / 2).await;
    for _ in 0..3 {
        let (_, took) = tokio::time::timeout(Duration::from_secs(5), scrape(address))
            .await
            .expect("the scrape was never answered while 32 keep-alive clients polled");
        assert!(took < Duration::from_secs(1), "answered after {took:?}");
        tokio::time::sleep(poll / 2).await;
    }
    for client in clients {
        tokio::time::timeout(Duration::from_secs(10), client)
            .await
            .expect("a polling client hung")
            .unwrap();
    }
}

#[tokio::test]
async fn a_crowded_listener_closes_its_oldest_connections_and_answers_at_once() {
    let limits = ServeLimits {
        max_connections: 64,
        crowded_at: 8,
        // Long: what closes a connection here is only the crowding.
        header_read_timeout: Duration::from_secs(60),
        crowded_header_read_timeout: Duration::from_secs(60),
        connection_lifetime: Duration::from_secs(120),
        closing_grace: Duration::from_millis(250),
    };
    let address = listener_with(limits).await;
    let mut crowd = Vec::new();
    for index in 0..20 {
        let mut stream = TcpStream::connect(address).await.unwrap();
        if index % 2 == 0 {
            stream.write_all(HALF_SENT).await.unwrap();
        }
        crowd.push(stream);
    }
    let (head, took) = tokio::time::timeout(Duration::from_secs(5), scrape(address))
        .await
        .expect("the scrape was never answered in a crowded listener");
    assert!(took < Duration::from_secs(1), "answered after {took:?}");
    assert!(head.contains("connection: close"), "{head}");
    // The 20 + 1 connections left 8 open: the 13 oldest were asked to close, idle ones
    // closed at once, half-sent ones at the end of the grace.
    for (index, stream) in crowd.iter_mut().enumerate().take(13) {
        let took = closed_after(stream, Duration::from_secs(3)).await;
        assert!(
            took < Duration::from_secs(2),
            "connection {index}: {took:?}"
        );
    }
    let mut newest = [0u8; 1];
    assert!(
        tokio::time::timeout(Duration::from_millis(500), crowd[19].read(&mut newest))
            .await
            .is_err(),
        "the newest connection was closed too"
    );
}
