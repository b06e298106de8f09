//! Prometheus metrics: what the calls were (counted once, on the acknowledgement
//! path) and how the agent itself is doing. Each agent owns a [`Metrics`] with its own
//! registry, so embedding programs and tests never share global state.

mod calls;
mod calls_sms;
mod chargeback;
mod chargeback_month;
mod dead_letter;
mod dialout;
mod exact;
mod exposition;
mod handles;
mod health;
mod lease;
#[cfg(test)]
mod many_tenants;
mod registrar;

pub use calls::CallMetrics;
pub use dead_letter::DeadLetterCounter;
pub use dialout::DialoutMetrics;
pub use health::{ReadinessReport, SinkTelemetry, SourceCadence, SourceTelemetry};
pub use lease::LeaseMetrics;
pub use registrar::MetricsError;

pub(crate) use exposition::Exposition;
use registrar::Registrar;

use std::sync::Arc;

/// Who a per-source series is about: the `source` and `tenant` labels (the tenant
/// as written in the configuration; a source of one tenant has its `tenant_id`).
/// Both are bounded: configured names and tenants only.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SourceId<'a> {
    /// The source's table name.
    pub name: &'a str,
    /// The tenant it reads.
    pub tenant: &'a str,
    /// Whether the source reads several tenants: `/readyz` then names the tenant.
    pub one_of_many: bool,
}

impl SourceId<'_> {
    /// A source of one tenant, `t`, for the metric modules' tests.
    #[cfg(test)]
    pub(crate) fn test(name: &str) -> SourceId<'_> {
        SourceId {
            name,
            tenant: "t",
            one_of_many: false,
        }
    }

    /// The `tenant` label of the series kept per source rather than per tenant (the
    /// histograms, failures by SIP code): empty for a source with several tenants, which
    /// Prometheus reads as no label, so a thousand tenants do not each carry a copy of
    /// every bucket; a source of one tenant keeps its tenant there as everywhere.
    pub(crate) fn shared_tenant(&self) -> &str {
        if self.one_of_many { "" } else { self.tenant }
    }

    /// Whether the zero series users only look at (not alert on) are created before
    /// their first event: for a source of one tenant, not for each of many.
    pub(crate) fn initialise_all(&self) -> bool {
        !self.one_of_many
    }

    /// One string for the pair, to key what a metric module keeps per source.
    pub(crate) fn key(&self) -> String {
        format!("{}\u{0}{}", self.name, self.tenant)
    }

    /// How `/readyz` and the log name it (after `sources.`): the name, and for a
    /// source with several tenants `NAME/TENANT`.
    pub fn component(&self) -> String {
        if self.one_of_many {
            format!("{}/{}", self.name, self.tenant)
        } else {
            self.name.to_owned()
        }
    }
}

/// Every metric of one agent.
#[derive(Debug)]
pub struct Metrics {
    exposition: Exposition,
    /// Calls, minutes, charges.
    pub calls: CallMetrics,
    /// The audio-conferencing dial-out report's totals, grown by each change.
    pub dialout: DialoutMetrics,
    health: health::HealthMetrics,
    dead_letters: dead_letter::DeadLetterMetrics,
    /// Registered by [`Metrics::leases`], with `[state] postgres_url` only.
    leases: std::sync::Mutex<Option<LeaseMetrics>>,
}

impl Metrics {
    /// A fresh set of metrics with its own registry; fails only on a programming
    /// error (a clashing or malformed definition), which the agent refuses to start with.
    pub fn new() -> Result<Arc<Metrics>, MetricsError> {
        let exposition = Exposition::default();
        let registrar = Registrar(&exposition);
        registrar
            .int_gauge_vec(
                "pstn_agent_build_info",
                "Always 1; the labels say which build is running.",
                &["version"],
            )?
            .with_label_values(&[env!("CARGO_PKG_VERSION")])
            .set(1);
        let calls = CallMetrics::new(&registrar)?;
        let dialout = DialoutMetrics::new(&registrar)?;
        let health = health::HealthMetrics::new(&registrar)?;
        let dead_letters = dead_letter::DeadLetterMetrics::new(registrar.counter(
            dead_letter::NAME,
            dead_letter::HELP,
            dead_letter::LABELS,
        )?);
        Ok(Arc::new(Metrics {
            exposition,
            calls,
            dialout,
            health,
            dead_letters,
            leases: std::sync::Mutex::default(),
        }))
    }

    /// The handles one source reports through, its series pre-initialised.
    pub fn source(
        &self,
        source: SourceId<'_>,
        kind: crate::model::LogKind,
        cadence: SourceCadence,
    ) -> SourceTelemetry {
        self.calls.initialise(source, kind);
        if kind.is_report() {
            self.dialout.initialise(source);
        }
        self.health.source(source, cadence)
    }

    /// Whether every source progressed recently and no sink is failing.
    pub fn readiness(&self) -> ReadinessReport {
        self.health.readiness(self.lease_problem())
    }

    /// A source this replica no longer reads (its lease is another's, its tenant was
    /// removed): `/readyz` stops waiting for its progress and its progress gauges go
    /// until it is built again.
    pub fn source_released(&self, source: SourceId<'_>) {
        self.health.forget_source(source);
    }

    /// A source this replica does not read although it should know why (its lease
    /// given up after a permanent error, or held while the source cannot be built):
    /// `/readyz` says `problem` (a fixed text, never a peer's words) until it is built.
    pub fn source_not_read(&self, source: SourceId<'_>, problem: String) {
        self.health.source_not_read(source, problem);
    }

    /// The lease keeper's handles, registered on first use.
    pub fn leases(&self) -> Result<LeaseMetrics, MetricsError> {
        let mut leases = self
            .leases
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(leases) = leases.as_ref() {
            return Ok(leases.clone());
        }
        Ok(leases
            .insert(LeaseMetrics::new(&Registrar(&self.exposition))?)
            .clone())
    }

    fn lease_problem(&self) -> Option<(String, String)> {
        let leases = self
            .leases
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        leases.as_ref().and_then(LeaseMetrics::problem)
    }

    /// The handles one sink reports through.
    pub fn sink(&self, sink: &str) -> SinkTelemetry {
        self.health.sink(sink)
    }

    /// The counter of events one sink set aside as dead letters.
    pub fn dead_letters(&self, sink: &str) -> DeadLetterCounter {
        self.dead_letters.sink(sink)
    }

    /// The Prometheus text exposition of every metric, `pstn_agent_ready` evaluated now.
    pub fn encode(&self) -> String {
        self.readiness();
        self.exposition.encode()
    }
}

/// An exposition's text, for the metric modules' tests.
#[cfg(test)]
pub(crate) fn text_of(exposition: &Exposition) -> String {
    exposition.encode()
}
