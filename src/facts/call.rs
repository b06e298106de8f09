//! The facts of one delivered row: what metrics count and the ledgers sum, read once
//! from the row's typed view with every label from a closed set.

use super::labels::{
    self, COUNTRIES, CURRENCIES, DIRECT_ROUTING_CALL_TYPES, LICENSE_CAPABILITIES, PSTN_CALL_TYPES,
    SMS_TYPES,
};
use crate::model::{Enrichment, LogKind, Row, UserAttributes};
use crate::time::Timestamp;
use std::sync::Arc;

/// The facts of one delivered row that the metrics need, with bounded labels: a
/// call's, or an SMS's or a block's (whose other fields stay empty).
#[derive(Debug, Clone, PartialEq)]
pub struct CallFacts {
    /// `callType` (calls) or `smsType` (SMS), or `other`.
    pub call_type: &'static str,
    /// `duration` in seconds.
    pub duration_seconds: Option<f64>,
    /// `charge` (calls) or `callCharge` (SMS).
    pub charge: Option<f64>,
    /// `connectionCharge`.
    pub connection_charge: Option<f64>,
    /// `charge` (calls) or `callCharge` (SMS) in millionths, read exactly.
    pub charge_micros: Option<i128>,
    /// `connectionCharge` in millionths, read exactly.
    pub connection_charge_micros: Option<i128>,
    /// `currency` (ISO 4217), `other` or `none`.
    pub currency: &'static str,
    /// `licenseCapability`, `other` or `none`.
    pub license: &'static str,
    /// The other party's country (ISO 3166 alpha-2): `otherPartyCountryCode` (beta) or,
    /// with [`CallFacts::with_enrichment`], derived from the number; `other` or `none`.
    pub country: &'static str,
    /// `destinationContext` (PSTN, SMS): `domestic`, `international`, `other` or `none`.
    pub destination: &'static str,
    /// `successfulCall` (Direct Routing).
    pub successful: Option<bool>,
    /// `finalSipCode` (Direct Routing).
    pub sip_code: &'static str,
    /// `smsUnits` (SMS).
    pub units: Option<f64>,
    /// `userBlockMode` (blocked users): `blocked`, `unblocked` or `other`.
    pub block_mode: &'static str,
    /// The row's instant (a call's start).
    pub start: Timestamp,
    /// The user's directory attributes, with [`CallFacts::with_enrichment`] (chargeback).
    pub user: Option<Arc<UserAttributes>>,
}

impl CallFacts {
    /// Reads the facts of a row of `kind`.
    pub fn of(row: &Row<'_>, kind: LogKind) -> CallFacts {
        let (call_types, call_type) = match kind {
            LogKind::Pstn => (PSTN_CALL_TYPES, row.call_type.as_deref()),
            LogKind::DirectRouting => (DIRECT_ROUTING_CALL_TYPES, row.call_type.as_deref()),
            LogKind::Sms => (SMS_TYPES, row.sms_type.as_deref()),
            LogKind::PstnBlockedUser | LogKind::PstnDialoutReport => (&[][..], None),
        };
        let call_type = match labels::from_list(call_type, call_types) {
            "none" => "other",
            known => known,
        };
        CallFacts {
            call_type,
            duration_seconds: row
                .duration_seconds
                .filter(|seconds| seconds.is_finite() && *seconds >= 0.0),
            charge: row.charge.as_ref().and_then(|amount| amount.value()),
            connection_charge: row
                .connection_charge
                .as_ref()
                .and_then(|amount| amount.value()),
            charge_micros: row.charge.as_ref().and_then(|amount| amount.micros()),
            connection_charge_micros: row
                .connection_charge
                .as_ref()
                .and_then(|amount| amount.micros()),
            currency: labels::from_sorted(row.currency.as_deref(), CURRENCIES),
            license: labels::from_list(row.license_capability.as_deref(), LICENSE_CAPABILITIES),
            country: labels::from_sorted(row.other_party_country.as_deref(), COUNTRIES),
            destination: labels::destination(row.destination_context.as_deref()),
            successful: row.successful_call,
            sip_code: labels::sip_code(row.final_sip_code),
            units: row.sms_units,
            block_mode: labels::block_mode(row.block_mode.as_deref()),
            start: row.start,
            user: None,
        }
    }

    /// These facts with what the agent derived beside the row: the other party's
    /// country (so the country series work on v1.0, whose rows carry no
    /// `otherPartyCountryCode`) and the user's directory attributes (chargeback).
    pub fn with_enrichment(mut self, enrichment: &Enrichment) -> CallFacts {
        self.user = enrichment.user.clone();
        if let Some(country) = enrichment.other_party_country {
            self.country = labels::from_sorted(Some(country.as_str()), COUNTRIES);
        }
        self
    }

    /// A test's call: the PSTN row `raw`, its user (`None`: unknown to the directory)
    /// with these directory attributes.
    #[cfg(test)]
    pub(crate) fn test_call(raw: &str, user: Option<&[(&str, &str)]>) -> CallFacts {
        let user = user.map(|attributes| {
            let values = attributes
                .iter()
                .map(|(name, value)| ((*name).to_owned(), (*value).to_owned()))
                .collect();
            Arc::new(UserAttributes::new(values))
        });
        let enrichment = Enrichment {
            other_party_country: None,
            user,
        };
        let row = Row::parse(raw).expect("a test's row parses");
        CallFacts::of(&row, LogKind::Pstn).with_enrichment(&enrichment)
    }

    /// Seconds this call draws from a calling plan's outbound minute pool: outbound
    /// Calling Plans calls (`user_out*`), as in Microsoft's minute-pool sample.
    pub fn plan_seconds(&self) -> Option<f64> {
        self.call_type
            .starts_with("user_out")
            .then_some(self.duration_seconds.unwrap_or(0.0))
    }
}
