//! What the SMS log and the PSTN blocked-users log say: messages, units and charges
//! by type and destination, and Teams blocking or unblocking users from PSTN calling.
//! Counted on delivery like calls, never as calls.

use super::SourceId;
use super::exact::ExactCounterVec;
use super::handles::Handles;
use super::registrar::{MetricsError, Registrar};
use crate::facts::CallFacts;
use crate::facts::labels::{self, BLOCK_MODES, SMS_TYPES};
use crate::model::LogKind;
use prometheus::{CounterVec, IntCounterVec};

/// The SMS and blocked-user series of all sources.
#[derive(Debug)]
pub(super) struct LogMetrics {
    sms: IntCounterVec,
    sms_units: CounterVec,
    sms_charge: ExactCounterVec,
    blocked: IntCounterVec,
}

impl LogMetrics {
    pub(super) fn new(registry: &Registrar<'_>) -> Result<Self, MetricsError> {
        Ok(LogMetrics {
            sms: registry.counter(
                "pstn_sms_total",
                "SMS delivered to every sink, by smsType and destinationContext (domestic, international; none when absent).",
                &["source", "tenant", "sms_type", "destination"],
            )?,
            sms_units: registry.float_counter(
                "pstn_sms_units_total",
                "Sum of smsUnits (message segments) of delivered SMS.",
                &["source", "tenant", "sms_type"],
            )?,
            sms_charge: registry.exact_counter(
                "pstn_sms_charge_total",
                "Sum of callCharge of delivered SMS, in their currency.",
                &["source", "tenant", "currency"],
            )?,
            blocked: registry.counter(
                "pstn_blocked_user_events_total",
                "Delivered rows of the PSTN blocked-users log by userBlockMode: Teams blocking (or unblocking) a user from PSTN calling.",
                &["source", "tenant", "mode"],
            )?,
        })
    }

    /// Creates the series the alert rules and dashboard read, at zero.
    pub(super) fn initialise(&self, source: SourceId<'_>, kind: LogKind) {
        match kind {
            // The SMS alert reads charges by rate: no zeros for each of many tenants.
            LogKind::Sms if source.initialise_all() => {
                for sms_type in SMS_TYPES.iter().copied().chain(["other"]) {
                    self.sms_units
                        .with_label_values(&[source.name, source.tenant, sms_type]);
                    for destination in labels::DESTINATIONS {
                        self.sms.with_label_values(&[
                            source.name,
                            source.tenant,
                            sms_type,
                            destination,
                        ]);
                    }
                }
            }
            LogKind::PstnBlockedUser => {
                for mode in BLOCK_MODES {
                    self.blocked
                        .with_label_values(&[source.name, source.tenant, mode]);
                }
            }
            LogKind::Sms | LogKind::Pstn | LogKind::DirectRouting | LogKind::PstnDialoutReport => {}
        }
    }

    /// Counts delivered SMS or blocked-user rows (nothing for call kinds).
    pub(super) fn record(&self, source: SourceId<'_>, kind: LogKind, facts: &[CallFacts]) {
        match kind {
            LogKind::Sms => {
                let mut sms = Handles::new(&self.sms);
                let mut units = Handles::new(&self.sms_units);
                let mut charge = self.sms_charge.batch();
                for row in facts {
                    sms.get(&[source.name, source.tenant, row.call_type, row.destination])
                        .inc();
                    if let Some(count) = row.units.filter(|n| n.is_finite() && *n >= 0.0) {
                        units
                            .get(&[source.name, source.tenant, row.call_type])
                            .inc_by(count);
                    }
                    if let Some(micros) = row.charge_micros {
                        charge.add(&[source.name, source.tenant, row.currency], micros);
                    }
                }
            }
            LogKind::PstnBlockedUser => {
                let mut blocked = Handles::new(&self.blocked);
                for row in facts {
                    blocked
                        .get(&[source.name, source.tenant, row.block_mode])
                        .inc();
                }
            }
            LogKind::Pstn | LogKind::DirectRouting | LogKind::PstnDialoutReport => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Row;

    fn registry() -> (crate::metrics::Exposition, LogMetrics) {
        let registry = crate::metrics::Exposition::default();
        let metrics = LogMetrics::new(&Registrar(&registry)).unwrap();
        (registry, metrics)
    }

    #[test]
    fn sms_rows_count_by_closed_labels_and_odd_values_become_other() {
        let (registry, metrics) = registry();
        let rows = [
            r#"{"sentDateTime":"2024-05-01T08:00:00Z","smsType":"sms_out","smsUnits":2,"callCharge":0.06,"currency":"EUR","destinationContext":"International","destinationNumber":"+4930123***"}"#,
            r#"{"sentDateTime":"2024-05-01T08:00:01Z","smsType":"mms_weird","smsUnits":1,"callCharge":"0.01","currency":"XYZ1","destinationContext":"Moon"}"#,
            r#"{"sentDateTime":"2024-05-01T08:00:02Z","smsType":"sms_in","smsUnits":1,"callCharge":0,"currency":"EUR"}"#,
        ];
        let facts: Vec<CallFacts> = rows
            .iter()
            .map(|raw| CallFacts::of(&Row::parse_as(raw, LogKind::Sms).unwrap(), LogKind::Sms))
            .collect();
        metrics.record(SourceId::test("s"), LogKind::Sms, &facts);
        let text = crate::metrics::text_of(&registry);
        assert!(
            text.contains(
                r#"pstn_sms_total{destination="international",sms_type="sms_out",source="s",tenant="t"} 1"#
            ),
            "{text}"
        );
        assert!(
            text.contains(
                r#"pstn_sms_total{destination="other",sms_type="other",source="s",tenant="t"} 1"#
            ),
            "{text}"
        );
        assert!(
            text.contains(
                r#"pstn_sms_total{destination="none",sms_type="sms_in",source="s",tenant="t"} 1"#
            ),
            "{text}"
        );
        assert!(
            text.contains(r#"pstn_sms_units_total{sms_type="sms_out",source="s",tenant="t"} 2"#),
            "{text}"
        );
        assert!(
            text.contains(r#"pstn_sms_charge_total{currency="EUR",source="s",tenant="t"} 0.06"#),
            "{text}"
        );
        assert!(
            text.contains(r#"pstn_sms_charge_total{currency="other",source="s",tenant="t"} 0.01"#),
            "{text}"
        );
        assert!(!text.contains("XYZ1") && !text.contains("Moon") && !text.contains("+49"));
    }

    #[test]
    fn block_modes_are_blocked_unblocked_or_other() {
        let (registry, metrics) = registry();
        metrics.initialise(SourceId::test("b"), LogKind::PstnBlockedUser);
        let facts: Vec<CallFacts> = ["blocked", "unblocked", "unknownFutureValue", "blocked"]
            .iter()
            .map(|mode| {
                let raw = format!(
                    r#"{{"blockDateTime":"2024-05-01T08:00:00Z","userBlockMode":"{mode}"}}"#
                );
                let row = Row::parse_as(&raw, LogKind::PstnBlockedUser).unwrap();
                CallFacts::of(&row, LogKind::PstnBlockedUser)
            })
            .collect();
        metrics.record(SourceId::test("b"), LogKind::PstnBlockedUser, &facts);
        let text = crate::metrics::text_of(&registry);
        assert!(
            text.contains(
                r#"pstn_blocked_user_events_total{mode="blocked",source="b",tenant="t"} 2"#
            ),
            "{text}"
        );
        assert!(
            text.contains(
                r#"pstn_blocked_user_events_total{mode="unblocked",source="b",tenant="t"} 1"#
            ),
            "{text}"
        );
        assert!(
            text.contains(
                r#"pstn_blocked_user_events_total{mode="other",source="b",tenant="t"} 1"#
            ),
            "{text}"
        );
        assert!(
            !text.contains("pstn_sms_total"),
            "no SMS series for a blocked-users source"
        );
    }
}
