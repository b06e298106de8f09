//! Sources under leases (`[state] postgres_url`): one [`LeaseKeeper`] per replica over
//! every source's unit (its name and tenant); each source is built and read only while
//! this replica holds its unit, every commit fenced by the lease, and stops delivering
//! the moment the lease is lost, to wait for it again. A commit in flight then either
//! lands before the lease moves (the fence holds the lease row until it ends) or is
//! refused; a batch already in a sink's queue may still be written (a repeat, never a
//! loss). `--once` takes each unit's lease (waiting up to `lease_ttl` for it),
//! reads once and gives everything back.

use super::SourceTask;
use crate::config::Config;
use crate::graph::PaceBook;
use crate::lease::{Fence, LeaseKeeper, LeaseSettings, LeaseWatch, Unit};
use crate::metrics::Metrics;
use crate::retry::RetryPolicy;
use crate::shutdown::Shutdown;
use crate::sinks::SinkHandle;
use crate::source::{PollSummary, RunMode, SourceConfig, SourceContext};
use crate::state::StateStore;
use crate::time::SharedClock;
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
            .map(|source| Unit::new(&source.name, &source.tenant_id))
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
}

impl Shared {
    fn context(&self, fence: Fence) -> SourceContext<'_> {
        SourceContext {
            http: &self.http,
            paces: &self.paces,
            store: &self.store,
            clock: self.clock.clone(),
            shutdown: self.shutdown.clone(),
            metrics: self.metrics.clone(),
            retry: self.retry,
            mode: self.mode,
            fence: Some(fence),
        }
    }
}

/// Spawns every source of `config` under its unit's lease.
pub(super) fn spawn_sources(
    config: &Config,
    keeper: &LeaseKeeper,
    sink_handles: &HashMap<String, SinkHandle>,
    shared: &Shared,
    tasks: &mut tokio::task::JoinSet<SourceTask>,
) {
    let ttl = keeper.settings().ttl;
    for source_config in &config.sources {
        let sinks: Vec<SinkHandle> = config
            .sinks_of(&source_config.name)
            .filter_map(|sink| sink_handles.get(&sink.name).cloned())
            .collect();
        let unit = Unit::new(&source_config.name, &source_config.tenant_id);
        let Some(watch) = keeper.watch(&unit) else {
            tracing::warn!(source = %source_config.name, "the lease keeper has no unit for this source; it is not read");
            continue;
        };
        let leased = Leased {
            config: source_config.clone(),
            sinks,
            shared: shared.clone(),
            watch,
            ttl,
        };
        tasks.spawn(async move {
            let name = leased.config.name.clone();
            (name, leased.run().await)
        });
    }
}

/// One source and its unit's lease.
struct Leased {
    config: SourceConfig,
    sinks: Vec<SinkHandle>,
    shared: Shared,
    watch: LeaseWatch,
    ttl: Duration,
}

/// How one holding of the lease ended.
enum Holding {
    /// The source ended as its mode asks (one poll done, or shutdown).
    Ended(PollSummary),
    /// The lease went (lost, given back, taken over), as the keeper says.
    Lost,
    /// A write was refused by the fence: the lease moved on or ran out (a fence that
    /// PostgreSQL could not check is a failed poll like any other, `FenceUnchecked`).
    Refused,
    /// The source could not be built this time (state unreachable, a credential).
    NotBuilt(String),
    /// The source stopped on an error (a permanent one, or `--once`'s poll failed).
    Failed(String),
}

impl Leased {
    async fn run(mut self) -> Result<PollSummary, String> {
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
            let holding = tokio::select! {
                () = self.watch.lost(&fence) => Holding::Lost,
                holding = read_under(&self.config, &self.sinks, &self.shared, fence.clone()) => holding,
            };
            self.shared.metrics.source_released(&self.config.name);
            let once = self.shared.mode == RunMode::Once;
            match holding {
                Holding::Ended(summary) => return Ok(summary),
                Holding::Failed(error) => return Err(error),
                Holding::Refused if once => {
                    return Err(format!(
                        "the lease on {} moved on to another replica during the read: nothing more of it was committed here",
                        fence.unit
                    ));
                }
                Holding::Lost if once => {
                    return Err(format!(
                        "the lease on {} was lost during the read (the keeper's warning above says whether it moved on or could not be renewed in time, e.g. PostgreSQL unreachable): nothing more of it was committed here",
                        fence.unit
                    ));
                }
                Holding::NotBuilt(error) if once => return Err(error),
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
                Holding::NotBuilt(error) => {
                    tracing::error!(source = %self.config.name, %error, "cannot start reading the unit; trying again after poll_interval");
                    let wait = self.shared.clock.real_duration(self.config.poll_interval);
                    tokio::select! {
                        () = tokio::time::sleep(wait) => {}
                        () = shutdown.triggered() => return Ok(PollSummary::default()),
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

/// Builds the source afresh (its cursors as committed, by whichever replica) and runs
/// it under `fence`.
async fn read_under(
    config: &SourceConfig,
    sinks: &[SinkHandle],
    shared: &Shared,
    fence: Fence,
) -> Holding {
    let source = match crate::source::build(config, sinks.to_vec(), &shared.context(fence)).await {
        Ok(source) => source,
        Err(error) => return Holding::NotBuilt(error.to_string()),
    };
    match source.run().await {
        Ok(summary) => Holding::Ended(summary),
        Err(error) if error.is_fenced() => Holding::Refused,
        Err(error) => Holding::Failed(error.to_string()),
    }
}
