//! The documented fields of each kind's rows (Graph's published schemas, v1.0 and
//! beta), so configuration naming a field (redaction) can be checked and corrected.

use super::LogKind;

/// pstnCallLogRow, v1.0 and beta.
const PSTN_FIELDS: &[&str] = &[
    "id",
    "callId",
    "userId",
    "userPrincipalName",
    "userDisplayName",
    "startDateTime",
    "endDateTime",
    "duration",
    "charge",
    "connectionCharge",
    "currency",
    "callType",
    "calleeNumber",
    "callerNumber",
    "usageCountryCode",
    "tenantCountryCode",
    "destinationContext",
    "destinationName",
    "conferenceId",
    "licenseCapability",
    "inventoryType",
    "operator",
    "callDurationSource",
    "otherPartyCountryCode",
    "administrativeUnitInfos",
    "clientLocalIpV4Address",
    "clientLocalIpV6Address",
    "clientPublicIpV4Address",
    "clientPublicIpV6Address",
];

/// directRoutingLogRow, v1.0 and beta.
const DIRECT_ROUTING_FIELDS: &[&str] = &[
    "id",
    "correlationId",
    "userId",
    "userPrincipalName",
    "userDisplayName",
    "startDateTime",
    "inviteDateTime",
    "failureDateTime",
    "endDateTime",
    "duration",
    "callerNumber",
    "calleeNumber",
    "callType",
    "successfulCall",
    "finalSipCode",
    "callEndSubReason",
    "finalSipCodePhrase",
    "trunkFullyQualifiedDomainName",
    "mediaBypassEnabled",
    "mediaPathLocation",
    "signalingLocation",
    "otherPartyCountryCode",
    "administrativeUnitInfos",
];

/// smsLogRow (beta).
const SMS_FIELDS: &[&str] = &[
    "id",
    "smsId",
    "sentDateTime",
    "smsType",
    "smsUnits",
    "callCharge",
    "currency",
    "destinationContext",
    "destinationName",
    "sourceNumber",
    "destinationNumber",
    "otherPartyCountryCode",
    "userCountryCode",
    "tenantCountryCode",
    "licenseCapability",
    "userId",
    "userPrincipalName",
    "userDisplayName",
];

/// pstnBlockedUsersLogRow (beta).
const BLOCKED_USER_FIELDS: &[&str] = &[
    "blockDateTime",
    "blockReason",
    "remediationId",
    "userBlockMode",
    "userId",
    "userPrincipalName",
    "userDisplayName",
    "userTelephoneNumber",
];

/// pstnOnlineMeetingDialoutReport (beta).
const DIALOUT_REPORT_FIELDS: &[&str] = &[
    "userId",
    "userPrincipalName",
    "userDisplayName",
    "usageLocation",
    "destinationContext",
    "currency",
    "totalCalls",
    "totalCallSeconds",
    "totalCallCharge",
];

impl LogKind {
    /// The documented fields of this kind's rows.
    pub fn row_fields(self) -> &'static [&'static str] {
        match self {
            LogKind::Pstn => PSTN_FIELDS,
            LogKind::DirectRouting => DIRECT_ROUTING_FIELDS,
            LogKind::Sms => SMS_FIELDS,
            LogKind::PstnBlockedUser => BLOCKED_USER_FIELDS,
            LogKind::PstnDialoutReport => DIALOUT_REPORT_FIELDS,
        }
    }
}
