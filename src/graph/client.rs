//! The HTTP side of one source: pace (Graph's published limits), Retry-After gate,
//! token, retries, paging.

use super::GraphEndpoint;
use super::pace::{Pace, PaceMember};
use super::paging::PageChain;
use super::{GraphError, GraphEvent, GraphEvents, Page, PageError, TokenSource};
use crate::http_client::{BufferPool, Exchange, Step, Throttling};
use crate::model::Timestamp;
use crate::retry::{RetryPolicy, full_jitter};
use backon::Retryable;
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::time::Instant;
use url::Url;
use wire::error_message;

mod wire;

/// The largest page body accepted: Graph's pages of 1,000 rows are about 1.5 MB, so
/// this leaves a tenfold margin while bounding memory to about this much per page in
/// flight (the source's budget of pages ahead, plus the one being delivered).
pub const MAX_BODY_BYTES: usize = 16 * 1024 * 1024;

/// Requests per second to the directory (`/users/delta`, `/users/{id}`): not a PSTN
/// collection, so not under its 50 per minute; Graph's directory limits are far higher.
/// A source paced faster than this reads the directory at its own pace.
const DIRECTORY_REQUESTS_PER_SECOND: f64 = 5.0;

/// Limits of one source's client.
#[derive(Debug, Clone, Copy)]
pub struct GraphClientOptions {
    /// The source's own pace of call-log requests (default: Graph's 50 per collection).
    pub requests_per_minute: f64,
    /// Timeout of one request, body included.
    pub request_timeout: Duration,
    /// Largest body accepted.
    pub max_body_bytes: usize,
    /// Retries.
    pub retry: RetryPolicy,
    /// More pages than this in one window end it as failed (a chain that never ends).
    pub max_pages_per_window: usize,
}

impl Default for GraphClientOptions {
    fn default() -> Self {
        GraphClientOptions {
            requests_per_minute: crate::model::graph_limits::COLLECTION_PER_MINUTE.into(),
            request_timeout: Duration::from_secs(60),
            max_body_bytes: MAX_BODY_BYTES,
            retry: RetryPolicy::default(),
            max_pages_per_window: super::MAX_PAGES_PER_WINDOW,
        }
    }
}

/// Reads pages of one source's call log.
pub struct GraphClient {
    http: reqwest::Client,
    endpoint: GraphEndpoint,
    tokens: TokenSource,
    pace: Pace,
    directory_limiter: DefaultDirectRateLimiter,
    /// This source's own Retry-After gate: every request of the source, directory
    /// included, waits it out (the collection's gate, in `pace`, holds call logs only).
    paused_until: Mutex<Option<Instant>>,
    last_warning: Mutex<Option<Instant>>,
    options: GraphClientOptions,
    events: Arc<dyn GraphEvents>,
    /// Where call-log pages' bodies are read into and given back to (the source's).
    bodies: Option<BufferPool>,
}

impl std::fmt::Debug for GraphClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GraphClient")
            .field("endpoint", &self.endpoint)
            .finish_non_exhaustive()
    }
}

/// What a request reads, which decides what a 403 means (which permission is missing).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Resource {
    /// A call-log function (CallRecords.Read.All).
    CallLog,
    /// `/users/delta` (User.Read.All).
    Directory,
    /// `/users/{id}` (User.Read.All): a 404 is an answer (no such user), not a failure.
    DirectoryUser,
}

impl GraphClient {
    /// A client for one source, paced as if it were alone in its tenant (see
    /// [`GraphClient::with_pace`] for sources that share Graph's limits).
    pub fn new(
        http: reqwest::Client,
        endpoint: GraphEndpoint,
        tokens: TokenSource,
        options: GraphClientOptions,
        events: Arc<dyn GraphEvents>,
    ) -> Self {
        // A source paced faster than the directory's own pace (a load test) reads the
        // directory at its pace too.
        let directory_per_second =
            DIRECTORY_REQUESTS_PER_SECOND.max(options.requests_per_minute / 60.0);
        let period = Duration::from_secs_f64(1.0 / directory_per_second);
        let quota = Quota::with_period(period)
            .unwrap_or_else(|| Quota::per_second(NonZeroU32::MIN))
            .allow_burst(NonZeroU32::MIN);
        let pace = Pace::alone(&PaceMember {
            tenant: &endpoint.tenant_id,
            client_id: "",
            function: endpoint.kind.function(),
            requests_per_minute: options.requests_per_minute,
        });
        GraphClient {
            http,
            endpoint,
            tokens,
            pace,
            directory_limiter: RateLimiter::direct(quota),
            paused_until: Mutex::new(None),
            last_warning: Mutex::new(None),
            events,
            options,
            bodies: None,
        }
    }

    /// Reads call-log pages into buffers of `bodies`, each given back when its page is
    /// dropped (the source's pool, shared by its tenants: issue 28).
    pub fn with_bodies(mut self, bodies: BufferPool) -> Self {
        self.bodies = Some(bodies);
        self
    }

    /// Paces call-log requests with `pace` (from the agent's [`super::PaceBook`],
    /// shared with the other sources of the tenant).
    pub fn with_pace(mut self, pace: Pace) -> Self {
        self.pace = pace;
        self
    }

    /// The endpoint this client reads.
    pub fn endpoint(&self) -> &GraphEndpoint {
        &self.endpoint
    }

    /// Reads the window of start times `[from, to)` page by page.
    pub fn pages(self: &Arc<Self>, from: Timestamp, to: Timestamp) -> PageChain {
        PageChain::new(self.clone(), from, to)
    }

    /// The most pages one window may have.
    pub(super) fn max_pages_per_window(&self) -> usize {
        self.options.max_pages_per_window
    }

    /// Reports one event to whoever built this client.
    pub(super) fn emit(&self, event: GraphEvent) {
        self.events.emit(event);
    }

    /// Fetches one page, retrying transient failures with exponential backoff and full jitter.
    pub(super) async fn get_page(&self, url: &Url) -> Result<Page, GraphError> {
        let page = self.get_parsed(url, Resource::CallLog, Page::parse).await?;
        Ok(match &self.bodies {
            Some(bodies) => page.giving_body_back_to(bodies.clone()),
            None => page,
        })
    }

    /// Fetches `url` and reads its body with `parse`, under the source's rate cap,
    /// Retry-After gate, token and retry policy; a 403 is explained for `resource`.
    pub(super) async fn get_parsed<T>(
        &self,
        url: &Url,
        resource: Resource,
        parse: fn(bytes::Bytes) -> Result<T, PageError>,
    ) -> Result<T, GraphError> {
        (|| self.attempt(url, resource, parse))
            .retry(self.options.retry.backoff())
            .sleep(tokio::time::sleep)
            .when(GraphError::is_transient)
            .adjust(|_, delay| delay.map(full_jitter))
            .notify(|error, delay| {
                self.emit(GraphEvent::Retrying);
                // Fetch chains retry side by side: one warning per source every few
                // seconds says it; the rest go to debug.
                // No token: Entra failed, and no Graph request was sent.
                let what = match error {
                    GraphError::Auth(_) => "Entra ID token request failed; retrying",
                    _ => "Graph request failed; retrying",
                };
                if self.time_to_warn() {
                    tracing::warn!(function = self.endpoint.kind.function(), %error, retry_in = ?delay, "{what}");
                } else {
                    tracing::debug!(function = self.endpoint.kind.function(), %error, retry_in = ?delay, "{what}");
                }
            })
            .await
    }

    /// One request (a 401 refreshes the token once; a 429 waits for Retry-After
    /// within `max_throttle_wait`), without the retry policy.
    pub(super) async fn attempt<T>(
        &self,
        url: &Url,
        resource: Resource,
        parse: fn(bytes::Bytes) -> Result<T, PageError>,
    ) -> Result<T, GraphError> {
        let mut exchange = Exchange::new(Throttling {
            statuses: &[429],
            unannounced: Some(|| full_jitter(Duration::from_secs(10)) + Duration::from_secs(1)),
            longest_wait: Duration::MAX,
            most_waits: usize::MAX,
            within: self.options.retry.max_throttle_wait,
        });
        loop {
            self.wait_out_pause(resource).await;
            match resource {
                Resource::CallLog => self.pace.ready().await,
                Resource::Directory | Resource::DirectoryUser => {
                    self.directory_limiter.until_ready().await
                }
            }
            let token = self.tokens.token().await?;
            // Again, just before sending: another request may have been throttled while
            // this one waited for the rate cap or the token.
            self.wait_out_pause(resource).await;
            let answer = self.send_counted(url, &token, resource).await?;
            match exchange.judge(answer.status, answer.retry_after) {
                Step::Read => return self.read(url, resource, answer, parse),
                Step::RefreshToken => {
                    tracing::info!("Graph answered 401; fetching a new token and trying once more");
                    self.tokens.invalidate(&token).await;
                }
                Step::Unauthorized => {
                    return Err(GraphError::Unauthorized(error_message(&answer.body)));
                }
                Step::Wait(wait) => {
                    tracing::warn!(function = self.endpoint.kind.function(), retry_after = ?wait, "Graph throttled the source (429); holding back all its requests");
                    self.pause_for(resource, wait);
                }
                Step::Throttled(_) => {
                    return Err(GraphError::Throttled(self.options.retry.max_throttle_wait));
                }
            }
        }
    }

    /// Whether a retry warning is due: at most one per source every 10 s.
    fn time_to_warn(&self) -> bool {
        let Ok(mut last) = self.last_warning.lock() else {
            return true;
        };
        let due = last.is_none_or(|at| at.elapsed() >= Duration::from_secs(10));
        if due {
            *last = Some(Instant::now());
        }
        due
    }

    /// Holds back every request of this source until `wait` has passed, and after a
    /// call-log answer every request of that collection too (the other sources reading
    /// that function of that tenant).
    fn pause_for(&self, resource: Resource, wait: Duration) {
        if resource == Resource::CallLog {
            self.pace.pause_for(wait);
        }
        let until = Instant::now() + wait;
        if let Ok(mut paused) = self.paused_until.lock()
            && paused.is_none_or(|current| current < until)
        {
            *paused = Some(until);
        }
    }

    /// Waits out this source's pause, and for a call-log request its collection's.
    async fn wait_out_pause(&self, resource: Resource) {
        if resource == Resource::CallLog {
            self.pace.wait_out_pause().await;
        }
        let until = self.paused_until.lock().ok().and_then(|paused| *paused);
        if let Some(until) = until {
            tokio::time::sleep_until(until).await;
        }
    }
}
