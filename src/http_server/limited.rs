//! The agent's own listener (`/metrics`, `/healthz`, `/readyz`): idle, slow or crowding
//! clients cost little and never keep a new request out. A connection waiting for a
//! request is cut off quickly; once the listener is crowded, new connections get one
//! request (`Connection: close`) and a shorter wait, and each one accepted asks the
//! oldest open connection to close, so a scrape is answered at once however many
//! clients sit idle or half-sent.

use super::{ACCEPT_ERROR_PAUSE, Body};
use hyper::body::Incoming;
use hyper::{Request, Response};
use hyper_util::rt::{TokioIo, TokioTimer};
use std::collections::BTreeMap;
use std::future::Future;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore};

/// What one listener allows its clients, so that idle or slow clients can't hold it.
#[derive(Debug, Clone, Copy)]
pub struct ServeLimits {
    /// Connections open at once, those asked to close included; past it further
    /// clients wait in the kernel's backlog (only reached when a flood of clients
    /// arrives faster than closing connections finish).
    pub max_connections: usize,
    /// From this many open connections (not yet asked to close) on, the listener is
    /// crowded: each new connection asks the oldest to close and is itself served
    /// one request with `Connection: close` within `crowded_header_read_timeout`.
    pub crowded_at: usize,
    /// How long a connection may wait for a request's headers to be complete. Hyper
    /// starts this timer whenever a connection waits for a request, so it is also the
    /// idle keep-alive timeout: a kept-alive connection with no next request by then
    /// is closed and frees its slot.
    pub header_read_timeout: Duration,
    /// The same for a connection accepted while the listener is crowded.
    pub crowded_header_read_timeout: Duration,
    /// How long one connection may stay open at all; then it finishes the response in
    /// flight (within `closing_grace`) and closes.
    pub connection_lifetime: Duration,
    /// How long a connection asked to close may take to finish the response it is
    /// writing (one idle or half-sent closes at once or at this deadline).
    pub closing_grace: Duration,
}

/// Open connections not yet asked to close, oldest first, each with its close signal.
#[derive(Default)]
struct Open {
    next_id: u64,
    connections: BTreeMap<u64, Arc<Notify>>,
}

/// The listener's book of open connections, shared with their tasks.
#[derive(Default)]
struct Registry(Mutex<Open>);

impl Registry {
    fn lock(&self) -> std::sync::MutexGuard<'_, Open> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Enters a new connection; whether the listener was crowded before it.
    fn add(&self, crowded_at: usize) -> (u64, Arc<Notify>, bool) {
        let mut open = self.lock();
        let crowded = open.connections.len() >= crowded_at;
        if crowded && let Some((_, oldest)) = open.connections.pop_first() {
            oldest.notify_one();
        }
        let id = open.next_id;
        open.next_id += 1;
        let close = Arc::new(Notify::new());
        open.connections.insert(id, close.clone());
        (id, close, crowded)
    }

    fn remove(&self, id: u64) {
        self.lock().connections.remove(&id);
    }
}

/// Serves the agent's own endpoints within `limits` until the task is dropped.
pub async fn serve_limited<H, F>(listener: TcpListener, handler: Arc<H>, limits: ServeLimits)
where
    H: Fn(Request<Incoming>) -> F + Send + Sync + 'static,
    F: Future<Output = Response<Body>> + Send + 'static,
{
    let slots = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let registry = Arc::new(Registry::default());
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
        let (id, close, crowded) = registry.add(limits.crowded_at.max(1));
        let entry = Entry {
            registry: registry.clone(),
            id,
            _slot: slot,
        };
        let handler = handler.clone();
        tokio::spawn(async move {
            serve_one(stream, handler, limits, crowded, close).await;
            drop(entry);
        });
    }
}

/// A connection's place in the registry and its slot, given back when its task ends
/// (however it ends).
struct Entry {
    registry: Arc<Registry>,
    id: u64,
    _slot: OwnedSemaphorePermit,
}

impl Drop for Entry {
    fn drop(&mut self) {
        self.registry.remove(self.id);
    }
}

/// One connection, from its first byte until it closes, is cut off or asked to close.
async fn serve_one<H, F>(
    stream: TcpStream,
    handler: Arc<H>,
    limits: ServeLimits,
    crowded: bool,
    close: Arc<Notify>,
) where
    H: Fn(Request<Incoming>) -> F + Send + Sync + 'static,
    F: Future<Output = Response<Body>> + Send + 'static,
{
    let service = hyper::service::service_fn(move |request| {
        let response = handler(request);
        async move { Ok::<_, std::convert::Infallible>(response.await) }
    });
    let header_read_timeout = if crowded {
        limits.crowded_header_read_timeout
    } else {
        limits.header_read_timeout
    };
    let connection = hyper::server::conn::http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(header_read_timeout)
        .keep_alive(!crowded)
        .serve_connection(TokioIo::new(stream), service);
    let mut connection = std::pin::pin!(connection);
    tokio::select! {
        _ = connection.as_mut() => return,
        () = tokio::time::sleep(limits.connection_lifetime) => {}
        () = close.notified() => {}
    }
    // Idle (or not yet sent a byte): closes at once; a response in flight is finished
    // with `Connection: close`; a request half-sent is cut at the grace's end.
    connection.as_mut().graceful_shutdown();
    let _ = tokio::time::timeout(limits.closing_grace, connection).await;
}
