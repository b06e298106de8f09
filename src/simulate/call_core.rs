//! The facts of one generated call that decide which page holds it: shared by the
//! generator (which draws them) and every row writer (which draws the rest from them).

use crate::time::Timestamp;

/// The few facts about a call needed to decide whether it is in a page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CallCore {
    /// The call's slot.
    pub slot: i64,
    /// Start time.
    pub start: Timestamp,
    /// Duration in whole seconds.
    pub duration_seconds: i64,
    /// When its row appears in Graph.
    pub visible: Timestamp,
}
