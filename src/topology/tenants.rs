//! Sources with several tenants (`tenants`, `tenants_file`), state in SQLite: each
//! tenant is built by `source::build` as a source of its own (its token, state, pace
//! and windows) and runs in a task of its own, its first poll staggered a little so a
//! thousand tenants do not sign in at one instant. A tenant that fails (sign-in
//! refused, permission missing) holds up no other: `--once` reports it and exits 1
//! after the others finish; a long run tries it again with backoff. On SIGHUP a
//! `tenants_file` is re-read: added tenants start, removed ones stop (their state
//! kept); a file that no longer reads is logged and the running set kept. With state
//! in PostgreSQL a long run follows its `tenants_file` the same way, each tenant read
//! under its unit's lease: the keeper's units change with the file.

use super::SourceTask;
use super::leased::{self, Shared};
use crate::config::Config;
use crate::lease::{LeaseKeeper, LeaseUnits, Unit};
use crate::shutdown::{ShutdownTrigger, shutdown_pair};
use crate::sinks::{ReopenSignal, SinkHandle};
use crate::source::config::{Tenancy, reread_tenants_file};
use crate::source::{PageBuffers, PollSummary, RunMode, SourceConfig};
use std::collections::HashMap;
use std::time::Duration;

/// The longest two tenants' first polls are apart: 1,000 tenants start within 20 s.
const STAGGER: Duration = Duration::from_millis(20);

/// The longest a failing tenant waits before it is tried again (a long run).
const MAX_BACKOFF: Duration = Duration::from_secs(3600);

/// Spawns every tenant of every source of `config` that has several: `--once` one
/// task per tenant; a long run one task per source, which runs its tenants and
/// follows its `tenants_file` on SIGHUP.
pub(super) fn spawn(
    config: &Config,
    sink_handles: &HashMap<String, SinkHandle>,
    shared: &Shared,
    reopen: &ReopenSignal,
    tasks: &mut tokio::task::JoinSet<SourceTask>,
) {
    for table in config.sources.iter().filter(|s| s.tenancy.is_multi()) {
        let (table, shared) = &sharing_client(table, shared);
        let sinks: Vec<SinkHandle> = config
            .sinks_of(&table.name)
            .filter_map(|sink| sink_handles.get(&sink.name).cloned())
            .collect();
        if shared.mode == RunMode::Once {
            let count = table.tenants.len();
            for (index, tenant) in table.per_tenant().enumerate() {
                let name = tenant.metrics_id().component();
                let delay = stagger(&tenant, shared, index, count);
                let (sinks, shared) = (sinks.clone(), shared.clone());
                tasks.spawn(async move { (name, run_tenant(tenant, sinks, shared, delay).await) });
            }
            continue;
        }
        let set = TenantSet {
            table: table.clone(),
            sinks,
            shared: shared.clone(),
            running: HashMap::new(),
            leases: None,
        };
        let (name, reopen) = (table.name.clone(), reopen.clone());
        tasks.spawn(async move { (name, set.supervise(reopen).await) });
    }
}

/// With state in PostgreSQL, a long run: one task per source with a `tenants_file`,
/// which runs each of its tenants under its unit's lease and, on SIGHUP, gives the
/// keeper the units added and removed.
pub(super) fn follow_leased(
    config: &Config,
    keeper: &LeaseKeeper,
    sink_handles: &HashMap<String, SinkHandle>,
    shared: &Shared,
    reopen: &ReopenSignal,
    tasks: &mut tokio::task::JoinSet<SourceTask>,
) {
    let files = config
        .sources
        .iter()
        .filter(|s| matches!(s.tenancy, Tenancy::File(_)));
    for table in files {
        let (table, shared) = &sharing_client(table, shared);
        let set = TenantSet {
            table: table.clone(),
            sinks: config
                .sinks_of(&table.name)
                .filter_map(|sink| sink_handles.get(&sink.name).cloned())
                .collect(),
            shared: shared.clone(),
            running: HashMap::new(),
            leases: Some(keeper.units()),
        };
        let (name, reopen) = (table.name.clone(), reopen.clone());
        tasks.spawn(async move { (name, set.supervise(reopen).await) });
    }
}

/// The source's table and what its tenants share: the source's page buffers (one set
/// for all its tenants, issue 28) and, with a `ca_file`, one HTTP client built for the
/// source rather than one per tenant (each holds its root store and TLS
/// configuration), its tenants then built without a `ca_file` of their own. When it
/// cannot be built each tenant tries and reports the error itself, as a source would.
pub(super) fn sharing_client(table: &SourceConfig, shared: &Shared) -> (SourceConfig, Shared) {
    let shared = Shared {
        buffers: Some(PageBuffers::default()),
        ..shared.clone()
    };
    let Some(ca_file) = &table.ca_file else {
        return (table.clone(), shared);
    };
    match crate::http_client::client_trusting(Some(ca_file)) {
        Ok(http) => (
            SourceConfig {
                ca_file: None,
                ..table.clone()
            },
            Shared { http, ..shared },
        ),
        Err(_) => (table.clone(), shared),
    }
}

/// How long tenant `index` of `count` waits before its first poll.
fn stagger(tenant: &SourceConfig, shared: &Shared, index: usize, count: usize) -> Duration {
    let poll = shared.clock.real_duration(tenant.poll_interval);
    let step = STAGGER.min(poll / u32::try_from(count.max(1)).unwrap_or(u32::MAX));
    step * u32::try_from(index).unwrap_or(u32::MAX)
}

/// One tenant as a source of its own, built afresh after each failure: `Once` returns
/// its poll's outcome; `Forever` runs until its shutdown, trying a failed tenant again
/// after a backoff (a poll interval, doubling up to an hour).
async fn run_tenant(
    tenant: SourceConfig,
    sinks: Vec<SinkHandle>,
    shared: Shared,
    delay: Duration,
) -> Result<PollSummary, String> {
    let mut shutdown = shared.shutdown.clone();
    let poll = shared.clock.real_duration(tenant.poll_interval);
    let mut backoff = poll;
    let mut wait = delay;
    loop {
        tokio::select! {
            () = tokio::time::sleep(wait) => {}
            () = shutdown.triggered() => return Ok(PollSummary::default()),
        }
        // Boxed, and in a statement of its own: the build's state and the context
        // it borrows are gone before the source runs, so a tenant's task between
        // polls holds the source and no more.
        let built = Box::pin(crate::source::build(
            &tenant,
            sinks.clone(),
            &shared.context(None, shared.shutdown.clone()),
        ))
        .await;
        let error = match built {
            Ok(source) => match source.run().await {
                Ok(summary) => return Ok(summary),
                Err(error) => error.to_string(),
            },
            Err(error) => error.to_string(),
        };
        let id = tenant.metrics_id();
        if shared.mode == RunMode::Once {
            tracing::error!(source = %id.name, tenant = %id.tenant, %error, "tenant failed; the other tenants go on");
            return Err(error);
        }
        tracing::error!(source = %id.name, tenant = %id.tenant, %error, retry_in_s = backoff.as_secs(), "tenant stopped; trying it again later while the other tenants deliver");
        wait = backoff;
        backoff = (backoff * 2).min(MAX_BACKOFF.max(poll));
    }
}

/// The tenants of one source in a long run, each in its own task, stoppable alone.
struct TenantSet {
    /// The source's table; its `tenants` as running now.
    table: SourceConfig,
    sinks: Vec<SinkHandle>,
    shared: Shared,
    /// By tenant, lower-cased (a domain's case does not make it another tenant).
    running: HashMap<String, Running>,
    /// With state in PostgreSQL: the keeper's units, each tenant read under its lease.
    leases: Option<LeaseUnits>,
}

/// A running tenant: as it was written when started (its unit and labels), what
/// stops it, and its task.
struct Running {
    tenant: String,
    stop: ShutdownTrigger,
    task: tokio::task::JoinHandle<Result<PollSummary, String>>,
}

impl TenantSet {
    /// Runs the tenants until shutdown, re-reading `tenants_file` on each SIGHUP.
    async fn supervise(mut self, reopen: ReopenSignal) -> Result<PollSummary, String> {
        let tenants: Vec<String> = self.table.tenants.to_vec();
        let count = tenants.len();
        for (index, tenant) in tenants.iter().enumerate() {
            self.start(tenant, index, count);
        }
        let mut shutdown = self.shared.shutdown.clone();
        let mut seen = reopen.generation();
        loop {
            tokio::select! {
                () = shutdown.triggered() => break,
                () = reopen.next(&mut seen) => self.reload().await,
            }
        }
        let running: Vec<Running> = self.running.drain().map(|(_, r)| r).collect();
        for tenant in &running {
            tenant.stop.trigger();
        }
        for tenant in running {
            let _ = tenant.task.await;
        }
        Ok(PollSummary::default())
    }

    /// Starts `tenant`, the `index`th of `count` starting together.
    fn start(&mut self, tenant: &str, index: usize, count: usize) {
        let config = self.table.for_tenant(tenant);
        let (stop, shutdown) = shutdown_pair();
        let shared = Shared {
            shutdown,
            ..self.shared.clone()
        };
        let delay = stagger(&config, &self.shared, index, count);
        let sinks = self.sinks.clone();
        let task = match &self.leases {
            None => tokio::spawn(run_tenant(config, sinks, shared, delay)),
            Some(units) => {
                let Some(watch) = units.watch(&Unit::new(&config.name, tenant)) else {
                    tracing::warn!(source = %config.name, %tenant, "the lease keeper has no unit for this tenant; it is not read");
                    return;
                };
                let ttl = units.ttl();
                let leased = leased::Leased {
                    config,
                    sinks,
                    shared,
                    watch,
                    ttl,
                };
                tokio::spawn(leased.run())
            }
        };
        let running = Running {
            tenant: tenant.to_owned(),
            stop,
            task,
        };
        self.running.insert(tenant.to_ascii_lowercase(), running);
    }

    /// Re-reads `tenants_file`: starts the tenants it gained, stops those it lost
    /// (each ends after its batch in flight; its state stays for a later return).
    async fn reload(&mut self) {
        let Tenancy::File(path) = &self.table.tenancy else {
            return;
        };
        let key = format!("sources.{}.tenants_file", self.table.name);
        let tenants = match reread_tenants_file(&key, path) {
            Ok(tenants) => tenants,
            Err(problems) => {
                for problem in problems {
                    tracing::error!(%problem, "SIGHUP: tenants_file not applied; the running tenants go on");
                }
                return;
            }
        };
        let wanted: HashMap<String, &String> = tenants
            .iter()
            .map(|tenant| (tenant.to_ascii_lowercase(), tenant))
            .collect();
        let gone: Vec<String> = self
            .running
            .keys()
            .filter(|tenant| !wanted.contains_key(*tenant))
            .cloned()
            .collect();
        let added: Vec<&String> = tenants
            .iter()
            .filter(|tenant| !self.running.contains_key(&tenant.to_ascii_lowercase()))
            .collect();
        tracing::info!(source = %self.table.name, tenants = tenants.len(), added = added.len(), removed = gone.len(), "SIGHUP: tenants_file re-read");
        let stopped = self.stop(&gone).await;
        if let Some(units) = &self.leases {
            // The removed tenants stopped: their leases (under the spelling they were
            // started with) are given back, not taken again.
            let unit = |tenant: &String| Unit::new(&self.table.name, tenant);
            units
                .change(
                    added.iter().copied().map(unit).collect(),
                    stopped.iter().map(unit).collect(),
                )
                .await;
        }
        // Before the added tenants start: each takes its page cache share of the new list.
        self.table.tenants = tenants.as_slice().into();
        for (index, tenant) in added.iter().enumerate() {
            tracing::info!(source = %self.table.name, tenant = %tenant, "tenant added: reading it from its saved progress (or lookback)");
            self.start(tenant, index, added.len());
        }
    }

    /// Stops `tenants` (lower-cased) and waits for each to end; `/readyz` and the
    /// progress gauges forget them. Returns them as they were started.
    async fn stop(&mut self, tenants: &[String]) -> Vec<String> {
        let mut stopped = Vec::new();
        for key in tenants {
            let Some(running) = self.running.remove(key) else {
                continue;
            };
            running.stop.trigger();
            let _ = running.task.await;
            let config = self.table.for_tenant(&running.tenant);
            self.shared.metrics.source_released(config.metrics_id());
            tracing::info!(source = %self.table.name, tenant = %running.tenant, "tenant removed: stopped (its state is kept)");
            stopped.push(running.tenant);
        }
        stopped
    }
}
