//! The simulated tenant's calls: a pure function of (seed, kind, slot), so any window
//! can be answered without storing rows, and the same seed gives the same calls.
//!
//! Time is cut into slots; a slot holds at most one call, whose presence follows the
//! hour of day and day of week. Rows become visible `Lateness` after the call ends.
//! SMS and blocked-user rows are events without a duration, in longer slots (fewer of
//! them); blocked-user slots come in pairs: a block, then maybe its unblock.

use super::call_core::CallCore;
use super::lateness::Lateness;
use super::random::CallRandom;
use super::{rows, rows_dialout, rows_logs};
use crate::model::{ApiVersion, LogKind};
use crate::time::Timestamp;

const TICKS_PER_DAY: i64 = 86_400 * Timestamp::TICKS_PER_SECOND;
/// The mean of `presence` over a week, so that `calls_per_day` is the real average.
const MEAN_PRESENCE: f64 = 0.5625 * (5.0 + 2.0 * 0.3) / 7.0;

/// What the generator makes.
#[derive(Debug, Clone)]
pub struct Generator {
    seed: u64,
    slot_ticks: i64,
    lateness: Lateness,
}

fn stream(kind: LogKind) -> u64 {
    match kind {
        LogKind::Pstn => 0x5057_4E00,
        LogKind::DirectRouting => 0x4452_0000,
        LogKind::Sms => 0x534D_5300,
        LogKind::PstnBlockedUser => 0x424C_4B00,
        LogKind::PstnDialoutReport => 0x4449_414C,
    }
}

/// How many call slots make one slot of `kind`: a quarter as many SMS as calls, and
/// a block (or unblock) now and then (about five blocks a day at 2,000 calls a day).
fn slot_factor(kind: LogKind) -> i64 {
    match kind {
        LogKind::Pstn | LogKind::DirectRouting => 1,
        LogKind::Sms => 4,
        LogKind::PstnBlockedUser => 200,
        // Audio-conferencing dial-outs: about one in ten calls.
        LogKind::PstnDialoutReport => 10,
    }
}

/// Share of blocks that are lifted later (an admin unblocks the user).
const UNBLOCKED_SHARE: f64 = 0.7;

/// Busy in office hours, quieter at night and at weekends.
fn presence(start: Timestamp) -> f64 {
    let days = start.ticks().div_euclid(TICKS_PER_DAY);
    let hour = start.ticks().rem_euclid(TICKS_PER_DAY) / (3600 * Timestamp::TICKS_PER_SECOND);
    let weekday = (days + 3).rem_euclid(7); // 1970-01-01 was a Thursday; 0 = Monday
    let hourly = if (8..18).contains(&hour) { 1.0 } else { 0.25 };
    if weekday >= 5 { hourly * 0.3 } else { hourly }
}

impl Generator {
    /// A tenant making `calls_per_day` calls of each kind on average.
    pub fn new(seed: u64, calls_per_day: f64, lateness: Lateness) -> Self {
        let slots_per_day = (calls_per_day.max(0.001) / MEAN_PRESENCE).max(1.0);
        Generator {
            seed,
            slot_ticks: ((TICKS_PER_DAY as f64 / slots_per_day) as i64).max(1),
            lateness,
        }
    }

    /// The calls of another tenant: the seed mixed with the tenant's name (case
    /// ignored), so that several tenants served by one simulator differ and a
    /// cross-tenant mix-up in an agent shows.
    pub fn for_tenant(&self, tenant: &str) -> Generator {
        // FNV-1a: stable across runs and platforms.
        let hash = tenant
            .to_ascii_lowercase()
            .bytes()
            .fold(0xcbf2_9ce4_8422_2325_u64, |hash, byte| {
                (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3)
            });
        Generator {
            seed: self.seed ^ hash,
            ..self.clone()
        }
    }

    /// Ticks per slot of `kind`.
    fn slot_ticks(&self, kind: LogKind) -> i64 {
        self.slot_ticks.saturating_mul(slot_factor(kind))
    }

    /// The call (or SMS, or block) in `slot`, if there is one.
    pub fn core(&self, kind: LogKind, slot: i64) -> Option<CallCore> {
        if kind == LogKind::PstnBlockedUser {
            return self.block_core(slot);
        }
        let slot_ticks = self.slot_ticks(kind);
        let mut random = CallRandom::new(self.seed, stream(kind), slot as u64);
        let offset = (random.unit() * slot_ticks as f64) as i64;
        let start = Timestamp::from_ticks(slot * slot_ticks + offset);
        if random.unit() >= presence(start) {
            return None;
        }
        let failed = kind == LogKind::DirectRouting && random.unit() < 0.10;
        let duration_seconds = if failed || kind == LogKind::Sms {
            0
        } else {
            (5.2 + 1.2 * random.normal()).exp().clamp(1.0, 4.0 * 3600.0) as i64
        };
        Some(self.visible_after(start, duration_seconds, slot, &mut random))
    }

    /// Blocked-user slots pair up: the even slot of a pair holds a block, the odd one
    /// its unblock (for most blocks), both decided by the pair's own draws.
    fn block_core(&self, slot: i64) -> Option<CallCore> {
        let kind = LogKind::PstnBlockedUser;
        let slot_ticks = self.slot_ticks(kind);
        let pair = slot.div_euclid(2);
        let mut draws = CallRandom::new(self.seed, stream(kind), pair as u64);
        let block = Timestamp::from_ticks(
            2 * pair * slot_ticks + (draws.unit() * slot_ticks as f64) as i64,
        );
        if draws.unit() >= presence(block) {
            return None;
        }
        let start = if slot.rem_euclid(2) == 0 {
            block
        } else {
            if draws.unit() >= UNBLOCKED_SHARE {
                return None;
            }
            Timestamp::from_ticks(
                (2 * pair + 1) * slot_ticks + (draws.unit() * slot_ticks as f64) as i64,
            )
        };
        let mut random = CallRandom::new(self.seed, stream(kind) ^ 0x1A7E, slot as u64);
        Some(self.visible_after(start, 0, slot, &mut random))
    }

    fn visible_after(
        &self,
        start: Timestamp,
        duration_seconds: i64,
        slot: i64,
        random: &mut CallRandom,
    ) -> CallCore {
        let late_seconds = self.lateness.draw(random);
        let visible_ticks = start.ticks()
            + duration_seconds * Timestamp::TICKS_PER_SECOND
            + (late_seconds * Timestamp::TICKS_PER_SECOND as f64) as i64;
        CallCore {
            slot,
            start,
            duration_seconds,
            visible: Timestamp::from_ticks(visible_ticks),
        }
    }

    /// Calls starting in `[from, to)` (or `[from, to]` when `to_inclusive`), in start order,
    /// that are visible at `now`.
    pub fn visible_calls(
        &self,
        kind: LogKind,
        from: Timestamp,
        to: Timestamp,
        to_inclusive: bool,
        now: Timestamp,
    ) -> impl Iterator<Item = CallCore> + '_ {
        let slot_ticks = self.slot_ticks(kind);
        let first = from.ticks().div_euclid(slot_ticks);
        let last = to.ticks().div_euclid(slot_ticks);
        (first..=last)
            .filter_map(move |slot| self.core(kind, slot))
            .filter(move |call| {
                call.start >= from && (call.start < to || (to_inclusive && call.start == to))
            })
            .filter(move |call| call.visible <= now)
    }

    /// The dial-out report's rows for dial-out calls starting in `[from, to)`
    /// (`[from, to]` when `to_inclusive`) that are visible at `now`, in a fixed order.
    pub fn dialout_report(
        &self,
        from: Timestamp,
        to: Timestamp,
        to_inclusive: bool,
        now: Timestamp,
    ) -> Vec<String> {
        let calls = self.visible_calls(LogKind::PstnDialoutReport, from, to, to_inclusive, now);
        rows_dialout::report(self.seed, calls)
    }

    /// Writes the row of `call` as Graph would.
    pub fn write_row(&self, kind: LogKind, version: ApiVersion, call: &CallCore, out: &mut String) {
        let mut random = CallRandom::new(self.seed, stream(kind) ^ 0x00D3_7A11, call.slot as u64);
        match kind {
            LogKind::Pstn => rows::pstn(call, version, &mut random, out),
            LogKind::DirectRouting => rows::direct_routing(call, &mut random, out),
            LogKind::Sms => rows_logs::sms(call, &mut random, out),
            LogKind::PstnBlockedUser => {
                let pair = call.slot.div_euclid(2);
                let mut user = CallRandom::new(self.seed, stream(kind) ^ 0x05E4, pair as u64);
                rows_logs::blocked_user(call, &mut user, &mut random, out)
            }
            LogKind::PstnDialoutReport => rows_dialout::dialout_row(self.seed, call, out),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn day() -> (Timestamp, Timestamp) {
        let from = Timestamp::parse("2024-05-06T00:00:00Z").unwrap();
        (from, from.saturating_add(Duration::from_secs(86_400)))
    }

    #[test]
    fn the_same_seed_gives_the_same_rows_and_another_seed_does_not() {
        let (from, to) = day();
        let far = to.saturating_add(Duration::from_secs(10 * 86_400));
        let rows = |seed| {
            let generator = Generator::new(seed, 2000.0, Lateness::Default);
            let mut out = String::new();
            for call in generator
                .visible_calls(LogKind::Pstn, from, to, false, far)
                .take(50)
            {
                generator.write_row(LogKind::Pstn, ApiVersion::V1, &call, &mut out);
            }
            out
        };
        assert_eq!(rows(7), rows(7));
        assert_ne!(rows(7), rows(8));
    }

    #[test]
    fn volume_follows_calls_per_day_over_a_week() {
        let generator = Generator::new(1, 1000.0, Lateness::None);
        let from = Timestamp::parse("2024-05-06T00:00:00Z").unwrap();
        let to = from.saturating_add(Duration::from_secs(7 * 86_400));
        let count = generator
            .visible_calls(
                LogKind::DirectRouting,
                from,
                to,
                false,
                Timestamp::from_ticks(i64::MAX),
            )
            .count();
        assert!(
            (6300..=7700).contains(&count),
            "{count} calls in a week at 1000/day"
        );
    }

    #[test]
    fn rows_appear_only_once_visible() {
        let (from, to) = day();
        let generator = Generator::new(3, 5000.0, Lateness::Default);
        let at_end = generator
            .visible_calls(LogKind::Pstn, from, to, false, to)
            .count();
        let later = generator
            .visible_calls(
                LogKind::Pstn,
                from,
                to,
                false,
                to.saturating_add(Duration::from_secs(3 * 86_400)),
            )
            .count();
        assert!(
            at_end < later,
            "{at_end} visible at the window's end, {later} three days later"
        );
    }
}
