//! The keeper: one task per replica running rounds every `lease_ttl / 4` (heartbeat,
//! renew, take up to the even share, give back above it) while it marks lost, on this
//! machine's monotonic clock, every lease whose renewal has not come through a margin
//! (`lease_ttl / 4`) before PostgreSQL would let it run out.

use super::held::Held;
use super::session::{Claim, RoundError, Session};
use super::timing::{fire_until, guarded};
use super::units::{Change, LeaseUnits, Watches};
use super::watch::{LossCause, Release};
use super::{LeaseWatch, Unit};
use crate::metrics::LeaseMetrics;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tokio_postgres::Client;
use tokio_postgres::tls::{MakeTlsConnect, TlsConnect};

/// Opens a session with PostgreSQL (its connection driven by a task of its own): state's
/// connector (TLS as the URL asks) in the agent, a plain one in tests.
pub type Connect = Arc<
    dyn Fn() -> Pin<Box<dyn Future<Output = Result<Client, tokio_postgres::Error>> + Send>>
        + Send
        + Sync,
>;

/// A [`Connect`] from a parsed URL and a TLS connector (`NoTls`, or rustls).
pub fn connector<T>(config: tokio_postgres::Config, tls: T) -> Connect
where
    T: MakeTlsConnect<tokio_postgres::Socket> + Clone + Send + Sync + 'static,
    T::Stream: Send + 'static,
    T::TlsConnect: Send,
    <T::TlsConnect as TlsConnect<tokio_postgres::Socket>>::Future: Send,
{
    Arc::new(move || {
        let config = config.clone();
        let tls = tls.clone();
        Box::pin(async move {
            let (client, connection) = config.connect(tls).await?;
            tokio::spawn(async move {
                if let Err(error) = connection.await {
                    tracing::debug!(%error, "the lease session with PostgreSQL ended");
                }
            });
            Ok(client)
        })
    })
}

/// What a keeper is given: `[state]`'s `replica_name` and `lease_ttl`, and every unit of
/// the configuration (the same list in every replica), as at start
/// ([`LeaseUnits::change`] changes them while it runs).
#[derive(Debug, Clone)]
pub struct LeaseSettings {
    /// This replica's name, unique among the replicas.
    pub replica: String,
    /// A lease not renewed within this is taken over.
    pub ttl: Duration,
    /// Every (source, tenant) of the configuration.
    pub units: Vec<Unit>,
}

impl LeaseSettings {
    /// How often the keeper runs a round: four times per `ttl` (at least every 10 ms
    /// apart, whatever a test sets).
    pub fn renew_every(&self) -> Duration {
        (self.ttl / 4).max(Duration::from_millis(10))
    }

    /// How long before PostgreSQL would let a lease run out this replica stops
    /// delivering its unit when no renewal came through: a quarter of `ttl`, room for
    /// the commit that was under way.
    pub fn margin(&self) -> Duration {
        self.ttl / 4
    }
}

/// A running keeper. Dropping it stops the task at once and gives nothing back (as a
/// crash would: the leases run out and move); [`LeaseKeeper::stop`] gives them back.
#[derive(Debug)]
pub struct LeaseKeeper {
    settings: Arc<LeaseSettings>,
    units: LeaseUnits,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<()>,
}

impl LeaseKeeper {
    /// Starts keeping leases: the first round runs at once. PostgreSQL being down is
    /// no error here: the keeper holds nothing, says so (metrics, `/readyz`) and keeps
    /// trying every round.
    pub fn spawn(connect: Connect, settings: LeaseSettings, metrics: LeaseMetrics) -> LeaseKeeper {
        let settings = Arc::new(settings);
        let (releases, released) = mpsc::unbounded_channel();
        let held = Held::new(&settings.units, metrics.clone(), releases);
        let watches: Watches = Arc::new(std::sync::Mutex::new(
            held.units()
                .filter_map(|unit| held.watch(unit, &settings.replica))
                .collect(),
        ));
        let (stop, stopped) = oneshot::channel();
        let (changes, changed) = mpsc::unbounded_channel();
        let keeper = Keeper {
            session: Session {
                connect,
                client: None,
                settings: settings.clone(),
                units: settings.units.clone(),
            },
            held,
            metrics,
            reachable: None,
            watches: watches.clone(),
        };
        LeaseKeeper {
            units: LeaseUnits {
                watches,
                changes,
                ttl: settings.ttl,
            },
            settings,
            stop: Some(stop),
            task: tokio::spawn(keeper.run(stopped, released, changed)),
        }
    }

    /// The watch of `unit`'s lease, for its source's run loop; `None` for a unit the
    /// keeper does not have.
    pub fn watch(&self, unit: &Unit) -> Option<LeaseWatch> {
        self.units.watch(unit)
    }

    /// Its units, to follow the configuration with (SIGHUP) from another task.
    pub fn units(&self) -> LeaseUnits {
        self.units.clone()
    }

    /// The settings it runs with.
    pub fn settings(&self) -> &LeaseSettings {
        &self.settings
    }

    /// Stops after giving back every lease it holds and leaving the live replicas, so
    /// the others take its units at their next round instead of after `lease_ttl`.
    /// Its sources must have stopped delivering first (their watches turn lost).
    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let _ = (&mut self.task).await;
    }
}

impl Drop for LeaseKeeper {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The task's state: the session with PostgreSQL and the book of held leases.
pub(super) struct Keeper {
    pub(super) session: Session,
    pub(super) held: Held,
    metrics: LeaseMetrics,
    /// Whether the last round reached PostgreSQL (`None` before the first).
    reachable: Option<bool>,
    /// Every unit's watch, as handed out (changed with the units).
    pub(super) watches: Watches,
}

/// What the keeper serves between rounds.
enum Event {
    Release(Release),
    Change(Change),
}

impl Keeper {
    async fn run(
        mut self,
        mut stopped: oneshot::Receiver<()>,
        mut released: mpsc::UnboundedReceiver<Release>,
        mut changed: mpsc::UnboundedReceiver<Change>,
    ) {
        let every = self.session.settings.renew_every();
        'rounds: loop {
            let started = Instant::now();
            self.round(started, every).await;
            // Until the next round: a source giving its unit back, or the units
            // changing, is served at once.
            loop {
                let event = tokio::select! {
                    biased;
                    _ = &mut stopped => break 'rounds,
                    Some(release) = released.recv() => Event::Release(release),
                    Some(change) = changed.recv() => Event::Change(change),
                    () = fire_until(&mut self.held, started + every) => break,
                };
                match event {
                    Event::Release(release) => self.release(release, every).await,
                    Event::Change(change) => self.change(change, every).await,
                }
            }
        }
        let holding = self.held.holding();
        for (unit, _) in &holding {
            self.held.lose(unit, LossCause::KeeperStopped);
        }
        if let Err(error) = guarded(&mut self.held, every, self.session.leave(&holding)).await {
            tracing::warn!(%error, "could not give the leases back: they move after lease_ttl");
        }
    }

    /// One round: claim (heartbeat, renew, take), book the answer, and give back what
    /// is above the share and was not given back by its source within the margin.
    async fn round(&mut self, started: Instant, every: Duration) {
        let holding = self.held.holding();
        let takeable = self.held.takeable(started);
        let beyond = self.held.beyond_share();
        let claimed = guarded(
            &mut self.held,
            every,
            self.session.claim(&holding, &takeable, &beyond),
        )
        .await;
        let excess = match claimed {
            Ok(claim) => self.apply(&holding, claim, started),
            Err(error) => return self.failed(&error),
        };
        // Above the share: each source is asked to end its batch in flight and give
        // its unit back; one that has not within the margin loses it now.
        let deadline = started + self.session.settings.margin();
        for (unit, _) in &excess {
            self.held.drain(unit, deadline);
        }
        let overdue = self.held.overdue(started);
        if overdue.is_empty() {
            return;
        }
        for (unit, _) in &overdue {
            tracing::warn!(%unit, "lease wanted back to even out the share and not given back within the margin: stopped delivering it");
            self.held.lose(unit, LossCause::WantedBack);
        }
        let given = guarded(&mut self.held, every, self.session.give_back(&overdue));
        if let Err(error) = given.await {
            self.failed(&error);
        }
    }

    /// A source gives its unit back (done draining, or stopped for good): freed in
    /// PostgreSQL at once, avoided here for `hold_off` (marked in PostgreSQL too, so
    /// another replica may take it even at its full share).
    async fn release(&mut self, release: Release, every: Duration) {
        // Avoided even when the lease went meanwhile: the source fails here either way.
        if !release.hold_off.is_zero() {
            self.held
                .avoid(&release.unit, Instant::now() + release.hold_off);
        }
        let lease = (release.unit.clone(), release.generation);
        if !self.held.holding().contains(&lease) {
            return;
        }
        self.held.lose(&release.unit, LossCause::GivenBack);
        let given = guarded(
            &mut self.held,
            every,
            self.session.give_up(&lease, release.hold_off),
        );
        if let Err(error) = given.await {
            self.failed(&error);
        }
    }

    /// Books a round's answer: renewed and taken leases held (lost at PostgreSQL's
    /// expiry less the margin, counted from `started`, before the statements were
    /// sent), the rest of `holding` lost; returns the leases above the share, those
    /// those taken from a replica that avoids them (rescued) held beyond it.
    fn apply(
        &mut self,
        holding: &[(Unit, i64)],
        claim: Claim,
        started: Instant,
    ) -> Vec<(Unit, i64)> {
        let margin = self.session.settings.margin();
        for (unit, _) in holding {
            if !claim.renewed.iter().any(|granted| &granted.unit == unit) {
                tracing::warn!(%unit, "lease moved on: this replica stops delivering it");
                self.held.lose(unit, LossCause::MovedOn);
            }
        }
        let takeovers = claim
            .taken
            .iter()
            .filter(|granted| granted.took_over)
            .count();
        for granted in claim.renewed.iter().chain(&claim.taken) {
            let left = Duration::try_from_secs_f64(granted.remaining).unwrap_or_default();
            let lost_at = (started + left).checked_sub(margin).unwrap_or(started);
            self.held.hold(&granted.unit, granted.generation, lost_at);
        }
        self.metrics.took_over(takeovers);
        self.metrics.live_replicas(claim.live);
        self.reached(true);
        for granted in claim.taken.iter().filter(|granted| granted.rescued) {
            tracing::info!(unit = %granted.unit, "took a unit another replica gave up after a permanent error there: held beyond the share");
            self.held.rescued(&granted.unit);
        }
        let beyond = self.held.beyond_share();
        let mut holding = self.held.holding();
        holding.retain(|(unit, _)| !beyond.contains(unit));
        let excess = holding.len().saturating_sub(claim.share);
        holding.split_off(holding.len() - excess)
    }

    pub(super) fn failed(&mut self, error: &RoundError) {
        // A statement may still be pending on it: start the next round afresh.
        self.session.client = None;
        self.metrics.renewal_failed();
        if self.reachable != Some(false) {
            tracing::warn!(%error, "lease round failed: leases not renewed stop being delivered before they run out");
        }
        self.reached(false);
    }

    fn reached(&mut self, reachable: bool) {
        if self.reachable == Some(false) && reachable {
            tracing::info!("PostgreSQL reached again: leases renewed and taken");
        }
        self.reachable = Some(reachable);
        self.metrics.postgres_reachable(reachable);
    }
}
