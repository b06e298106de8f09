//! The source as a component of another Rust pipeline: a stream of batches of new
//! Graph rows, each one acknowledged by the embedding program.
//!
//! [`EmbeddedSource`] runs the agent's own source (the same planner, Graph client,
//! deduplication and SQLite state) with one sink: the embedding program. Progress is
//! committed only when a [`Delivery`] is [accepted](Delivery::accept); a batch that is
//! rejected or dropped is offered again, and after a restart on the same `data_dir`
//! every accepted row stays delivered and every other row is offered again.
//!
//! The crate documentation shows a complete program; `examples/embed.rs` runs one
//! against the simulated tenant.

mod delivery;
mod error;

pub use crate::config::{
    AzureLogsIngestionConfig, Config, ConfigError, Credential, DirectoryConfig, Environment,
    OtlpProtocol, OtlpSinkConfig, RedactConfig, Secret, SinkConfig, SinkKind, SourceConfig,
    Tenancy,
};
pub use crate::graph::{AuthError, GraphError, PageError};
pub use crate::http_client::ClientError;
pub use crate::model::{ApiVersion, CountryCode, DirectoryAttribute, LogKind, UserAttributes};
pub use crate::retry::RetryPolicy;
pub use crate::sinks::{Batch, Envelope, EventSpan, SinkError};
pub use crate::source::{BuildError, SourceError};
pub use crate::state::StateError;
pub use crate::time::{Clock, ManualClock, SharedClock, SystemClock, Timestamp};
pub use delivery::{Ack, Delivery, Event};
pub use error::{ConfigTextError, EmbedError, SetupError};

use crate::metrics::Metrics;
use crate::shutdown::{ShutdownTrigger, shutdown_pair};
use crate::sinks::{DeadLetters, SinkHandle, SinkTaskOptions};
use crate::source::{RunMode, SourceContext};
use crate::state::StateStore;
use delivery::{ChannelSink, Offer};
use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

/// How to start an [`EmbeddedSource`]: see [`EmbeddedSource::builder`].
#[derive(Debug, Clone)]
pub struct EmbeddedSourceBuilder {
    config: SourceConfig,
    data_dir: PathBuf,
    clock: SharedClock,
    retry: RetryPolicy,
    mode: RunMode,
}

/// A running source whose batches go to the embedding program. Read it with
/// [`next_batch`](EmbeddedSource::next_batch); dropping it stops the source (what was
/// accepted is committed, nothing else is).
#[derive(Debug)]
pub struct EmbeddedSource {
    name: Arc<str>,
    offers: mpsc::Receiver<Offer>,
    task: Option<JoinHandle<Result<(), SourceError>>>,
    trigger: ShutdownTrigger,
    metrics: Arc<Metrics>,
}

impl EmbeddedSource {
    /// Starts describing a source: `config` is one `[sources.NAME]` table (see
    /// [`Config::parse`] and [`Config::load`]), `data_dir` where its progress is kept.
    pub fn builder(config: SourceConfig, data_dir: impl Into<PathBuf>) -> EmbeddedSourceBuilder {
        EmbeddedSourceBuilder {
            config,
            data_dir: data_dir.into(),
            clock: Arc::new(SystemClock),
            retry: RetryPolicy::default(),
            mode: RunMode::Forever,
        }
    }

    /// The source named `name` of an agent configuration, keeping its progress in the
    /// configuration's `data_dir`.
    pub fn from_config(config: &Config, name: &str) -> Result<EmbeddedSourceBuilder, EmbedError> {
        let source = config
            .sources
            .iter()
            .find(|source| source.name == name)
            .ok_or_else(|| EmbedError::UnknownSource(name.to_owned()))?;
        if source.tenancy.is_multi() {
            return Err(EmbedError::SeveralTenants(name.to_owned()));
        }
        Ok(EmbeddedSource::builder(
            source.clone(),
            config.data_dir.clone(),
        ))
    }

    /// The source `[sources.NAME]` of configuration text in the agent's format (with
    /// `data_dir`); the `[sinks]` tables may be left out, the embedding program is the
    /// sink. Relative paths are taken from `base`; `${VAR}` from `environment`.
    pub fn from_toml(
        text: &str,
        name: &str,
        base: &Path,
        environment: &Environment,
    ) -> Result<EmbeddedSourceBuilder, EmbedError> {
        let mut table: toml::Table = text.parse().map_err(ConfigTextError::Toml)?;
        if !table.contains_key("sinks") {
            // The agent's format asks for a sink; the embedding program stands in for it.
            let mut sink = toml::Table::new();
            sink.insert("type".into(), "console".into());
            sink.insert("inputs".into(), vec![toml::Value::from(name)].into());
            let mut sinks = toml::Table::new();
            sinks.insert("embedding_program".into(), sink.into());
            table.insert("sinks".into(), sinks.into());
        }
        let config = Config::parse(&table.to_string(), base, environment)
            .map_err(|problems| ConfigTextError::Invalid(ConfigError::Invalid(problems)))?;
        EmbeddedSource::from_config(&config, name)
    }

    /// The source's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The source's own metrics in the Prometheus text format, for the embedding
    /// program's `/metrics`: the agent's names (`pstn_calls_total`,
    /// `pstn_graph_requests_total`, `pstn_source_last_success_timestamp_seconds`, ...),
    /// from a registry of this source's own, never a global one.
    pub fn metrics_text(&self) -> String {
        self.metrics.encode()
    }

    /// The next batch of new rows. `None` once the source has ended: after one poll with
    /// [`EmbeddedSourceBuilder::once`], otherwise only after a permanent error, which is
    /// returned first as `Some(Err(..))`.
    ///
    /// Answer each batch before asking for the next: the source waits for the answer.
    pub async fn next_batch(&mut self) -> Option<Result<Delivery, EmbedError>> {
        std::future::poll_fn(|context| {
            futures_core::Stream::poll_next(std::pin::Pin::new(&mut *self), context)
        })
        .await
    }

    /// Stops the source at its next safe point and waits for it: whatever was accepted
    /// is committed, a batch not yet accepted is offered again next time.
    pub async fn stop(mut self) -> Result<(), EmbedError> {
        self.trigger.trigger();
        self.offers.close();
        while let Some(offer) = self.offers.recv().await {
            drop(Delivery::new(offer, self.name.clone()));
        }
        match self.task.take() {
            Some(task) => match task.await {
                Ok(Ok(()) | Err(SourceError::Interrupted)) => Ok(()),
                Ok(Err(error)) => Err(EmbedError::Source(error)),
                Err(error) => Err(EmbedError::Internal(error)),
            },
            None => Ok(()),
        }
    }
}

/// The same batches as [`EmbeddedSource::next_batch`], for programs built on streams
/// (`StreamExt::next`, `select!`, forwarding into a channel): the stream ends where
/// `next_batch` returns `None`.
impl futures_core::Stream for EmbeddedSource {
    type Item = Result<Delivery, EmbedError>;

    fn poll_next(
        self: std::pin::Pin<&mut Self>,
        context: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Self::Item>> {
        use std::task::Poll;
        let this = self.get_mut();
        match this.offers.poll_recv(context) {
            Poll::Ready(Some(offer)) => {
                return Poll::Ready(Some(Ok(Delivery::new(offer, this.name.clone()))));
            }
            Poll::Pending => return Poll::Pending,
            Poll::Ready(None) => {}
        }
        let Some(task) = this.task.as_mut() else {
            return Poll::Ready(None);
        };
        let ended = match std::pin::Pin::new(task).poll(context) {
            Poll::Pending => return Poll::Pending,
            Poll::Ready(ended) => ended,
        };
        this.task = None;
        Poll::Ready(match ended {
            Ok(Ok(())) => None,
            Ok(Err(error)) => Some(Err(EmbedError::Source(error))),
            Err(error) => Some(Err(EmbedError::Internal(error))),
        })
    }
}

impl Drop for EmbeddedSource {
    fn drop(&mut self) {
        self.trigger.trigger();
    }
}

impl EmbeddedSourceBuilder {
    /// Where "now" comes from (default: the system clock).
    pub fn clock(mut self, clock: SharedClock) -> Self {
        self.clock = clock;
        self
    }

    /// How Graph requests are retried, and how soon a rejected batch is offered again
    /// (default: 1 s doubling up to 60 s, with jitter).
    pub fn retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    /// Poll once (everything due now: the first time, the `lookback` backfill), then
    /// end the stream. A rejected batch is then offered again only until the source's
    /// `retry_max_duration`, after which the stream ends with the error.
    pub fn once(mut self) -> Self {
        self.mode = RunMode::Once;
        self
    }

    /// Opens the source's state, builds its Graph client and starts polling.
    /// Must be called within a tokio runtime.
    pub async fn start(self) -> Result<EmbeddedSource, EmbedError> {
        let EmbeddedSourceBuilder {
            config,
            data_dir,
            clock,
            retry,
            mode,
        } = self;
        let metrics = Metrics::new().map_err(SetupError::Metrics)?;
        let http = crate::http_client::client().map_err(SetupError::Client)?;
        let paces = crate::graph::PaceBook::new([crate::source::pace_member(&config)]);
        let store = StateStore::open(&data_dir).map_err(SetupError::State)?;
        let name: Arc<str> = config.name.as_str().into();
        // The embedding program is the source's one sink, at the end of a channel.
        let (sender, offers) = mpsc::channel(1);
        let sink = ChannelSink {
            name: name.clone(),
            offers: sender,
        };
        let options = SinkTaskOptions {
            telemetry: metrics.sink(&name),
            dead_letters: DeadLetters::new(&data_dir, &name, metrics.dead_letters(&name)),
            retry_max_duration: config.retry_max_duration,
        };
        let (handle, _sink_task) = SinkHandle::spawn(&name, Box::new(sink), options);
        let (trigger, shutdown) = shutdown_pair();
        let cx = SourceContext {
            http: &http,
            paces: &paces,
            store: &store,
            clock,
            shutdown,
            metrics: metrics.clone(),
            retry,
            mode,
            fence: None,
            buffers: None,
        };
        let source = crate::source::build(&config, vec![handle], &cx)
            .await
            .map_err(EmbedError::from_build)?;
        let task = tokio::spawn(async move { source.run().await.map(|_| ()) });
        Ok(EmbeddedSource {
            name,
            offers,
            task: Some(task),
            trigger,
            metrics,
        })
    }
}
