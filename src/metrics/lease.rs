//! The leases of a replica sharing the work through PostgreSQL: what it holds, what it
//! took over, the renewals that failed, and the readiness fact "holds nothing because
//! PostgreSQL is unreachable". Registered only by an agent with `[state] postgres_url`.

use super::registrar::{MetricsError, Registrar};
use prometheus::{IntCounter, IntGauge};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// The lease keeper's handles (cheap to clone).
#[derive(Debug, Clone)]
pub struct LeaseMetrics {
    held: IntGauge,
    live: IntGauge,
    takeovers: IntCounter,
    renewal_failures: IntCounter,
    unreachable: Arc<AtomicBool>,
}

impl LeaseMetrics {
    pub(super) fn new(registry: &Registrar<'_>) -> Result<Self, MetricsError> {
        let counter = |name: &str, help: &str| {
            registry
                .counter(name, help, &[])
                .map(|vec| vec.with_label_values::<&str>(&[]))
        };
        Ok(LeaseMetrics {
            held: registry.int_gauge(
                "pstn_lease_units_held",
                "Units (source, tenant) whose lease this replica holds now.",
            )?,
            live: registry.int_gauge(
                "pstn_lease_live_replicas",
                "Replicas with a heartbeat within lease_ttl, as this replica last saw them.",
            )?,
            takeovers: counter(
                "pstn_lease_takeovers_total",
                "Leases this replica took from a replica that had stopped renewing them.",
            )?,
            renewal_failures: counter(
                "pstn_lease_renewal_failures_total",
                "Lease rounds (heartbeat, renewals) that did not reach PostgreSQL or were refused.",
            )?,
            unreachable: Arc::default(),
        })
    }

    /// How many units this replica holds now.
    pub fn units_held(&self, units: usize) {
        self.held.set(i64::try_from(units).unwrap_or(i64::MAX));
    }

    /// How many replicas are live.
    pub fn live_replicas(&self, replicas: usize) {
        self.live.set(i64::try_from(replicas).unwrap_or(i64::MAX));
    }

    /// `leases` were taken over from a replica that stopped renewing.
    pub fn took_over(&self, leases: usize) {
        self.takeovers
            .inc_by(u64::try_from(leases).unwrap_or(u64::MAX));
    }

    /// A round failed.
    pub fn renewal_failed(&self) {
        self.renewal_failures.inc();
    }

    /// Whether the last round reached PostgreSQL.
    pub fn postgres_reachable(&self, reachable: bool) {
        self.unreachable.store(!reachable, Ordering::Relaxed);
    }

    /// What `/readyz` says while this replica holds nothing because PostgreSQL is
    /// unreachable (a fixed text: `/readyz` is unauthenticated). Holding nothing because
    /// the others hold everything is no problem.
    pub(super) fn problem(&self) -> Option<(String, String)> {
        (self.unreachable.load(Ordering::Relaxed) && self.held.get() == 0).then(|| {
            (
                "state".to_owned(),
                "holds no lease: PostgreSQL is unreachable".to_owned(),
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use crate::metrics::Metrics;

    #[test]
    fn readyz_names_a_replica_holding_nothing_because_postgres_is_unreachable() {
        let metrics = Metrics::new().expect("metrics register");
        assert!(
            !metrics.encode().contains("pstn_lease_"),
            "only with leases"
        );
        let leases = metrics.leases().expect("lease metrics register");
        assert!(metrics.leases().is_ok(), "a second call reuses them");
        assert!(metrics.readiness().is_ready());
        leases.postgres_reachable(false);
        let report = metrics.readiness();
        assert_eq!(report.problems.len(), 1, "{report:?}");
        assert!(report.to_json().contains("PostgreSQL is unreachable"));
        assert!(metrics.encode().contains("pstn_agent_ready 0"));
        // Still holding leases not yet run out: still delivering them, still ready.
        leases.units_held(2);
        assert!(metrics.readiness().is_ready());
        leases.units_held(0);
        leases.postgres_reachable(true);
        assert!(metrics.readiness().is_ready());
        leases.took_over(3);
        leases.renewal_failed();
        let text = metrics.encode();
        for line in [
            "pstn_lease_takeovers_total 3",
            "pstn_lease_renewal_failures_total 1",
            "pstn_lease_units_held 0",
            "pstn_agent_ready 1",
        ] {
            assert!(text.contains(line), "{line}: {text}");
        }
    }
}
