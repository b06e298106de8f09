//! A source's chargeback sums in SQLite: one row per (month, dimension) holding every
//! (value, currency) sum of it as a JSON array of `[value, currency, micros, seconds]`.
//! A row per sum cost an UPSERT per sum at every page's commit: a page of 1,000 calls
//! touched about 270 of them, at 16,600 instructions each, about a tenth of the agent's
//! instructions with a directory (issue 28, BENCHMARKS). Now a commit reads, adds to
//! and writes back one row per dimension it touches. JSON, so schema 7's migration
//! regroups the old rows in SQL alone (SQLite writes a REAL with 17 significant
//! digits: the same f64 reads back). A row that no longer reads as sums is moved
//! aside (`meta`), never left to fail every commit: a commit that fails after the
//! sinks took its batch sends that batch again.

use crate::facts::{Dimension, Month, MonthSum};
use crate::state::copy::ChargebackRow;
use rusqlite::types::Type;
use rusqlite::{Connection, OptionalExtension, params};
use serde::{Deserialize, Serialize};
use std::borrow::Cow;
use std::cmp::Ordering;

/// One stored sum: value, currency, charge in millionths, seconds. Its texts are
/// borrowed from the row's JSON when they need no unescaping: a commit reads the
/// sums of its month back, and a copy of each would be an allocation per sum.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Entry<'a>(
    #[serde(borrow)] Cow<'a, str>,
    #[serde(borrow)] Cow<'a, str>,
    i64,
    f64,
);

impl Entry<'_> {
    fn key(&self) -> (&str, &str) {
        (&self.0, &self.1)
    }

    fn add(&mut self, other: &Entry<'_>) {
        self.2 = self.2.saturating_add(other.2);
        self.3 += other.3;
    }
}

/// Adds a commit's sums to the stored ones, in its transaction; `sums` may name a
/// (month, dimension, value, currency) more than once.
pub(super) fn add(
    connection: &Connection,
    source_id: i64,
    sums: &[MonthSum],
) -> rusqlite::Result<()> {
    let mut groups: Vec<(Month, Dimension)> =
        sums.iter().map(|sum| (sum.month, sum.dimension)).collect();
    groups.sort();
    groups.dedup();
    for (month, dimension) in groups {
        let added = sorted(
            sums.iter()
                .filter(|sum| sum.month == month && sum.dimension == dimension)
                .map(|sum| {
                    Entry(
                        Cow::Borrowed(&sum.value),
                        Cow::Borrowed(&sum.currency),
                        sum.micros,
                        sum.seconds,
                    )
                })
                .collect(),
        );
        let stored = read_text(connection, source_id, month, dimension)?;
        let stored = match stored.as_deref() {
            None => Vec::new(),
            Some(text) => match decode(text, 0) {
                Ok(entries) => entries,
                Err(error) => {
                    set_aside(connection, source_id, month, dimension, text, &error)?;
                    Vec::new()
                }
            },
        };
        let text = serde_json::to_string(&merged(stored, added))
            .map_err(|error| rusqlite::Error::ToSqlConversionFailure(Box::new(error)))?;
        connection
            .prepare_cached(
                "INSERT INTO chargeback_sums (source_id, month, dimension, sums) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (source_id, month, dimension) DO UPDATE SET sums = excluded.sums",
            )?
            .execute(params![source_id, month.to_string(), dimension.as_str(), text])?;
    }
    Ok(())
}

/// Every sum of calls that started in `month`, by dimension.
pub(super) fn read(
    connection: &Connection,
    source_id: i64,
    month: Month,
) -> rusqlite::Result<Vec<MonthSum>> {
    let mut out = Vec::new();
    for dimension in Dimension::ALL {
        let Some(text) = read_text(connection, source_id, month, dimension)? else {
            continue;
        };
        out.extend(
            decode(&text, 0)?
                .into_iter()
                .map(|Entry(value, currency, micros, seconds)| MonthSum {
                    month,
                    dimension,
                    value: value.into_owned(),
                    currency: currency.into_owned(),
                    micros,
                    seconds,
                }),
        );
    }
    Ok(out)
}

/// Every stored sum of the source, as rows `(month, dimension, value, currency,
/// micros, seconds)`: what `state copy` writes to PostgreSQL, which keeps a row each.
pub(in crate::state) fn rows(
    connection: &Connection,
    source_id: i64,
) -> rusqlite::Result<Vec<ChargebackRow>> {
    let mut statement = connection.prepare(
        "SELECT month, dimension, sums FROM chargeback_sums WHERE source_id = ?1 ORDER BY month, dimension",
    )?;
    let mut groups = statement.query([source_id])?;
    let mut out = Vec::new();
    while let Some(row) = groups.next()? {
        let month: String = row.get(0)?;
        let dimension: String = row.get(1)?;
        let text: String = row.get(2)?;
        out.extend(
            decode(&text, 2)?
                .into_iter()
                .map(|Entry(value, currency, micros, seconds)| {
                    (
                        month.clone(),
                        dimension.clone(),
                        value.into_owned(),
                        currency.into_owned(),
                        micros,
                        seconds,
                    )
                }),
        );
    }
    Ok(out)
}

/// Keeps a stored row that does not read as sums in `meta`, under
/// `chargeback_damaged/SOURCE/MONTH/DIMENSION`, and says so: that month's sums start
/// again from this commit, and the old text is there to mend by hand.
fn set_aside(
    connection: &Connection,
    source_id: i64,
    month: Month,
    dimension: Dimension,
    text: &str,
    error: &rusqlite::Error,
) -> rusqlite::Result<()> {
    let key = format!(
        "chargeback_damaged/{source_id}/{month}/{}",
        dimension.as_str()
    );
    tracing::warn!(%month, dimension = dimension.as_str(), %error, key, "the stored chargeback sums do not read as sums; they are kept in the meta table and this month's sums start again");
    connection.execute(
        "INSERT OR REPLACE INTO meta (key, value) VALUES (?1, ?2)",
        params![key, text],
    )?;
    Ok(())
}

/// The stored JSON of one (month, dimension), if any.
fn read_text(
    connection: &Connection,
    source_id: i64,
    month: Month,
    dimension: Dimension,
) -> rusqlite::Result<Option<String>> {
    connection
        .prepare_cached(
            "SELECT sums FROM chargeback_sums WHERE source_id = ?1 AND month = ?2 AND dimension = ?3",
        )?
        .query_row(params![source_id, month.to_string(), dimension.as_str()], |row| row.get(0))
        .optional()
}

/// The sums in a stored JSON text (column `column`, for the error), in (value,
/// currency) order, each once; a damaged text is an error, never a panic.
fn decode(text: &str, column: usize) -> rusqlite::Result<Vec<Entry<'_>>> {
    let entries: Vec<Entry<'_>> = serde_json::from_str(text).map_err(|error| {
        rusqlite::Error::FromSqlConversionFailure(column, Type::Text, Box::new(error))
    })?;
    Ok(sorted(entries))
}

/// `entries` in (value, currency) order, each key once (their sums added). What this
/// module writes is in order already (the check is all it costs); schema 7's
/// migration writes in whatever order SQLite grouped.
fn sorted(mut entries: Vec<Entry<'_>>) -> Vec<Entry<'_>> {
    if !entries.is_sorted_by(|a, b| a.key() < b.key()) {
        entries.sort_by(|a, b| a.key().cmp(&b.key()));
        entries.dedup_by(|next, kept| {
            let same = next.key() == kept.key();
            if same {
                kept.add(next);
            }
            same
        });
    }
    entries
}

/// Two lists in (value, currency) order, each key once, merged into one such list.
fn merged<'a>(stored: Vec<Entry<'a>>, added: Vec<Entry<'a>>) -> Vec<Entry<'a>> {
    let mut out = Vec::with_capacity(stored.len() + added.len());
    let mut stored = stored.into_iter().peekable();
    let mut added = added.into_iter().peekable();
    loop {
        let order = match (stored.peek(), added.peek()) {
            (Some(old), Some(new)) => old.key().cmp(&new.key()),
            (Some(_), None) => Ordering::Less,
            (None, Some(_)) => Ordering::Greater,
            (None, None) => return out,
        };
        match order {
            Ordering::Less => out.extend(stored.next()),
            Ordering::Greater => out.extend(added.next()),
            Ordering::Equal => {
                if let (Some(mut old), Some(new)) = (stored.next(), added.next()) {
                    old.add(&new);
                    out.push(old);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests;
