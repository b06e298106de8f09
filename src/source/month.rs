//! This month's gauges, set from state after every poll so they are right after a
//! restart: the Calling Plans minutes and, with a directory, the chargeback.

use super::Source;
use crate::facts::Month;
use crate::model::LogKind;

impl Source {
    /// Sets this month's calling-plan gauge from state, so it is right after a restart.
    pub(super) async fn refresh_plan_usage(&self) {
        if self.config.kind != LogKind::Pstn {
            return;
        }
        let month = Month::of(self.clock.now());
        match self.state.plan_usage(month).await {
            Ok(usage) => self
                .metrics
                .calls
                .set_plan_usage(self.config.metrics_id(), &usage),
            Err(error) => {
                tracing::warn!(source = %self.name, %error, "cannot read this month's calling-plan usage")
            }
        }
    }

    /// Sets this month's chargeback gauges from state (a source with a directory).
    pub(super) async fn refresh_chargeback_month(&self) {
        let Some(directory) = &self.config.directory else {
            return;
        };
        if !self.config.kind.is_call() {
            return;
        }
        let max_label_values = directory.max_label_values;
        let month = Month::of(self.clock.now());
        match self.state.chargeback(month).await {
            Ok(sums) => self.metrics.calls.set_chargeback_month(
                self.config.metrics_id(),
                &sums,
                max_label_values,
            ),
            Err(error) => {
                tracing::warn!(source = %self.name, %error, "cannot read this month's chargeback")
            }
        }
    }
}
