//! The one injectable notion of "now": the agent, the simulator and the tests ask a
//! [`Clock`], so days of traffic can be replayed in seconds with the same code.

mod clock;

#[cfg(any(test, feature = "__internals"))]
pub use crate::model::TimestampError;
pub use crate::model::{Timestamp, duration_to_ticks};
pub use clock::{Clock, ManualClock, ScaledClock, SharedClock, SystemClock};
