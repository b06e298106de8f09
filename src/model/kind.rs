//! The two call-log functions, which differ only in name, row shape and range end.

use std::fmt;

/// Which Graph call log a source reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LogKind {
    /// Calling Plans and Operator Connect calls: `getPstnCalls`, inclusive `toDateTime`.
    Pstn,
    /// Direct Routing calls: `getDirectRoutingCalls`, exclusive `toDateTime`.
    DirectRouting,
}

impl LogKind {
    /// Every kind, for pre-initialising per-kind series.
    pub const ALL: [LogKind; 2] = [LogKind::Pstn, LogKind::DirectRouting];

    /// The source `type` in the configuration file.
    pub fn source_type(self) -> &'static str {
        match self {
            LogKind::Pstn => "pstn_calls",
            LogKind::DirectRouting => "direct_routing_calls",
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
        }
    }

    /// The event's `kind` field and the metrics' `kind` label.
    pub fn event_kind(self) -> &'static str {
        match self {
            LogKind::Pstn => "pstn_call",
            LogKind::DirectRouting => "direct_routing_call",
        }
    }

    /// Whether Graph includes rows starting exactly at `toDateTime`.
    pub fn to_is_inclusive(self) -> bool {
        matches!(self, LogKind::Pstn)
    }
}

impl fmt::Display for LogKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.source_type())
    }
}
