//! Creating and registering collectors. A bad definition or a name clash is an error
//! the agent refuses to start with, never a series that silently vanishes.

use super::exact::ExactCounterVec;
use super::exposition::Exposition;
use prometheus::core::Collector;
use prometheus::{
    CounterVec, GaugeVec, HistogramOpts, HistogramVec, IntCounterVec, IntGauge, IntGaugeVec, Opts,
};

/// Why the metrics could not be set up (a programming error, caught at start-up).
#[derive(Debug, thiserror::Error)]
#[error("cannot register metric {name}: {source}")]
pub struct MetricsError {
    /// The metric's name.
    pub name: String,
    /// What the Prometheus client said.
    #[source]
    pub source: prometheus::Error,
}

/// Registers collectors in one registry, naming the metric in any error.
#[derive(Debug)]
pub(crate) struct Registrar<'a>(pub(crate) &'a Exposition);

impl Registrar<'_> {
    fn add<T: Collector + Clone + 'static>(
        &self,
        name: &str,
        made: Result<T, prometheus::Error>,
    ) -> Result<T, MetricsError> {
        let failed = |source| MetricsError {
            name: name.to_owned(),
            source,
        };
        let collector = made.map_err(failed)?;
        self.0.register(&collector).map_err(failed)?;
        Ok(collector)
    }

    /// An integer counter with labels.
    pub(crate) fn counter(
        &self,
        name: &str,
        help: &str,
        labels: &[&str],
    ) -> Result<IntCounterVec, MetricsError> {
        self.add(name, IntCounterVec::new(Opts::new(name, help), labels))
    }

    /// A float counter with labels (sums of charges).
    pub(crate) fn float_counter(
        &self,
        name: &str,
        help: &str,
        labels: &[&str],
    ) -> Result<CounterVec, MetricsError> {
        self.add(name, CounterVec::new(Opts::new(name, help), labels))
    }

    /// A counter of exact decimal sums with labels (sums of charges).
    pub(crate) fn exact_counter(
        &self,
        name: &str,
        help: &str,
        labels: &[&str],
    ) -> Result<ExactCounterVec, MetricsError> {
        self.add(name, ExactCounterVec::new(name, help, labels))
    }

    /// A float gauge with labels.
    pub(crate) fn gauge(
        &self,
        name: &str,
        help: &str,
        labels: &[&str],
    ) -> Result<GaugeVec, MetricsError> {
        self.add(name, GaugeVec::new(Opts::new(name, help), labels))
    }

    /// An integer gauge with labels.
    pub(crate) fn int_gauge_vec(
        &self,
        name: &str,
        help: &str,
        labels: &[&str],
    ) -> Result<IntGaugeVec, MetricsError> {
        self.add(name, IntGaugeVec::new(Opts::new(name, help), labels))
    }

    /// An integer gauge without labels.
    pub(crate) fn int_gauge(&self, name: &str, help: &str) -> Result<IntGauge, MetricsError> {
        self.add(name, IntGauge::new(name, help))
    }

    /// A histogram with labels.
    pub(crate) fn histogram(
        &self,
        name: &str,
        help: &str,
        buckets: &[f64],
        labels: &[&str],
    ) -> Result<HistogramVec, MetricsError> {
        let opts = HistogramOpts::new(name, help).buckets(buckets.to_vec());
        self.add(name, HistogramVec::new(opts, labels))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_name_registered_twice_is_an_error_naming_it() {
        let exposition = Exposition::default();
        let registrar = Registrar(&exposition);
        registrar
            .counter("pstn_twice_total", "once", &["source"])
            .unwrap();
        let error = registrar
            .counter("pstn_twice_total", "again", &["source"])
            .unwrap_err();
        assert!(error.to_string().contains("pstn_twice_total"), "{error}");
        let bad = registrar.counter("bad name", "help", &[]).unwrap_err();
        assert!(bad.to_string().contains("bad name"), "{bad}");
    }
}
