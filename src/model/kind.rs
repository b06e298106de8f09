//! The Graph logs a source can read. They share one machinery (windows, sweeps, dedupe,
//! delivery) and differ only in the facts below: function name, event kind, which field
//! holds the row's instant and its key, the range end, and whether v1.0 has them.

use std::fmt;

/// Which Graph log a source reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LogKind {
    /// Calling Plans and Operator Connect calls: `getPstnCalls`, inclusive `toDateTime`.
    Pstn,
    /// Direct Routing calls: `getDirectRoutingCalls`, exclusive `toDateTime`.
    DirectRouting,
    /// SMS sent and received, with charges: `getSmsLog` (beta only).
    Sms,
    /// Users Teams blocked from (or unblocked for) PSTN calling: `getPstnBlockedUsersLog`
    /// (beta only), Teams' own toll-fraud protection acting.
    PstnBlockedUser,
    /// Audio-conferencing dial-out usage summed per user, usage location, destination
    /// context and currency over a range: `getPstnOnlineMeetingDialoutReport` (beta
    /// only). A report, not a log: read per UTC day, sent again when its totals change.
    PstnDialoutReport,
}

/// What a row is deduplicated by when its documented key field is absent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MissingKey {
    /// The row cannot be delivered exactly once: it is skipped (`missing_id`).
    Skip,
    /// A SHA-256 of the row's canonical content (see [`crate::model::DedupeKey::of_content`]).
    HashContent,
}

/// Which field of a row holds the other party's number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OtherParty {
    /// `calleeNumber`: an outbound call.
    Callee,
    /// `callerNumber`: an inbound call.
    Caller,
    /// `destinationNumber`: an outgoing SMS.
    Destination,
    /// `sourceNumber`: an incoming SMS.
    Source,
}

impl LogKind {
    /// Every kind, for pre-initialising per-kind series and routing functions.
    pub const ALL: [LogKind; 5] = [
        LogKind::Pstn,
        LogKind::DirectRouting,
        LogKind::Sms,
        LogKind::PstnBlockedUser,
        LogKind::PstnDialoutReport,
    ];

    /// The source `type` in the configuration file.
    pub fn source_type(self) -> &'static str {
        match self {
            LogKind::Pstn => "pstn_calls",
            LogKind::DirectRouting => "direct_routing_calls",
            LogKind::Sms => "sms_log",
            LogKind::PstnBlockedUser => "pstn_blocked_users",
            LogKind::PstnDialoutReport => "pstn_dialout_report",
        }
    }

    /// Reads a source `type` from the configuration file.
    pub fn from_source_type(text: &str) -> Option<Self> {
        LogKind::ALL
            .into_iter()
            .find(|kind| kind.source_type() == text)
    }

    /// The Graph function name.
    pub fn function(self) -> &'static str {
        match self {
            LogKind::Pstn => "getPstnCalls",
            LogKind::DirectRouting => "getDirectRoutingCalls",
            LogKind::Sms => "getSmsLog",
            LogKind::PstnBlockedUser => "getPstnBlockedUsersLog",
            LogKind::PstnDialoutReport => "getPstnOnlineMeetingDialoutReport",
        }
    }

    /// The event's `kind` field and the metrics' `kind` label.
    pub fn event_kind(self) -> &'static str {
        match self {
            LogKind::Pstn => "pstn_call",
            LogKind::DirectRouting => "direct_routing_call",
            LogKind::Sms => "sms",
            LogKind::PstnBlockedUser => "pstn_blocked_user",
            LogKind::PstnDialoutReport => "pstn_dialout_report",
        }
    }

    /// The OTLP log record's event name.
    pub fn otlp_event_name(self) -> &'static str {
        match self {
            LogKind::Pstn => "pstn.call",
            LogKind::DirectRouting => "pstn.direct_routing_call",
            LogKind::Sms => "pstn.sms",
            LogKind::PstnBlockedUser => "pstn.blocked_user",
            LogKind::PstnDialoutReport => "pstn.dialout_report",
        }
    }

    /// The row type Graph names in `@odata.context`.
    pub fn row_type(self) -> &'static str {
        match self {
            LogKind::Pstn => "pstnCallLogRow",
            LogKind::DirectRouting => "directRoutingLogRow",
            LogKind::Sms => "smsLogRow",
            LogKind::PstnBlockedUser => "pstnBlockedUsersLogRow",
            LogKind::PstnDialoutReport => "pstnOnlineMeetingDialoutReport",
        }
    }

    /// The row field holding the instant Graph's range filters on: the event's
    /// `timestamp` and the instant dedupe keys are stored (and pruned) under. The
    /// dial-out report's rows have none (its events are timed by the day read).
    pub fn timestamp_field(self) -> &'static str {
        match self {
            LogKind::Pstn | LogKind::DirectRouting => "startDateTime",
            LogKind::Sms => "sentDateTime",
            LogKind::PstnBlockedUser => "blockDateTime",
            LogKind::PstnDialoutReport => "",
        }
    }

    /// The row field Graph documents as the row's unique key (none for the dial-out
    /// report: its rows are known by user, usage location, destination and currency).
    pub fn key_field(self) -> &'static str {
        match self {
            LogKind::Pstn | LogKind::DirectRouting | LogKind::Sms => "id",
            LogKind::PstnBlockedUser => "remediationId",
            LogKind::PstnDialoutReport => "",
        }
    }

    /// What to do with a row whose key field is absent: call rows always carry `id`
    /// (one without is broken), SMS and blocked-user rows often do not.
    pub fn missing_key(self) -> MissingKey {
        match self {
            LogKind::Pstn | LogKind::DirectRouting => MissingKey::Skip,
            LogKind::Sms | LogKind::PstnBlockedUser | LogKind::PstnDialoutReport => {
                MissingKey::HashContent
            }
        }
    }

    /// Whether this kind is a report summing a range (read per UTC day, each row sent
    /// again when its totals change) rather than a log of rows each delivered once.
    pub fn is_report(self) -> bool {
        matches!(self, LogKind::PstnDialoutReport)
    }

    /// Whether rows of this kind are calls (and count in the call metrics).
    pub fn is_call(self) -> bool {
        matches!(self, LogKind::Pstn | LogKind::DirectRouting)
    }

    /// Which field holds the other party's number, from the row's `callType` (calls)
    /// or `smsType` (SMS). Inbound call types end in `in` (`user_in`, `conf_in`,
    /// `ByotIn`) or start with `dr_in` (`dr_in_ucap`); outbound ones contain `out`.
    /// A type that says neither, or none at all, has no known other party: guessing a
    /// direction would give the user's own country for half the calls.
    pub fn other_party_field(
        self,
        call_type: Option<&str>,
        sms_type: Option<&str>,
    ) -> Option<OtherParty> {
        match self {
            LogKind::Pstn | LogKind::DirectRouting => {
                let call_type = call_type?.as_bytes();
                let ends_in = call_type.len() >= 2
                    && call_type[call_type.len() - 2..].eq_ignore_ascii_case(b"in");
                let starts_dr_in = call_type
                    .get(..5)
                    .is_some_and(|head| head.eq_ignore_ascii_case(b"dr_in"));
                if call_type
                    .windows(3)
                    .any(|part| part.eq_ignore_ascii_case(b"out"))
                {
                    Some(OtherParty::Callee)
                } else if ends_in || starts_dr_in {
                    Some(OtherParty::Caller)
                } else {
                    None
                }
            }
            LogKind::Sms => match sms_type? {
                sms if sms.eq_ignore_ascii_case("sms_out") => Some(OtherParty::Destination),
                sms if sms.eq_ignore_ascii_case("sms_in") => Some(OtherParty::Source),
                _ => None,
            },
            LogKind::PstnBlockedUser | LogKind::PstnDialoutReport => None,
        }
    }

    /// Whether Graph offers the function only under `beta` (v1.0 answers an error).
    pub fn beta_only(self) -> bool {
        matches!(
            self,
            LogKind::Sms | LogKind::PstnBlockedUser | LogKind::PstnDialoutReport
        )
    }

    /// Whether Graph includes rows at exactly `toDateTime`. Microsoft does not say for
    /// the dial-out report; it is read as inclusive like its siblings, so a day's
    /// request ends one tick before the next day and no call is counted in two days.
    pub fn to_is_inclusive(self) -> bool {
        !matches!(self, LogKind::DirectRouting)
    }
}

impl fmt::Display for LogKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.source_type())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_other_party_is_the_callee_of_outbound_and_the_caller_of_inbound_types() {
        let field = |kind: LogKind, call_type: &str| kind.other_party_field(Some(call_type), None);
        for outbound in [
            "user_out",
            "user_out_conf",
            "user_out_transfer",
            "user_out_forwarding",
            "conf_out",
            "ucap_out",
        ] {
            assert_eq!(
                field(LogKind::Pstn, outbound),
                Some(OtherParty::Callee),
                "{outbound}"
            );
        }
        for outbound in [
            "dr_out",
            "dr_out_user_conf",
            "dr_out_user_forwarding",
            "dr_out_user_transfer",
            "dr_emergency_out",
            "dr_out_ucap",
        ] {
            assert_eq!(
                field(LogKind::DirectRouting, outbound),
                Some(OtherParty::Callee),
                "{outbound}"
            );
        }
        for inbound in ["user_in", "conf_in", "ucap_in", "ByotIn"] {
            assert_eq!(
                field(LogKind::Pstn, inbound),
                Some(OtherParty::Caller),
                "{inbound}"
            );
        }
        for inbound in ["dr_in", "dr_in_ucap"] {
            assert_eq!(
                field(LogKind::DirectRouting, inbound),
                Some(OtherParty::Caller),
                "{inbound}"
            );
        }
        assert_eq!(field(LogKind::Pstn, "mystery"), None);
        assert_eq!(LogKind::Pstn.other_party_field(None, None), None);
        assert_eq!(
            LogKind::Sms.other_party_field(None, Some("sms_out")),
            Some(OtherParty::Destination)
        );
        assert_eq!(
            LogKind::Sms.other_party_field(None, Some("sms_in")),
            Some(OtherParty::Source)
        );
        assert_eq!(
            LogKind::PstnBlockedUser.other_party_field(Some("user_in"), None),
            None
        );
    }

    #[test]
    fn every_kind_round_trips_its_source_type_and_names_are_distinct() {
        for kind in LogKind::ALL {
            assert_eq!(LogKind::from_source_type(kind.source_type()), Some(kind));
        }
        let mut names: Vec<_> = LogKind::ALL.iter().map(|k| k.otlp_event_name()).collect();
        names.dedup();
        assert_eq!(names.len(), LogKind::ALL.len());
        assert_eq!(LogKind::Sms.otlp_event_name(), "pstn.sms");
        assert_eq!(
            LogKind::PstnBlockedUser.otlp_event_name(),
            "pstn.blocked_user"
        );
    }

    #[test]
    fn the_new_logs_are_beta_only_inclusive_and_hash_rows_without_a_key() {
        for kind in [LogKind::Sms, LogKind::PstnBlockedUser] {
            assert!(kind.beta_only() && kind.to_is_inclusive() && !kind.is_call());
            assert_eq!(kind.missing_key(), MissingKey::HashContent);
        }
        assert_eq!(LogKind::Sms.timestamp_field(), "sentDateTime");
        assert_eq!(LogKind::PstnBlockedUser.key_field(), "remediationId");
        assert!(!LogKind::DirectRouting.to_is_inclusive());
        let report = LogKind::PstnDialoutReport;
        assert!(report.is_report() && report.beta_only() && !report.is_call());
        assert!(LogKind::ALL.iter().filter(|kind| kind.is_report()).count() == 1);
        assert_eq!(LogKind::Pstn.missing_key(), MissingKey::Skip);
    }
}
