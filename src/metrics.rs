//! Prometheus metrics: what the calls were (counted once, on the acknowledgement
//! path) and how the agent itself is doing. Each agent owns a [`Metrics`] with its own
//! registry, so embedding programs and tests never share global state.

mod calls;
mod dead_letter;
mod health;
pub(crate) mod labels;

pub use calls::{CallFacts, CallMetrics};
pub use dead_letter::DeadLetterCounter;
pub use health::{ReadinessReport, SinkTelemetry, SourceCadence, SourceTelemetry};

use prometheus::{Encoder, IntGaugeVec, Opts, Registry, TextEncoder};
use std::sync::Arc;

/// Every metric of one agent.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    /// Calls, minutes, charges.
    pub calls: CallMetrics,
    health: health::HealthMetrics,
    dead_letters: dead_letter::DeadLetterMetrics,
}

/// Registers a collector; a name clash is a programming error caught by the tests.
pub(crate) fn register<T: prometheus::core::Collector + Clone + 'static>(
    registry: &Registry,
    collector: T,
) -> T {
    if let Err(error) = registry.register(Box::new(collector.clone())) {
        tracing::error!(%error, "metric registration failed");
    }
    collector
}

impl Metrics {
    /// A fresh set of metrics with its own registry.
    pub fn new() -> Arc<Metrics> {
        let registry = Registry::new();
        let build_info = register(
            &registry,
            IntGaugeVec::new(
                Opts::new(
                    "pstn_agent_build_info",
                    "Always 1; the labels say which build is running.",
                ),
                &["version"],
            )
            .unwrap_or_else(|error| unreachable!("{error}")),
        );
        build_info
            .with_label_values(&[env!("CARGO_PKG_VERSION")])
            .set(1);
        let calls = CallMetrics::new(&registry);
        let health = health::HealthMetrics::new(&registry);
        let dead_letters = dead_letter::DeadLetterMetrics::new(register(
            &registry,
            prometheus::IntCounterVec::new(
                Opts::new(dead_letter::NAME, dead_letter::HELP),
                dead_letter::LABELS,
            )
            .unwrap_or_else(|error| unreachable!("{error}")),
        ));
        Arc::new(Metrics {
            registry,
            calls,
            health,
            dead_letters,
        })
    }

    /// The handles one source reports through, its series pre-initialised.
    pub fn source(
        &self,
        source: &str,
        kind: crate::model::LogKind,
        cadence: SourceCadence,
    ) -> SourceTelemetry {
        self.calls.initialise(source, kind);
        self.health.source(source, cadence)
    }

    /// Whether every source progressed recently and no sink is failing.
    pub fn readiness(&self) -> ReadinessReport {
        self.health.readiness()
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
        self.health.readiness();
        let mut buffer = Vec::new();
        if let Err(error) = TextEncoder::new().encode(&self.registry.gather(), &mut buffer) {
            tracing::error!(%error, "encoding metrics failed");
        }
        String::from_utf8(buffer).unwrap_or_default()
    }
}
