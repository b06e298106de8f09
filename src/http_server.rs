//! A minimal HTTP/1.1 server loop on hyper, shared by the API listener and the simulator
//! (whose HTTPS lives with it, in `simulate`).

use bytes::Bytes;
use http_body_util::BodyExt;
use http_body_util::combinators::BoxBody;
use std::time::Duration;
#[cfg(any(test, feature = "__internals", feature = "simulator"))]
use {
    hyper::Request, hyper::Response, hyper::body::Incoming, hyper_util::rt::TokioIo,
    std::future::Future, std::sync::Arc, tokio::net::TcpListener,
};

mod limited;
pub use limited::{ServeLimits, serve_limited};

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
