//! Sources under leases (`[state] postgres_url`): one [`LeaseKeeper`] per replica over
//! every source's unit (its name and tenant); each source is built and read only while
//! this replica holds its unit, every commit fenced by the lease, and stops delivering
//! the moment the lease is lost, to wait for it again. A commit in flight then either
//! lands before the lease moves (the fence holds the lease row until it ends) or is
//! refused; a batch already in a sink's queue may still be written (a repeat, never a
//! loss). `--once` takes each unit's lease (waiting up to `lease_ttl` for it),
//! reads once and gives everything back.

mod holding;

use super::SourceTask;
use crate::config::Config;
use crate::graph::PaceBook;
use crate::lease::{Fence, LeaseKeeper, LeaseSettings, LeaseWatch, Unit};
use crate::metrics::Metrics;
use crate::retry::RetryPolicy;
use crate::shutdown::{Shutdown, shutdown_pair};
use crate::sinks::SinkHandle;
use crate::source::config::Tenancy;
use crate::source::{PageBuffers, PollSummary, RunMode, SourceConfig, SourceContext};
use crate::state::StateStore;
use crate::time::SharedClock;
use holding::{Holding, once_outcome, read_under};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

/// The keeper of this replica's leases when state is in PostgreSQL; `None` with SQLite
/// (one agent per file: nothing to share).
pub(super) fn keeper(
    config: &Config,
    store: &StateStore,
    metrics: &Metrics,
) -> Result<Option<LeaseKeeper>, crate::metrics::MetricsError> {
    let StateStore::Postgres { store, .. } = store else {
        return Ok(None);
    };
    let settings = LeaseSettings {
        replica: config.state.replica_name(),
        ttl: config.state.lease_ttl,
        units: config
            .sources
            .iter()
            .flat_map(|source| {
                source
                    .tenants
                    .iter()
                    .map(|tenant| Unit::new(&source.name, tenant))
            })
            .collect(),
    };
    tracing::info!(replica = %settings.replica, units = settings.units.len(), lease_ttl_s = settings.ttl.as_secs_f64(), "state in PostgreSQL: reading only the units this replica holds the lease of");
    Ok(Some(LeaseKeeper::spawn(
        store.lease_connector(),
        settings,
        metrics.leases()?,
    )))
}

/// What a leased source needs to be built again at each take of its lease: the
/// agent's shared parts, owned (a [`SourceContext`] borrows them).
#[derive(Clone)]
pub(super) struct Shared {
    pub(super) http: reqwest::Client,
    pub(super) paces: Arc<PaceBook>,
    pub(super) store: StateStore,
    pub(super) clock: SharedClock,
    pub(super) shutdown: Shutdown,
    pub(super) metrics: Arc<Metrics>,
    pub(super) retry: RetryPolicy,
    pub(super) mode: RunMode,
    /// The page buffers of the source whose tenants these are (`tenants::sharing_client`
    /// gives each multi-tenant source its own); `None` for a source of one tenant.
    pub(super) buffers: Option<PageBuffers>,
}

impl Shared {
    /// What `source::build` needs: under `fence` for a leased unit (its writes are
    /// fenced), or none for a tenant read without leases.
    pub(super) fn context(&self, fence: Option<Fence>, shutdown: Shutdown) -> SourceContext<'_> {
        SourceContext {
            http: &self.http,
            paces: &self.paces,
            store: &self.store,
            clock: self.clock.clone(),
            shutdown,
            metrics: self.metrics.clone(),
            retry: self.retry,
            mode: self.mode,
            fence,
            buffers: self.buffers.clone(),
        }
    }
}

/// Spawns every source of `config` under its unit's lease (a long run's with a
/// `tenants_file` are `tenants`' to follow on SIGHUP).
pub(super) fn spawn_sources(
    config: &Config,
    keeper: &LeaseKeeper,
    sink_handles: &HashMap<String, SinkHandle>,
    shared: &Shared,
    tasks: &mut tokio::task::JoinSet<SourceTask>,
) {
    let ttl = keeper.settings().ttl;
    let followed = |table: &&SourceConfig| {
        shared.mode == RunMode::Forever && matches!(table.tenancy, Tenancy::File(_))
    };
    for table in config.sources.iter().filter(|table| !followed(table)) {
        // One `ca_file` client for the source, not one per tenant and take of a lease.
        let (table, shared) = &super::tenants::sharing_client(table, shared);
        let sinks: Vec<SinkHandle> = config
            .sinks_of(&table.name)
            .filter_map(|sink| sink_handles.get(&sink.name).cloned())
            .collect();
        for source_config in table.per_tenant() {
            let unit = Unit::new(&source_config.name, &source_config.tenant_id);
            let Some(watch) = keeper.watch(&unit) else {
                tracing::warn!(source = %source_config.name, "the lease keeper has no unit for this source; it is not read");
                continue;
            };
            let leased = Leased {
                config: source_config,
                sinks: sinks.clone(),
                shared: shared.clone(),
                watch,
                ttl,
            };
            tasks.spawn(async move {
                let name = leased.config.metrics_id().component();
                (name, leased.run().await)
            });
        }
    }
}

/// One source and its unit's lease.
pub(super) struct Leased {
    pub(super) config: SourceConfig,
    pub(super) sinks: Vec<SinkHandle>,
    pub(super) shared: Shared,
    pub(super) watch: LeaseWatch,
    pub(super) ttl: Duration,
}

impl Leased {
    /// Reads the source while its unit's lease is held, until shutdown.
    pub(super) async fn run(mut self) -> Result<PollSummary, String> {
        let mut shutdown = self.shared.shutdown.clone();
        loop {
            let fence = tokio::select! {
                biased;
                () = shutdown.triggered() => return Ok(PollSummary::default()),
                fence = self.take() => fence,
            };
            let Some(fence) = fence else {
                return Ok(PollSummary::default());
            };
            tracing::info!(source = %self.config.name, unit = %fence.unit, generation = fence.generation, "lease held: reading the unit from its saved progress");
            let holding = self.hold(&fence).await;
            self.shared
                .metrics
                .source_released(self.config.metrics_id());
            if self.shared.mode == RunMode::Once {
                if matches!(holding, Holding::Drained) {
                    self.watch.give_back(&fence, Duration::ZERO);
                }
                return once_outcome(holding, &fence.unit, self.watch.last_loss());
            }
            match holding {
                Holding::Ended(summary) => return Ok(summary),
                Holding::Failed(error) => self.give_up(&fence, &error),
                Holding::Drained => {
                    tracing::info!(source = %self.config.name, unit = %fence.unit, "lease given back to even out the share, after the batch in flight was committed");
                    self.watch.give_back(&fence, Duration::ZERO);
                }
                Holding::Lost => {
                    tracing::warn!(source = %self.config.name, unit = %fence.unit, "lease lost: stopped delivering the unit; waiting to hold it again");
                }
                Holding::Refused => {
                    // The keeper knows within a lease_ttl whether the lease is still
                    // this replica's (renewed) or not (lost): then read again, or wait.
                    tokio::select! {
                        () = self.watch.lost(&fence) => {}
                        () = tokio::time::sleep(self.ttl) => {}
                        () = shutdown.triggered() => return Ok(PollSummary::default()),
                    }
                    continue;
                }
                Holding::NotBuilt {
                    error,
                    permanent: true,
                } => self.give_up(&fence, &error),
                Holding::NotBuilt { error, .. } => {
                    if !self.retry_build(&fence, &error).await {
                        return Ok(PollSummary::default());
                    }
                    continue;
                }
            }
            // Wait until the keeper says the lease is lost, then to hold it again.
            tokio::select! {
                () = self.watch.lost(&fence) => {}
                () = shutdown.triggered() => return Ok(PollSummary::default()),
            }
        }
    }

    /// Reads the unit under `fence` until the source ends, the lease is lost, or the
    /// keeper wants it back to even out the share: then the source is stopped as at
    /// shutdown, between batches, so the batch in flight is delivered and committed
    /// under the lease, still valid (the keeper takes it back itself after the margin).
    async fn hold(&mut self, fence: &Fence) -> Holding {
        let (stop, stopping) = shutdown_pair();
        let read = read_under(&self.config, &self.sinks, &self.shared, fence, stopping);
        tokio::pin!(read);
        let mut shutdown = self.shared.shutdown.clone();
        let mut draining = self.watch.clone();
        let (mut wanted_back, mut stopped) = (false, false);
        loop {
            tokio::select! {
                // Lost first: a loss also ends "held", which `draining` watches for.
                biased;
                () = self.watch.lost(fence) => return Holding::Lost,
                holding = &mut read => {
                    return match holding {
                        Holding::Ended(_) if wanted_back && !shutdown.is_triggered() => Holding::Drained,
                        holding => holding,
                    };
                }
                () = draining.draining(fence), if !wanted_back => {
                    wanted_back = true;
                    stop.trigger();
                }
                () = shutdown.triggered(), if !stopped => {
                    stopped = true;
                    stop.trigger();
                }
            }
        }
    }

    /// A source that cannot be built now (its state cannot be read: PostgreSQL away)
    /// keeps its lease and tries again after `poll_interval`, said in the log and on
    /// `/readyz` meanwhile; `false` when shutdown came first.
    async fn retry_build(&self, fence: &Fence, error: &str) -> bool {
        tracing::error!(source = %self.config.name, unit = %fence.unit, %error, "cannot start reading the unit: its state cannot be read; trying again after poll_interval");
        self.shared.metrics.source_not_read(
            self.config.metrics_id(),
            "holds its lease but cannot start: its state cannot be read (see the log); tried again every poll_interval".into(),
        );
        let wait = self.shared.clock.real_duration(self.config.poll_interval);
        let mut shutdown = self.shared.shutdown.clone();
        tokio::select! {
            () = tokio::time::sleep(wait) => true,
            () = shutdown.triggered() => false,
        }
    }

    /// A source that stopped on a permanent error (in `Forever`), or cannot be built for
    /// good here, gives its unit back instead of holding it unread: not taken again here for twice `lease_ttl` (at
    /// least a `poll_interval`), and another replica, where it may well work (a sink
    /// or a file of its own), may take it even at its full share meanwhile.
    fn give_up(&self, fence: &Fence, error: &str) {
        let poll = self.shared.clock.real_duration(self.config.poll_interval);
        let hold_off = (self.ttl * 2).max(poll);
        tracing::error!(source = %self.config.name, unit = %fence.unit, %error, hold_off_s = hold_off.as_secs(), "source stopped on a permanent error: its lease is given back so another replica may read the unit; not taken again here before hold_off_s");
        self.shared.metrics.source_not_read(
            self.config.metrics_id(),
            format!(
                "stopped on a permanent error (see the log); its lease is given back and not taken again here for {}s",
                hold_off.as_secs()
            ),
        );
        self.watch.give_back(fence, hold_off);
    }

    /// The next fence to read under; `None` when the keeper stopped or, `--once`, the
    /// lease did not come within `lease_ttl` (another replica holds the unit).
    async fn take(&mut self) -> Option<Fence> {
        if self.shared.mode == RunMode::Forever {
            return self.watch.held().await;
        }
        let taken = tokio::time::timeout(self.ttl, self.watch.held()).await;
        if taken.is_err() {
            tracing::warn!(source = %self.config.name, unit = %self.watch.unit(), "not read: another replica holds the unit's lease");
        }
        taken.ok().flatten()
    }
}
