//! Who pays: charges and seconds of delivered calls by the user's department and cost
//! centre, for sources with a `[sources.NAME.directory]`. Department and cost-centre
//! names come from the directory, so each label takes at most `max_label_values`
//! distinct values per source (first come, first kept), then `other`. A row whose user
//! the directory does not know is `unknown`; a known user without the attribute is
//! `none`. Charges are exact sums, so a month per department equals its rows.

use super::SourceId;
use super::exact::ExactCounterVec;
use super::handles::Handles;
use super::registrar::{MetricsError, Registrar};
use crate::facts::ChargebackGroup;
use crate::facts::chargeback::{Booked, OTHER, UNKNOWN};
use crate::model::LogKind;
use prometheus::CounterVec;
use std::collections::{HashMap, HashSet};
use std::sync::{Mutex, PoisonError};

/// The values one label of one source has taken, and its cap.
#[derive(Debug)]
struct Capped {
    max: usize,
    seen: HashSet<Box<str>>,
}

impl Capped {
    /// `value` while there is room (or it was seen), else `other`.
    fn label<'a>(&mut self, value: &'a str) -> &'a str {
        if self.seen.contains(value) {
            return value;
        }
        if self.seen.len() < self.max {
            self.seen.insert(value.into());
            return value;
        }
        OTHER
    }

    /// The label of `booked`: a value capped, `unknown` and `none` as they are.
    fn booked<'a>(&mut self, booked: Booked<'a>) -> &'a str {
        match booked {
            Booked::Value(value) => self.label(value),
            other => other.label(),
        }
    }
}

/// The chargeback series of all sources.
#[derive(Debug)]
pub(super) struct ChargebackMetrics {
    charge_by_department: ExactCounterVec,
    seconds_by_department: CounterVec,
    charge_by_cost_center: ExactCounterVec,
    /// Per source with a directory: (departments, cost centres).
    sources: Mutex<HashMap<String, (Capped, Capped)>>,
}

impl ChargebackMetrics {
    pub(super) fn new(registry: &Registrar<'_>) -> Result<Self, MetricsError> {
        Ok(ChargebackMetrics {
            charge_by_department: registry.exact_counter("pstn_call_charge_by_department_total", "Sum of the charge of delivered calls by the user's department (directory), in their currency; unknown: no directory entry, none: no department, other: past max_label_values.", &["source", "tenant", "department", "currency"])?,
            seconds_by_department: registry.float_counter("pstn_call_seconds_by_department_total", "Seconds of delivered calls by the user's department (directory); unknown: no directory entry, none: no department, other: past max_label_values.", &["source", "tenant", "department", "kind"])?,
            charge_by_cost_center: registry.exact_counter("pstn_call_charge_by_cost_center_total", "Sum of the charge of delivered calls by the user's cost centre (directory employeeOrgData/costCenter), in their currency; unknown: no directory entry, none: no cost centre, other: past max_label_values.", &["source", "tenant", "cost_center", "currency"])?,
            sources: Mutex::default(),
        })
    }

    /// Counts `source`'s calls from now on, each label capped at `max_label_values`;
    /// its `unknown` seconds series starts at zero so dashboards find the source.
    pub(super) fn enable(&self, source: SourceId<'_>, kind: LogKind, max_label_values: usize) {
        let capped = || Capped {
            max: max_label_values,
            seen: HashSet::new(),
        };
        self.sources
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .entry(source.key())
            .or_insert_with(|| (capped(), capped()));
        self.seconds_by_department.with_label_values(&[
            source.name,
            source.tenant,
            UNKNOWN,
            kind.event_kind(),
        ]);
    }

    /// Counts delivered calls of a source with a directory (nothing for others): each
    /// group of calls of one department, cost centre and currency at once, the groups
    /// in the order of their first call, so the cap keeps the values that came first.
    pub(super) fn record(&self, source: SourceId<'_>, kind: LogKind, groups: &[ChargebackGroup]) {
        let mut sources = self.sources.lock().unwrap_or_else(PoisonError::into_inner);
        let Some((departments, cost_centers)) = sources.get_mut(&source.key()) else {
            return;
        };
        let kind_label = kind.event_kind();
        let mut charge_by_department = self.charge_by_department.batch();
        let mut charge_by_cost_center = self.charge_by_cost_center.batch();
        let mut seconds = Handles::new(&self.seconds_by_department);
        for group in groups {
            let department = departments.booked(group.department());
            let cost_center = cost_centers.booked(group.cost_center());
            if let Some(micros) = group.charge_micros {
                charge_by_department.add(
                    &[source.name, source.tenant, department, group.currency],
                    micros,
                );
                charge_by_cost_center.add(
                    &[source.name, source.tenant, cost_center, group.currency],
                    micros,
                );
            }
            if let Some(duration) = group.seconds {
                seconds
                    .get(&[source.name, source.tenant, department, kind_label])
                    .inc_by(duration);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::facts::CallFacts;

    fn facts(charge: &str, seconds: u32, department: Option<&str>) -> CallFacts {
        let raw = format!(
            r#"{{"id":"x","startDateTime":"2024-05-01T00:00:00Z","callType":"user_out","currency":"EUR","charge":{charge},"duration":{seconds}}}"#
        );
        let cost_center = department.map(|department| format!("CC-{department}"));
        let user = department
            .zip(cost_center.as_deref())
            .map(|(department, cost_center)| match department {
                "" => Vec::new(),
                _ => vec![("department", department), ("costCenter", cost_center)],
            });
        CallFacts::test_call(&raw, user.as_deref())
    }

    #[test]
    fn departments_past_the_cap_are_other_and_sums_stay_exact() {
        let registry = crate::metrics::Exposition::default();
        let metrics = ChargebackMetrics::new(&Registrar(&registry)).unwrap();
        metrics.enable(SourceId::test("s"), LogKind::Pstn, 2);
        let rows = [
            facts("0.10", 60, Some("Sales")),
            facts("0.35", 30, Some("Sales")),
            facts("2.6", 10, Some("Legal")),
            facts("1.00", 5, Some("IT")),
            facts("0.05", 1, None),
            facts("0.20", 2, Some("")),
        ];
        let groups = crate::facts::chargeback::groups(&rows);
        metrics.record(SourceId::test("s"), LogKind::Pstn, &groups);
        metrics.record(SourceId::test("not-enabled"), LogKind::Pstn, &groups);
        let text = crate::metrics::text_of(&registry);
        for line in [
            r#"pstn_call_charge_by_department_total{currency="EUR",department="Sales",source="s",tenant="t"} 0.45"#,
            r#"pstn_call_charge_by_department_total{currency="EUR",department="Legal",source="s",tenant="t"} 2.6"#,
            r#"pstn_call_charge_by_department_total{currency="EUR",department="other",source="s",tenant="t"} 1"#,
            r#"pstn_call_charge_by_department_total{currency="EUR",department="unknown",source="s",tenant="t"} 0.05"#,
            r#"pstn_call_charge_by_department_total{currency="EUR",department="none",source="s",tenant="t"} 0.2"#,
            r#"pstn_call_charge_by_cost_center_total{cost_center="CC-Sales",currency="EUR",source="s",tenant="t"} 0.45"#,
            r#"pstn_call_charge_by_cost_center_total{cost_center="other",currency="EUR",source="s",tenant="t"} 1"#,
            r#"pstn_call_seconds_by_department_total{department="Sales",kind="pstn_call",source="s",tenant="t"} 90"#,
            r#"pstn_call_seconds_by_department_total{department="other",kind="pstn_call",source="s",tenant="t"} 5"#,
        ] {
            assert!(text.lines().any(|found| found == line), "{line} in\n{text}");
        }
        assert!(!text.contains("not-enabled"), "{text}");
    }
}
