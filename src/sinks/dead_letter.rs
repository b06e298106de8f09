//! `{data_dir}/dead-letter/{sink}.jsonl`: events a sink can never accept, each with
//! why, so that one bad event does not hold back the rest of its batch (or the source)
//! and an operator can still see and replay it. One JSON line per event:
//! `{"reason":"...","event":<the event>}`. The directory is 0700 and the file 0600
//! (events carry phone numbers), both created on first use; the file is opened for
//! appending and synced before the batch is acknowledged.

use crate::metrics::DeadLetterCounter;
use serde_json::value::RawValue;
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// One sink's dead-letter file and counter.
#[derive(Debug, Clone)]
pub struct DeadLetters {
    path: PathBuf,
    counter: DeadLetterCounter,
    /// Events written by this process (the `--once` summary counts them apart).
    written: Arc<AtomicU64>,
}

/// A sink name as a file name: anything but letters, digits, `-`, `_` and `.` becomes
/// `_` (a table name may hold a `/`), and a leading `.` too.
fn file_name(sink: &str) -> String {
    let mut name: String = sink
        .chars()
        .map(|c| match c {
            'a'..='z' | 'A'..='Z' | '0'..='9' | '-' | '_' | '.' => c,
            _ => '_',
        })
        .collect();
    if name.starts_with('.') || name.is_empty() {
        name.insert(0, '_');
    }
    name + ".jsonl"
}

/// The dead-letter line of `event` (one JSON line, newline included). An event that is
/// not valid JSON (it never should be) goes in as a string, so the file stays JSON lines.
fn line(event: &[u8], reason: &str) -> Vec<u8> {
    let event = event.strip_suffix(b"\n").unwrap_or(event);
    let mut out = Vec::with_capacity(event.len() + reason.len() + 32);
    out.extend_from_slice(b"{\"reason\":");
    let quoted = |text: &str| serde_json::to_vec(text).unwrap_or_else(|_| b"\"\"".to_vec());
    out.extend_from_slice(&quoted(reason));
    out.extend_from_slice(b",\"event\":");
    if serde_json::from_slice::<&RawValue>(event).is_ok() {
        out.extend_from_slice(event);
    } else {
        out.extend_from_slice(&quoted(&String::from_utf8_lossy(event)));
    }
    out.extend_from_slice(b"}\n");
    out
}

impl DeadLetters {
    /// The dead letters of sink `sink`, under `data_dir`.
    pub fn new(data_dir: &Path, sink: &str, counter: DeadLetterCounter) -> Self {
        DeadLetters {
            path: data_dir.join("dead-letter").join(file_name(sink)),
            counter,
            written: Arc::default(),
        }
    }

    /// How many events this process wrote here.
    pub fn written(&self) -> u64 {
        self.written.load(Ordering::SeqCst)
    }

    /// The file they go to.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends `event` with `reason`, durably, then counts it.
    pub async fn write(&self, event: &[u8], reason: &str) -> std::io::Result<()> {
        let path = self.path.clone();
        let line = line(event, reason);
        tokio::task::spawn_blocking(move || {
            if let Some(directory) = path.parent() {
                std::fs::DirBuilder::new()
                    .recursive(true)
                    .mode(0o700)
                    .create(directory)?;
            }
            let mut file = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .mode(0o600)
                .open(&path)?;
            file.write_all(&line)?;
            file.sync_data()
        })
        .await
        .map_err(std::io::Error::other)??;
        self.counter.inc();
        self.written.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_dead_letter_is_one_json_line_with_the_reason_and_the_event() {
        let out = line(b"{\"call\":{\"id\":\"a\"}}\n", "too \"big\"");
        assert!(out.ends_with(b"}\n") && out.iter().filter(|b| **b == b'\n').count() == 1);
        let value: serde_json::Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(value["reason"], "too \"big\"");
        assert_eq!(value["event"]["call"]["id"], "a");
        let broken: serde_json::Value = serde_json::from_slice(&line(b"{\"x\":", "r")).unwrap();
        assert_eq!(broken["event"], "{\"x\":");
    }

    #[test]
    fn sink_names_cannot_leave_the_dead_letter_directory() {
        assert_eq!(file_name("siem"), "siem.jsonl");
        assert_eq!(file_name("../etc/x"), "_.._etc_x.jsonl");
        assert_eq!(file_name(""), "_.jsonl");
    }
}
