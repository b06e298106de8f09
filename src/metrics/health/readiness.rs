//! What `/readyz` looks at: each source's last progress and each sink's last answer.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// What `/readyz` looks at.
#[derive(Debug, Default)]
pub(super) struct Readiness {
    pub(super) sources: Vec<(String, Arc<Mutex<SourceHealth>>)>,
    pub(super) sinks: Vec<(String, Arc<Mutex<SinkHealth>>)>,
}

#[derive(Debug)]
pub(super) struct SourceHealth {
    pub(super) started: Instant,
    pub(super) last_progress: Option<Instant>,
    pub(super) patience: Duration,
    pub(super) problem: Option<String>,
    /// What failed last since the last progress, from a fixed set of words (never a
    /// peer's: /readyz is unauthenticated): the cause /readyz gives for a stall.
    pub(super) last_failure: Option<String>,
}

#[derive(Debug, Default)]
pub(super) struct SinkHealth {
    pub(super) failing: Option<String>,
    /// Set while the destination keeps rejecting part of what it takes (a fixed text).
    pub(super) rejecting: Option<String>,
}

/// Registers `name`'s health, replacing what an earlier run of the same name left.
pub(super) fn replace<T>(
    entries: &mut Vec<(String, Arc<Mutex<T>>)>,
    name: &str,
    health: Arc<Mutex<T>>,
) {
    entries.retain(|(existing, _)| existing != name);
    entries.push((name.to_owned(), health));
}

pub(super) fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// How often a source polls: as configured (what the gauge shows), and in real time
/// under the agent's clock (what readiness waits for; the same but for the demo's
/// fast clock).
#[derive(Debug, Clone, Copy)]
pub struct SourceCadence {
    /// `poll_interval` as configured.
    pub poll_interval: Duration,
    /// The same interval in wall-clock time.
    pub real_poll_interval: Duration,
}

/// Whether the agent is ready, and what is not.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadinessReport {
    /// (component, why not ready); empty when ready.
    pub problems: Vec<(String, String)>,
}

impl ReadinessReport {
    /// Ready when nothing is wrong.
    pub fn is_ready(&self) -> bool {
        self.problems.is_empty()
    }

    /// The JSON body of `/readyz`.
    pub fn to_json(&self) -> String {
        let not_ready: serde_json::Map<String, serde_json::Value> = self
            .problems
            .iter()
            .map(|(component, why)| (component.clone(), serde_json::Value::String(why.clone())))
            .collect();
        serde_json::json!({"ready": self.is_ready(), "not_ready": not_ready}).to_string()
    }
}
