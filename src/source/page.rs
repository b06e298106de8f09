//! Turning one page into the batch of its new rows.

use super::SourceError;
use crate::enrich;
use crate::event::EventEncoder;
use crate::graph::Page;
use crate::metrics::{CallFacts, SourceTelemetry};
use crate::model::{BadRow, DedupeKey, Enrichment, LogKind, Row};
use crate::sinks::Batch;
use crate::state::SourceState;
use crate::time::Timestamp;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A page's new rows, ready to deliver, and what to commit once delivered.
#[derive(Debug)]
pub(super) struct Prepared {
    pub(super) batch: Option<Batch>,
    pub(super) delivered: Vec<(Vec<u8>, Timestamp)>,
    pub(super) facts: Vec<CallFacts>,
    pub(super) plan_usage: Vec<(String, &'static str, f64)>,
    pub(super) chargeback: Vec<crate::state::MonthSum>,
    pub(super) duplicates: u64,
    pub(super) bad_rows: u64,
}

/// Logs skipped rows at most once a minute per reason, with the count since.
#[derive(Debug, Default)]
pub(super) struct BadRowLog {
    last: HashMap<&'static str, (Instant, u64)>,
}

impl BadRowLog {
    pub(super) fn record(&mut self, source: &str, reason: BadRow, position: usize) {
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

/// Everything fixed per source that turning a page into a batch needs.
#[derive(Debug)]
pub(super) struct Preparer {
    pub(super) source: Arc<str>,
    pub(super) kind: LogKind,
    pub(super) encoder: EventEncoder,
    pub(super) state: SourceState,
    pub(super) telemetry: SourceTelemetry,
    pub(super) bad_rows: BadRowLog,
    /// The source's directory, when it has a `[sources.NAME.directory]`.
    pub(super) directory: Option<super::directory::Directory>,
}

impl Preparer {
    /// The new rows of `page`, read at `observed`, as a batch, plus what to commit.
    pub(super) async fn prepare(
        &mut self,
        page: &Page,
        observed: Timestamp,
    ) -> Result<Prepared, SourceError> {
        let (source, kind, encoder, state) = (&self.source, self.kind, &self.encoder, &self.state);
        let mut rows = Vec::with_capacity(page.len());
        let mut bad_rows = 0;
        for (position, raw) in page.rows().enumerate() {
            match Row::parse_as(raw, kind) {
                Ok(row) => rows.push(row),
                Err(reason) => {
                    bad_rows += 1;
                    self.telemetry.row_skipped(reason);
                    self.bad_rows.record(source, reason, position);
                }
            }
        }
        let keyed: Vec<(DedupeKey, Timestamp)> = rows
            .iter()
            .map(|row| (row.dedupe_key(), row.start))
            .collect();
        let (keyed, unseen) = state.unseen(keyed).await?;

        let observed_text = observed.to_string();
        // The envelope is about 192 bytes an event; a directory's `user` adds up to
        // about 256 more (sized so the buffer is not grown and copied mid-page).
        let per_event = if self.directory.is_some() {
            192 + 256
        } else {
            192
        };
        let mut lines = Vec::with_capacity(page.body_len() + rows.len() * per_event);
        let mut events = Vec::new();
        let mut delivered = Vec::new();
        let mut facts = Vec::new();
        let mut plan_usage: Vec<(String, &'static str, f64)> = Vec::new();
        let mut duplicates = 0;
        let mut in_page = HashSet::with_capacity(rows.len());
        // A row repeated within the page (shifted paging) is a duplicate too.
        let fresh: Vec<bool> = keyed
            .iter()
            .zip(&unseen)
            .map(|(keyed, unseen)| *unseen && in_page.insert(keyed))
            .collect();
        drop(in_page);
        // The users of the page's new rows, all at once (one read transaction).
        let mut users = match &mut self.directory {
            Some(directory) => {
                let ids: Vec<Option<&str>> = rows
                    .iter()
                    .zip(&fresh)
                    .map(|(row, fresh)| row.user_id.as_deref().filter(|_| *fresh))
                    .collect();
                directory.users(&ids).await
            }
            None => Vec::new(),
        }
        .into_iter();
        for ((row, (key, _)), fresh) in rows.iter().zip(keyed).zip(fresh) {
            let user = users.next().flatten();
            if !fresh {
                duplicates += 1;
                continue;
            }
            let enrichment = Enrichment {
                other_party_country: enrich::other_party_country(row),
                user,
            };
            events.push(encoder.encode(row, &enrichment, observed, &observed_text, &mut lines));
            let call = CallFacts::of(row, kind).with_enrichment(&enrichment);
            if let Some(seconds) = call.plan_seconds().filter(|_| kind == LogKind::Pstn) {
                let month = month_of(row.start);
                match plan_usage
                    .iter_mut()
                    .find(|(m, license, _)| *m == month && *license == call.license)
                {
                    Some(entry) => entry.2 += seconds,
                    None => plan_usage.push((month, call.license, seconds)),
                }
            }
            facts.push(call);
            delivered.push((key.into_bytes(), row.start));
        }
        let batch = (!events.is_empty()).then(|| Batch {
            lines: lines.into(),
            events,
        });
        let chargeback = if self.directory.is_some() && kind.is_call() {
            super::chargeback::month_sums(&facts)
        } else {
            Vec::new()
        };
        Ok(Prepared {
            batch,
            delivered,
            facts,
            plan_usage,
            chargeback,
            duplicates,
            bad_rows,
        })
    }
}

/// The calendar month (UTC) of an instant, as `YYYY-MM`.
pub(super) fn month_of(instant: Timestamp) -> String {
    instant.to_string()[..7].to_owned()
}
