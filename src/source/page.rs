//! Turning one page into the batch of its new rows: parse → dedupe → enrich →
//! encode → facts, each a step of its own.

use super::SourceError;
use crate::enrich;
use crate::event::{Batch, EventEncoder, EventSpan};
use crate::facts::{CallFacts, ChargebackGroup, MonthSum, PageFacts, PlanUsage};
use crate::graph::Page;
use crate::metrics::SourceTelemetry;
use crate::model::{BadRow, DedupeKey, Enrichment, LogKind, Row};
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
    pub(super) plan_usage: Vec<PlanUsage>,
    pub(super) chargeback: Vec<MonthSum>,
    pub(super) chargeback_groups: Vec<ChargebackGroup>,
    pub(super) duplicates: u64,
    pub(super) bad_rows: u64,
}

/// A page's rows after the dedupe step: each row's key, and whether it is new (not in
/// state, not earlier in the page).
struct Deduped {
    keys: Vec<DedupeKey>,
    fresh: Vec<bool>,
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
    /// The keys committed last, asked before state (`Source::commit` fills it).
    pub(super) recent: super::recent::RecentKeys,
    /// The event lines' buffers, reused once the sinks let go of a batch (issue 28).
    pub(super) lines: crate::http_client::BufferPool,
    /// The last page's rows index, emptied: reused by the next page (issue 28).
    pub(super) spare_rows: Vec<Row<'static>>,
    /// The last page's facts once counted, emptied: reused by the next page.
    pub(super) spare_facts: Vec<CallFacts>,
}

/// The most rows a kept rows index holds room for: Graph's pages hold up to 1,000
/// rows, so an index grown far beyond that by an unusual page is let go.
const ROWS_KEPT: usize = 2_000;

/// `rows` emptied, its allocation kept for rows of another page: the iterator is empty,
/// and std collects a vector's own iterator in place when the layout is the same
/// (clippy's `.filter(..)` would keep the old lifetime: the point is to change it).
#[allow(clippy::unnecessary_filter_map)]
fn recycle<'to>(mut rows: Vec<Row<'_>>) -> Vec<Row<'to>> {
    rows.clear();
    rows.into_iter().filter_map(|_| None).collect()
}

impl Preparer {
    /// The new rows of `page`, read at `observed`, as a batch, plus what to commit.
    pub(super) async fn prepare(
        &mut self,
        page: &Page,
        observed: Timestamp,
    ) -> Result<Prepared, SourceError> {
        let (rows, bad_rows) = self.parse(page);
        let Deduped { keys, fresh } = self.dedupe(&rows).await?;
        let enrichments = self.enrich(&rows, &fresh).await;
        let (batch, delivered) = self.encode(page, &rows, keys, &enrichments, observed);
        let facts = self.facts(&rows, &enrichments);
        if rows.capacity() <= ROWS_KEPT {
            self.spare_rows = recycle(rows);
        }
        Ok(Prepared {
            batch,
            delivered,
            facts: facts.calls,
            plan_usage: facts.plan_usage,
            chargeback: facts.chargeback,
            chargeback_groups: facts.chargeback_groups,
            duplicates: fresh.iter().filter(|fresh| !**fresh).count() as u64,
            bad_rows,
        })
    }

    /// The page's rows that parse as this source's kind; the others are counted and
    /// logged (at most once a minute per reason).
    fn parse<'p>(&mut self, page: &'p Page) -> (Vec<Row<'p>>, u64) {
        let mut rows = recycle(std::mem::take(&mut self.spare_rows));
        rows.reserve(page.len());
        let mut bad_rows = 0;
        for (position, (raw, spans)) in page.rows_with_spans().enumerate() {
            match Row::parse_page_row(raw, self.kind, spans) {
                Ok(row) => rows.push(row),
                Err(reason) => {
                    bad_rows += 1;
                    self.telemetry.row_skipped(reason);
                    self.bad_rows.record(&self.source, reason, position);
                }
            }
        }
        (rows, bad_rows)
    }

    /// Each row's key, and whether it is new: not delivered before (the recent keys,
    /// then one state read for the rest of the page) and not repeated earlier in the
    /// page (shifted paging).
    async fn dedupe(&self, rows: &[Row<'_>]) -> Result<Deduped, SourceError> {
        let mut keys: Vec<DedupeKey> = rows.iter().map(Row::dedupe_key).collect();
        let recent: Vec<bool> = keys
            .iter()
            .zip(rows)
            .map(|(key, row)| self.recent.committed(key.as_ref(), row.start))
            .collect();
        let known = recent.iter().filter(|recent| **recent).count();
        tracing::debug!(source = %self.source, rows = rows.len(), known_recent = known, "page deduplicated");
        let unseen = if known > 0 {
            // Some rows were committed lately: ask state about the others only.
            let ask: Vec<usize> = (0..rows.len()).filter(|index| !recent[*index]).collect();
            let asked: Vec<_> = ask
                .iter()
                .map(|index| (keys[*index].clone(), rows[*index].start))
                .collect();
            let answers = match asked.is_empty() {
                true => Vec::new(), // every row known: no database round at all
                false => self.state.unseen(asked).await?.1,
            };
            let mut unseen = vec![false; rows.len()];
            for (index, answer) in ask.into_iter().zip(answers) {
                unseen[index] = answer;
            }
            unseen
        } else {
            let keyed = keys
                .into_iter()
                .zip(rows.iter().map(|row| row.start))
                .collect();
            let (keyed, unseen) = self.state.unseen(keyed).await?;
            keys = keyed.into_iter().map(|(key, _)| key).collect();
            unseen
        };
        let mut in_page: foldhash::HashSet<_> =
            HashSet::with_capacity_and_hasher(keys.len(), Default::default());
        let fresh = keys
            .iter()
            .zip(&unseen)
            .map(|(key, unseen)| *unseen && in_page.insert(key))
            .collect();
        drop(in_page);
        Ok(Deduped { keys, fresh })
    }

    /// What goes beside each new row (`None` for duplicates): the other party's
    /// country and, with a directory, the user (the page's users in one read).
    async fn enrich(&mut self, rows: &[Row<'_>], fresh: &[bool]) -> Vec<Option<Enrichment>> {
        let mut users = match &mut self.directory {
            Some(directory) => {
                let ids: Vec<Option<&str>> = rows
                    .iter()
                    .zip(fresh)
                    .map(|(row, fresh)| row.user_id.as_deref().filter(|_| *fresh))
                    .collect();
                directory.users(&ids).await
            }
            None => Vec::new(),
        }
        .into_iter();
        rows.iter()
            .zip(fresh)
            .map(|(row, fresh)| {
                let user = users.next().flatten();
                fresh.then(|| Enrichment {
                    other_party_country: enrich::other_party_country(row),
                    user,
                })
            })
            .collect()
    }

    /// The event lines of the new rows in one buffer, and their keys to commit.
    fn encode(
        &self,
        page: &Page,
        rows: &[Row<'_>],
        keys: Vec<DedupeKey>,
        enrichments: &[Option<Enrichment>],
        observed: Timestamp,
    ) -> (Option<Batch>, Vec<(Vec<u8>, Timestamp)>) {
        let observed_text = observed.to_string();
        // The envelope is about 192 bytes an event; a directory's `user` adds up to
        // about 256 more (sized so the buffer is not grown and copied mid-page).
        let per_event = if self.directory.is_some() {
            192 + 256
        } else {
            192
        };
        let mut lines = self.lines.take(page.body_len() + rows.len() * per_event);
        let mut events: Vec<EventSpan> = Vec::with_capacity(rows.len());
        let mut delivered = Vec::new();
        for ((row, key), enrichment) in rows.iter().zip(keys).zip(enrichments) {
            let Some(enrichment) = enrichment else {
                continue;
            };
            let encoder = &self.encoder;
            events.push(encoder.encode(row, enrichment, observed, &observed_text, &mut lines));
            delivered.push((key.into_bytes(), row.start));
        }
        let batch = match events.is_empty() {
            true => {
                self.lines.give(lines);
                None
            }
            // The buffer goes back to the pool when the last sink drops the batch.
            false => Some(Batch {
                lines: self.lines.bytes(lines),
                events,
            }),
        };
        (batch, delivered)
    }

    /// Keeps a page's facts, once counted, for the next page's (their room only).
    pub(super) fn give_back(&mut self, mut facts: Vec<CallFacts>) {
        facts.clear();
        if facts.capacity() <= ROWS_KEPT {
            self.spare_facts = facts;
        }
    }

    /// The facts of the new rows, and what they add to the monthly ledgers.
    fn facts(&mut self, rows: &[Row<'_>], enrichments: &[Option<Enrichment>]) -> PageFacts {
        // About 280 KB a page: the last page's room when it was given back, sized once
        // rather than grown and copied as it fills.
        let mut calls = std::mem::take(&mut self.spare_facts);
        calls.reserve(enrichments.iter().flatten().count());
        calls.extend(
            rows.iter()
                .zip(enrichments)
                .filter_map(|(row, enrichment)| {
                    let enrichment = enrichment.as_ref()?;
                    Some(CallFacts::of(row, self.kind).with_enrichment(enrichment))
                }),
        );
        PageFacts::of(calls, self.kind, self.directory.is_some())
    }
}

#[cfg(test)]
mod tests;
