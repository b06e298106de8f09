//! A minimal HTTP/1.1 server loop on hyper, shared by the API listener and the simulator
//! (whose HTTPS lives with it, in `simulate`).

use bytes::Bytes;
use http_body_util::BodyExt;
use http_body_util::combinators::BoxBody;
use hyper::body::Incoming;
use hyper::{Request, Response};
use hyper_util::rt::{TokioIo, TokioTimer};
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

/// A response body: whole, or (for fault injection) one that breaks off.
pub type Body = BoxBody<Bytes, std::io::Error>;

/// A whole body.
pub fn full(bytes: impl Into<Bytes>) -> Body {
    http_body_util::Full::new(bytes.into())
        .map_err(|never| match never {})
        .boxed()
}

#[cfg(any(test, feature = "__internals", feature = "simulator"))]
/// Serves connections until the task is dropped; each request goes to `handler`.
/// Without limits: for the simulator, which load tests drive hard on loopback.
pub async fn serve<H, F>(listener: TcpListener, handler: Arc<H>)
where
    H: Fn(Request<Incoming>) -> F + Send + Sync + 'static,
    F: Future<Output = Response<Body>> + Send + 'static,
{
    loop {
        match listener.accept().await {
            Ok((stream, _)) => {
                tokio::spawn(serve_connection(stream, handler.clone()));
            }
            Err(_) => tokio::time::sleep(ACCEPT_ERROR_PAUSE).await,
        }
    }
}

/// After a failed accept (no file descriptors left, say), wait this long before the
/// next: retrying at once spins a core and starves everything else of descriptors.
const ACCEPT_ERROR_PAUSE: Duration = Duration::from_millis(250);

/// What one listener allows its clients, so that idle or slow clients can't hold it.
#[derive(Debug, Clone, Copy)]
pub struct ServeLimits {
    /// Connections open at once; further clients wait in the kernel's backlog.
    pub max_connections: usize,
    /// How long a client may take to send a request's headers (or to send the next
    /// request on a kept-alive connection).
    pub header_read_timeout: Duration,
    /// How long one connection may stay open at all.
    pub connection_lifetime: Duration,
}

/// Like [`serve`], within `limits`: the agent's own `/metrics` listener.
pub async fn serve_limited<H, F>(listener: TcpListener, handler: Arc<H>, limits: ServeLimits)
where
    H: Fn(Request<Incoming>) -> F + Send + Sync + 'static,
    F: Future<Output = Response<Body>> + Send + 'static,
{
    let slots = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    loop {
        let Ok(slot) = slots.clone().acquire_owned().await else {
            return;
        };
        let stream = match listener.accept().await {
            Ok((stream, _)) => stream,
            Err(error) => {
                tracing::warn!(%error, "the API listener cannot accept a connection; pausing");
                tokio::time::sleep(ACCEPT_ERROR_PAUSE).await;
                continue;
            }
        };
        let handler = handler.clone();
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |request| {
                let response = handler(request);
                async move { Ok::<_, std::convert::Infallible>(response.await) }
            });
            let connection = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(limits.header_read_timeout)
                .serve_connection(TokioIo::new(stream), service);
            let _ = tokio::time::timeout(limits.connection_lifetime, connection).await;
            drop(slot);
        });
    }
}

#[cfg(any(test, feature = "__internals", feature = "simulator"))]
/// Serves HTTP/1.1 on one accepted connection (plain TCP, or a TLS stream the caller
/// has set up) until the client closes it.
pub async fn serve_connection<I, H, F>(io: I, handler: Arc<H>)
where
    I: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
    H: Fn(Request<Incoming>) -> F + Send + Sync + 'static,
    F: Future<Output = Response<Body>> + Send + 'static,
{
    let service = hyper::service::service_fn(move |request| {
        let response = handler(request);
        async move { Ok::<_, std::convert::Infallible>(response.await) }
    });
    let _ = hyper::server::conn::http1::Builder::new()
        .serve_connection(TokioIo::new(io), service)
        .await;
}
