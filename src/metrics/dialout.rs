//! The audio-conferencing dial-out report's series. Its rows are running totals of a
//! day, sent again as they grow, so these counters grow by the change between the
//! totals last delivered and the new ones, never by the totals themselves: summed over
//! every event they equal the report's final totals.

use super::SourceId;
use super::exact::ExactCounterVec;
use super::registrar::{MetricsError, Registrar};
use crate::facts::DialoutGrowth;
use crate::facts::labels::DESTINATIONS;
use prometheus::IntCounterVec;

/// The dial-out series of all sources.
#[derive(Debug)]
pub struct DialoutMetrics {
    calls: IntCounterVec,
    seconds: IntCounterVec,
    charge: ExactCounterVec,
}

impl DialoutMetrics {
    pub(super) fn new(registry: &Registrar<'_>) -> Result<Self, MetricsError> {
        Ok(DialoutMetrics {
            calls: registry.counter(
                "pstn_dialout_calls_total",
                "Audio-conferencing dial-out calls (totalCalls of getPstnOnlineMeetingDialoutReport), grown by each delivered change of a day's totals, by destinationContext.",
                &["source", "tenant", "destination"],
            )?,
            seconds: registry.counter(
                "pstn_dialout_seconds_total",
                "Audio-conferencing dial-out seconds (totalCallSeconds), grown by each delivered change of a day's totals, by destinationContext.",
                &["source", "tenant", "destination"],
            )?,
            charge: registry.exact_counter(
                "pstn_dialout_charge_total",
                "Communications Credits spent on audio-conferencing dial-out (totalCallCharge), grown by each delivered change of a day's totals, in their currency.",
                &["source", "tenant", "currency"],
            )?,
        })
    }

    /// Creates the series the dashboard and alerts read, at zero.
    pub fn initialise(&self, source: SourceId<'_>) {
        for destination in DESTINATIONS {
            self.calls
                .with_label_values(&[source.name, source.tenant, destination]);
            self.seconds
                .with_label_values(&[source.name, source.tenant, destination]);
        }
    }

    /// Adds the growth of rows every sink accepted and whose totals were committed.
    pub fn record(&self, source: SourceId<'_>, rows: &[DialoutGrowth]) {
        let mut charge = self.charge.batch();
        for row in rows {
            let calls = u64::try_from(row.growth.calls).unwrap_or(0);
            let seconds = u64::try_from(row.growth.seconds).unwrap_or(0);
            self.calls
                .with_label_values(&[source.name, source.tenant, row.destination])
                .inc_by(calls);
            self.seconds
                .with_label_values(&[source.name, source.tenant, row.destination])
                .inc_by(seconds);
            charge.add(
                &[source.name, source.tenant, row.currency],
                row.growth.charge_micros.into(),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::DialoutTotals;

    #[test]
    fn growth_adds_up_under_bounded_labels() {
        let registry = crate::metrics::Exposition::default();
        let metrics = DialoutMetrics::new(&Registrar(&registry)).unwrap();
        metrics.initialise(SourceId::test("s"));
        let grown = |calls, seconds, charge_micros| DialoutTotals {
            calls,
            seconds,
            charge_micros,
        };
        metrics.record(
            SourceId::test("s"),
            &[
                DialoutGrowth::new(Some("International"), Some("USD"), grown(2, 300, 1_250_000)),
                DialoutGrowth::new(Some("International"), Some("USD"), grown(1, 60, 100_000)),
                DialoutGrowth::new(Some("Moon"), Some("XYZ1"), grown(1, 5, 10_000)),
            ],
        );
        let text = crate::metrics::text_of(&registry);
        for line in [
            r#"pstn_dialout_calls_total{destination="international",source="s",tenant="t"} 3"#,
            r#"pstn_dialout_seconds_total{destination="international",source="s",tenant="t"} 360"#,
            r#"pstn_dialout_charge_total{currency="USD",source="s",tenant="t"} 1.35"#,
            r#"pstn_dialout_calls_total{destination="other",source="s",tenant="t"} 1"#,
            r#"pstn_dialout_charge_total{currency="other",source="s",tenant="t"} 0.01"#,
            r#"pstn_dialout_calls_total{destination="domestic",source="s",tenant="t"} 0"#,
        ] {
            assert!(text.contains(line), "{line} missing from\n{text}");
        }
    }
}
