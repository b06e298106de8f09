//! The `/metrics` listener against idle and crowding clients: an idle connection is
//! closed, and a listener full of idle clients still answers once they are cut off.

use pstn_agent::api::{API_LIMITS, ApiListener};
use pstn_agent::metrics::Metrics;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

async fn listener() -> std::net::SocketAddr {
    let listener = ApiListener::bind(([127, 0, 0, 1], 0).into()).await.unwrap();
    let address = listener.local_address().unwrap();
    listener.spawn(Metrics::new().unwrap());
    address
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
async fn a_listener_crowded_by_idle_clients_holds_its_cap_and_answers_once_they_are_cut_off() {
    let address = listener().await;
    let mut idle = Vec::new();
    for _ in 0..API_LIMITS.max_connections {
        idle.push(TcpStream::connect(address).await.unwrap());
    }
    let mut scrape = TcpStream::connect(address).await.unwrap();
    scrape
        .write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    // The cap holds: while every slot is taken by an idle client, the scrape waits in
    // the backlog (without a cap it was answered at once).
    let mut first = [0u8; 1];
    assert!(
        tokio::time::timeout(Duration::from_secs(2), scrape.read(&mut first))
            .await
            .is_err(),
        "answered while every connection slot was taken: no cap"
    );
    let mut answer = Vec::new();
    tokio::time::timeout(
        API_LIMITS.header_read_timeout * 4,
        scrape.read_to_end(&mut answer),
    )
    .await
    .expect("the scrape was never answered")
    .unwrap();

    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(answer.contains("pstn_agent_build_info"), "{answer}");
}
