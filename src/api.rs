//! The HTTP listener: `/metrics` for Prometheus, `/healthz` (alive), `/readyz` (every
//! source progressing and no sink failing, with a JSON body saying what is not).
//! Scrapes read atomics and never wait for polling; the text is written on a
//! thread of its own ([`scrape`]).

mod probe;
mod scrape;

pub use probe::{Probe, probe};
#[cfg(any(test, feature = "__internals"))]
pub use probe::{ProbeError, loopback_for};

pub use crate::http_server::ServeLimits;
use crate::http_server::{Body, full, serve_limited};
use crate::metrics::Metrics;
use hyper::{Request, Response, StatusCode, header};
use scrape::Scraper;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::net::TcpListener;

/// What the listener allows: Prometheus and a few health checks need a handful of
/// connections, but hundreds of idle or half-sent ones must not keep them out. An
/// idle connection costs a socket and a small task; one that sends no complete
/// request within 5 s is closed; past 256 open connections the oldest is closed for
/// each new one, which gets one request (`Connection: close`) within 1 s.
pub const API_LIMITS: ServeLimits = ServeLimits {
    max_connections: 512,
    crowded_at: 256,
    header_read_timeout: std::time::Duration::from_secs(5),
    crowded_header_read_timeout: std::time::Duration::from_secs(1),
    connection_lifetime: std::time::Duration::from_secs(60),
    closing_grace: std::time::Duration::from_millis(250),
};

/// A bound listener, so that a busy port fails at start-up, not later.
#[derive(Debug)]
pub struct ApiListener {
    listener: TcpListener,
    limits: ServeLimits,
}

impl ApiListener {
    /// Binds `address`.
    pub async fn bind(address: SocketAddr) -> std::io::Result<ApiListener> {
        Ok(ApiListener {
            listener: TcpListener::bind(address).await?,
            limits: API_LIMITS,
        })
    }

    #[cfg(any(test, feature = "__internals"))]
    /// Other limits than [`API_LIMITS`]: tests crowd a small listener.
    pub fn with_limits(mut self, limits: ServeLimits) -> ApiListener {
        self.limits = limits;
        self
    }

    /// The address actually bound (port 0 picks one).
    pub fn local_address(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Serves until the task is dropped or aborted.
    pub fn spawn(self, metrics: Arc<Metrics>) -> tokio::task::JoinHandle<()> {
        let scraper = {
            let metrics = metrics.clone();
            Scraper::start(move || metrics.encode())
        };
        let handler = Arc::new(move |request: Request<hyper::body::Incoming>| {
            let (metrics, scraper) = (metrics.clone(), scraper.clone());
            let path = request.uri().path().to_owned();
            async move { respond(&metrics, &scraper, &path).await }
        });
        tokio::spawn(serve_limited(self.listener, handler, self.limits))
    }
}

fn with_type(status: StatusCode, content_type: &'static str, body: String) -> Response<Body> {
    let mut response = Response::new(full(body));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static(content_type),
    );
    response
}

async fn respond(metrics: &Metrics, scraper: &Scraper, path: &str) -> Response<Body> {
    match path {
        "/metrics" => serve_metrics(scraper).await,
        "/healthz" => with_type(StatusCode::OK, "text/plain; charset=utf-8", "ok\n".into()),
        "/readyz" => {
            let report = metrics.readiness();
            let status = if report.is_ready() {
                StatusCode::OK
            } else {
                StatusCode::SERVICE_UNAVAILABLE
            };
            with_type(status, "application/json", report.to_json())
        }
        _ => with_type(
            StatusCode::NOT_FOUND,
            "text/plain; charset=utf-8",
            "not found: try /metrics, /healthz or /readyz\n".into(),
        ),
    }
}

/// The text of every metric, from the scrape thread.
async fn serve_metrics(scraper: &Scraper) -> Response<Body> {
    match scraper.text().await {
        Ok(text) => with_type(
            StatusCode::OK,
            "text/plain; version=0.0.4; charset=utf-8",
            text,
        ),
        Err(scrape::ScrapeFailed) => with_type(
            StatusCode::INTERNAL_SERVER_ERROR,
            "text/plain; charset=utf-8",
            "the metrics could not be encoded; the agent's log says why\n".into(),
        ),
    }
}
