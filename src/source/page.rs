//! Turning one page into the batch of its new rows.

use super::{SourceError, blocking};
use crate::event::EventEncoder;
use crate::graph::{BadRow, CallKind, DedupeKey, Page, Row};
use crate::sinks::{Batch, EventSpan};
use crate::state::SourceState;
use crate::time::Timestamp;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A page's new rows, ready to deliver, and what to commit once delivered.
#[derive(Debug)]
pub(super) struct Prepared {
    pub(super) batch: Option<Batch>,
    pub(super) delivered: Vec<(DedupeKey, Timestamp)>,
    pub(super) duplicates: u64,
    pub(super) bad_rows: u64,
}

/// Logs skipped rows at most once a minute per reason, with the count since.
#[derive(Debug, Default)]
pub(super) struct BadRowLog {
    last: HashMap<&'static str, (Instant, u64)>,
}

impl BadRowLog {
    fn record(&mut self, source: &str, reason: BadRow, position: usize) {
        let entry = self
            .last
            .entry(reason.reason())
            .or_insert((Instant::now() - Duration::from_secs(3600), 0));
        entry.1 += 1;
        if entry.0.elapsed() >= Duration::from_secs(60) {
            tracing::warn!(
                source,
                reason = reason.reason(),
                position_in_page = position,
                skipped_since_last_report = entry.1,
                "skipping a row Graph sent: {reason}"
            );
            *entry = (Instant::now(), 0);
        }
    }
}

pub(super) async fn prepare(
    page: &Page,
    encoder: &EventEncoder,
    observed: Timestamp,
    state: &SourceState,
    bad_log: &mut BadRowLog,
    source: &Arc<str>,
    kind: CallKind,
) -> Result<Prepared, SourceError> {
    let mut rows = Vec::with_capacity(page.len());
    let mut bad_rows = 0;
    for (position, raw) in page.rows().enumerate() {
        match Row::parse(raw) {
            Ok(row) => rows.push(row),
            Err(reason) => {
                bad_rows += 1;
                bad_log.record(source, reason, position);
            }
        }
    }
    let keys: Vec<DedupeKey> = rows.iter().map(Row::dedupe_key).collect();
    let (keys, unseen) = {
        let state = state.clone();
        blocking(move || state.unseen(&keys).map(|unseen| (keys, unseen))).await?
    };
    let observed_text = observed.to_string();
    let mut lines = Vec::with_capacity(page.body_len() + rows.len() * 192);
    let mut events = Vec::new();
    let mut delivered = Vec::new();
    let mut duplicates = 0;
    let mut in_page = HashSet::with_capacity(rows.len());
    let fresh: Vec<bool> = keys
        .iter()
        .zip(&unseen)
        .map(|(key, unseen)| *unseen && in_page.insert(key))
        .collect();
    drop(in_page);
    for ((row, key), fresh) in rows.iter().zip(keys).zip(fresh) {
        if !fresh {
            duplicates += 1;
            continue;
        }
        let start = lines.len();
        encoder.encode(row, &observed_text, &mut lines);
        events.push(EventSpan {
            line: start..lines.len(),
            call_start: row.start,
        });
        delivered.push((key, row.start));
    }
    let batch = (!events.is_empty()).then(|| Batch {
        source: source.clone(),
        kind,
        lines: lines.into(),
        events,
    });
    Ok(Prepared {
        batch,
        delivered,
        duplicates,
        bad_rows,
    })
}
