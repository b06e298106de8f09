//! What the calls were: counts, seconds, charges, destinations, outcomes, and the
//! calling-plan minutes used this month.

use super::SourceId;
use super::calls_sms::LogMetrics;
use super::chargeback::ChargebackMetrics;
use super::chargeback_month::ChargebackMonth;
use super::exact::ExactCounterVec;
use super::handles::Handles;
use super::registrar::{MetricsError, Registrar};
use crate::facts::labels::{
    self, DIRECT_ROUTING_CALL_TYPES, LICENSE_CAPABILITIES, PSTN_CALL_TYPES,
};
use crate::facts::{CallFacts, ChargebackGroup, MonthSum};
use crate::model::LogKind;
use crate::time::Timestamp;
use prometheus::{CounterVec, GaugeVec, HistogramVec, IntCounterVec};

/// Seconds: a ring that was not answered, a short call, ..., a four-hour conference.
const DURATION_BUCKETS: &[f64] = &[
    5.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1200.0, 1800.0, 3600.0, 7200.0, 14_400.0,
];
/// Seconds from a call's start until the agent first read its row: a minute to a week,
/// dense around the 24–48 h Microsoft gives for its PSTN reports.
const LATENESS_BUCKETS: &[f64] = &[
    60.0, 300.0, 900.0, 1800.0, 3600.0, 7200.0, 14_400.0, 28_800.0, 43_200.0, 86_400.0, 129_600.0,
    172_800.0, 216_000.0, 259_200.0, 345_600.0, 604_800.0,
];
/// Currency units: cents to tens.
const CHARGE_BUCKETS: &[f64] = &[0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 25.0, 50.0];

/// The call metrics of all sources.
#[derive(Debug)]
pub struct CallMetrics {
    calls: IntCounterVec,
    /// Seconds of calls by tenant: the duration histogram is kept per source when a
    /// source has several tenants, and each tenant's minutes are billed.
    seconds: CounterVec,
    duration: HistogramVec,
    charge_total: ExactCounterVec,
    charge: HistogramVec,
    connection_charge_total: ExactCounterVec,
    by_country: IntCounterVec,
    by_destination: IntCounterVec,
    charge_by_destination: ExactCounterVec,
    by_license: IntCounterVec,
    direct_routing_outcomes: IntCounterVec,
    direct_routing_failures: IntCounterVec,
    plan_seconds: GaugeVec,
    logs: LogMetrics,
    lateness: HistogramVec,
    chargeback: ChargebackMetrics,
    chargeback_month: ChargebackMonth,
}

impl CallMetrics {
    pub(super) fn new(registry: &Registrar<'_>) -> Result<Self, MetricsError> {
        Ok(CallMetrics {
            calls: registry.counter("pstn_calls_total", "Calls delivered to every sink, by call type.", &["source", "tenant", "kind", "call_type"])?,
            seconds: registry.float_counter("pstn_call_seconds_total", "Seconds of delivered calls, by call type.", &["source", "tenant", "kind", "call_type"])?,
            duration: registry.histogram("pstn_call_duration_seconds", "Duration of delivered calls (tenant empty for a source of several tenants).", DURATION_BUCKETS, &["source", "tenant", "kind", "call_type"])?,
            charge_total: registry.exact_counter("pstn_call_charge_total", "Sum of the charge of delivered calls, in their currency.", &["source", "tenant", "call_type", "currency"])?,
            charge: registry.histogram("pstn_call_charge", "Charge of one delivered call, in its currency (tenant empty for a source of several tenants).", CHARGE_BUCKETS, &["source", "tenant", "currency"])?,
            connection_charge_total: registry.exact_counter("pstn_call_connection_charge_total", "Sum of the connection charge of delivered calls, in their currency.", &["source", "tenant", "call_type", "currency"])?,
            by_country: registry.counter("pstn_calls_by_destination_country_total", "Delivered calls by the other party's country (otherPartyCountryCode, else derived from the other party's number; none when unknown).", &["source", "tenant", "kind", "country"])?,
            by_destination: registry.counter("pstn_calls_by_destination_context_total", "Delivered PSTN calls by destinationContext (domestic, international; none for inbound).", &["source", "tenant", "destination"])?,
            charge_by_destination: registry.exact_counter("pstn_call_charge_by_destination_context_total", "Sum of the charge of delivered PSTN calls by destinationContext, in their currency: the toll-fraud signal.", &["source", "tenant", "destination", "currency"])?,
            by_license: registry.counter("pstn_calls_by_license_total", "Delivered PSTN calls by licenseCapability.", &["source", "tenant", "license"])?,
            direct_routing_outcomes: registry.counter("pstn_direct_routing_calls_total", "Delivered Direct Routing calls by outcome.", &["source", "tenant", "outcome"])?,
            direct_routing_failures: registry.counter("pstn_direct_routing_failures_total", "Failed Direct Routing calls by final SIP code (tenant empty for a source of several tenants).", &["source", "tenant", "sip_code"])?,
            logs: LogMetrics::new(registry)?,
            chargeback: ChargebackMetrics::new(registry)?,
            chargeback_month: ChargebackMonth::new(registry)?,
            lateness: registry.histogram("pstn_row_lateness_seconds", "Time from a call's start until the agent first read its row (once per new row; an upper bound on when Graph showed it, since rows are read at polls and sweeps; tenant empty for a source of several tenants).", LATENESS_BUCKETS, &["source", "tenant", "kind"])?,
            plan_seconds: registry.gauge("pstn_calling_plan_outbound_month_seconds", "Outbound Calling Plans seconds (user_out*) of calls that started this calendar month (UTC), by licenseCapability; compare with the plan's minute pool.", &["source", "tenant", "license"])?,
        })
    }

    /// Creates the series users look at, at zero, before any call arrives: for a source
    /// of one tenant; one of many tenants gets only those its alerts need (none here:
    /// the alerts on calls are by rate or by a series being new), since a thousand
    /// tenants' zeros cost memory and scrape time and say nothing.
    pub(super) fn initialise(&self, source: SourceId<'_>, kind: LogKind) {
        if kind.is_report() {
            // A report's rows are totals, not calls: its own series (`metrics::dialout`).
            return;
        }
        self.lateness
            .with_label_values(&[source.name, source.shared_tenant(), kind.event_kind()]);
        if !source.initialise_all() {
            return self.logs.initialise(source, kind);
        }
        let call_types = match kind {
            LogKind::Pstn => PSTN_CALL_TYPES,
            LogKind::DirectRouting => DIRECT_ROUTING_CALL_TYPES,
            LogKind::Sms | LogKind::PstnBlockedUser | LogKind::PstnDialoutReport => {
                return self.logs.initialise(source, kind);
            }
        };
        let kind_label = kind.event_kind();
        for call_type in call_types.iter().copied().chain(["other"]) {
            self.calls
                .with_label_values(&[source.name, source.tenant, kind_label, call_type]);
            self.seconds
                .with_label_values(&[source.name, source.tenant, kind_label, call_type]);
        }
        match kind {
            LogKind::Pstn => {
                for destination in labels::DESTINATIONS {
                    self.by_destination.with_label_values(&[
                        source.name,
                        source.tenant,
                        destination,
                    ]);
                }
                for license in LICENSE_CAPABILITIES
                    .iter()
                    .copied()
                    .chain(["other", "none"])
                {
                    self.plan_seconds
                        .with_label_values(&[source.name, source.tenant, license]);
                }
            }
            LogKind::DirectRouting => {
                for outcome in ["successful", "failed"] {
                    self.direct_routing_outcomes.with_label_values(&[
                        source.name,
                        source.tenant,
                        outcome,
                    ]);
                }
            }
            LogKind::Sms | LogKind::PstnBlockedUser | LogKind::PstnDialoutReport => {}
        }
    }

    /// Counts the calls of `source` by department and cost centre from now on (a
    /// source with a directory), each label capped at `max_label_values` values.
    pub fn enable_chargeback(&self, source: SourceId<'_>, kind: LogKind, max_label_values: usize) {
        if kind.is_call() {
            self.chargeback.enable(source, kind, max_label_values);
        }
    }

    /// Sets this month's chargeback gauges of a source with a directory from state.
    pub fn set_chargeback_month(
        &self,
        source: SourceId<'_>,
        sums: &[MonthSum],
        max_label_values: usize,
    ) {
        self.chargeback_month.set(source, sums, max_label_values);
    }

    /// Counts calls every sink accepted and whose delivery was committed, and their
    /// chargeback groups (with a directory). Label lookups hash every value, so each
    /// distinct label set of the batch is looked up once and its handle reused (a page
    /// has a handful of call types and currencies).
    pub fn record(
        &self,
        source: SourceId<'_>,
        kind: LogKind,
        facts: &[CallFacts],
        chargeback: &[ChargebackGroup],
    ) {
        if !kind.is_call() {
            // SMS and blocked users have their own series; pstn_calls_total is for calls.
            return self.logs.record(source, kind, facts);
        }
        self.chargeback.record(source, kind, chargeback);
        self.record_calls(source, kind, facts);
    }

    /// Counts calls (of `kind`, a call kind) in the series of every call.
    fn record_calls(&self, source: SourceId<'_>, kind: LogKind, facts: &[CallFacts]) {
        let kind_label = kind.event_kind();
        let shared = source.shared_tenant();
        let mut calls = Handles::new(&self.calls);
        let mut seconds = Handles::new(&self.seconds);
        let mut duration = Handles::new(&self.duration);
        let mut charge_total = self.charge_total.batch();
        let mut charge = Handles::new(&self.charge);
        let mut connection_charge_total = self.connection_charge_total.batch();
        let mut by_country = Handles::new(&self.by_country);
        let mut by_license = Handles::new(&self.by_license);
        let mut by_destination = Handles::new(&self.by_destination);
        let mut charge_by_destination = self.charge_by_destination.batch();
        let mut outcomes = Handles::new(&self.direct_routing_outcomes);
        let mut failures = Handles::new(&self.direct_routing_failures);
        for call in facts {
            calls
                .get(&[source.name, source.tenant, kind_label, call.call_type])
                .inc();
            if let Some(took) = call.duration_seconds {
                seconds
                    .get(&[source.name, source.tenant, kind_label, call.call_type])
                    .inc_by(took);
                duration
                    .get(&[source.name, shared, kind_label, call.call_type])
                    .observe(took);
            }
            if let Some(micros) = call.charge_micros {
                charge_total.add(
                    &[source.name, source.tenant, call.call_type, call.currency],
                    micros,
                );
            }
            if let Some(amount) = call.charge {
                charge
                    .get(&[source.name, shared, call.currency])
                    .observe(amount);
            }
            if let Some(micros) = call.connection_charge_micros {
                connection_charge_total.add(
                    &[source.name, source.tenant, call.call_type, call.currency],
                    micros,
                );
            }
            by_country
                .get(&[source.name, source.tenant, kind_label, call.country])
                .inc();
            match kind {
                LogKind::Pstn => {
                    by_license
                        .get(&[source.name, source.tenant, call.license])
                        .inc();
                    by_destination
                        .get(&[source.name, source.tenant, call.destination])
                        .inc();
                    if let Some(micros) = call.charge_micros {
                        charge_by_destination.add(
                            &[source.name, source.tenant, call.destination, call.currency],
                            micros,
                        );
                    }
                }
                LogKind::Sms | LogKind::PstnBlockedUser | LogKind::PstnDialoutReport => {}
                LogKind::DirectRouting => {
                    let successful = call.successful.unwrap_or(false);
                    let outcome = if successful { "successful" } else { "failed" };
                    outcomes.get(&[source.name, source.tenant, outcome]).inc();
                    if !successful {
                        failures.get(&[source.name, shared, call.sip_code]).inc();
                    }
                }
            }
        }
    }

    /// Observes how late each new row was when the agent first read it, at `observed`.
    /// Called once per delivered row, never for duplicates, so the histogram is the
    /// lateness distribution of the calls themselves.
    pub fn record_lateness(
        &self,
        source: SourceId<'_>,
        kind: LogKind,
        observed: Timestamp,
        facts: &[CallFacts],
    ) {
        if facts.is_empty() {
            return;
        }
        let histogram = self.lateness.with_label_values(&[
            source.name,
            source.shared_tenant(),
            kind.event_kind(),
        ]);
        for call in facts {
            histogram.observe(observed.duration_since(call.start).as_secs_f64());
        }
    }

    /// Sets this month's outbound plan seconds of a source (every known license; absent
    /// ones 0, or for one of many tenants no series: its zeros would be a thousand).
    pub fn set_plan_usage(&self, source: SourceId<'_>, usage: &[(String, f64)]) {
        for license in LICENSE_CAPABILITIES
            .iter()
            .copied()
            .chain(["other", "none"])
        {
            let seconds = usage
                .iter()
                .filter(|(stored, _)| stored == license)
                .fold(0.0, |total, (_, seconds)| total + seconds); // not sum(): an empty f64 sum is -0
            if seconds == 0.0 && !source.initialise_all() {
                // A new month: a license used last month has no series now.
                let _ =
                    self.plan_seconds
                        .remove_label_values(&[source.name, source.tenant, license]);
                continue;
            }
            self.plan_seconds
                .with_label_values(&[source.name, source.tenant, license])
                .set(seconds);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Row;

    #[test]
    fn charge_sums_in_metrics_text_are_the_exact_decimal_sum_of_the_rows() {
        let registry = crate::metrics::Exposition::default();
        let metrics = CallMetrics::new(&Registrar(&registry)).unwrap();
        let rows: Vec<String> = ["0.10", "0.35", "\"2.6\""]
            .iter()
            .enumerate()
            .map(|(index, charge)| {
                format!(
                    r#"{{"id":"{index}","startDateTime":"2024-05-01T00:00:00Z","callType":"user_out","currency":"EUR","charge":{charge},"connectionCharge":0.1,"destinationContext":"International"}}"#
                )
            })
            .collect();
        let facts: Vec<CallFacts> = rows
            .iter()
            .map(|raw| CallFacts::of(&Row::parse(raw).unwrap(), LogKind::Pstn))
            .collect();
        metrics.record(SourceId::test("s"), LogKind::Pstn, &facts, &[]);
        let text = crate::metrics::text_of(&registry);
        for line in [
            r#"pstn_call_charge_total{call_type="user_out",currency="EUR",source="s",tenant="t"} 3.05"#,
            r#"pstn_call_connection_charge_total{call_type="user_out",currency="EUR",source="s",tenant="t"} 0.3"#,
            r#"pstn_call_charge_by_destination_context_total{currency="EUR",destination="international",source="s",tenant="t"} 3.05"#,
        ] {
            assert!(text.lines().any(|found| found == line), "{line} in\n{text}");
        }
        assert!(text.contains("# TYPE pstn_call_charge_total counter"));
    }
}
