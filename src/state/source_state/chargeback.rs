//! A source's chargeback sums in SQLite: one row per (month, dimension) holding every
//! (value, currency) sum of it as a JSON array of `[value, currency, micros, seconds]`.
//! A row per sum cost an UPSERT per sum at every page's commit: a page of 1,000 calls
//! touched about 270 of them, at 16,600 instructions each, about a tenth of the agent's
//! instructions with a directory (issue 28, BENCHMARKS). Now a commit reads, adds to
//! and writes back one row per dimension it touches. JSON, so schema 7's migration
//! regroups the old rows in SQL alone; seconds are sums of whole seconds (Graph's
//! `duration` is an integer), which JSON's 15 significant digits keep exactly.

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
        let stored = match &stored {
            Some(text) => decode(text, 0)?,
            None => Vec::new(),
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
mod tests {
    use super::*;

    fn sum(
        month: &str,
        dimension: Dimension,
        value: &str,
        currency: &str,
        micros: i64,
        seconds: f64,
    ) -> MonthSum {
        MonthSum {
            month: Month::parse(month).unwrap(),
            dimension,
            value: value.to_owned(),
            currency: currency.to_owned(),
            micros,
            seconds,
        }
    }

    /// A May sum in euros of one department.
    fn department(value: &str, micros: i64, seconds: f64) -> MonthSum {
        sum(
            "2024-05",
            Dimension::Department,
            value,
            "EUR",
            micros,
            seconds,
        )
    }

    fn connection() -> Connection {
        let connection = Connection::open_in_memory().unwrap();
        connection
            .execute_batch(
                "CREATE TABLE chargeback_sums (source_id INTEGER NOT NULL, month TEXT NOT NULL, dimension TEXT NOT NULL, sums TEXT NOT NULL, PRIMARY KEY (source_id, month, dimension)) WITHOUT ROWID;",
            )
            .unwrap();
        connection
    }

    #[test]
    fn commits_add_to_each_value_and_currency_of_their_month_and_dimension_only() {
        let connection = connection();
        let first = [
            sum("2024-05", Dimension::Department, "Sales", "EUR", 100, 60.0),
            sum("2024-05", Dimension::Department, "Sales", "EUR", 250, 30.0),
            sum("2024-05", Dimension::Department, "Sales", "USD", 7, 1.0),
            sum("2024-05", Dimension::CostCenter, "CC-1", "EUR", 350, 0.0),
            sum("2024-06", Dimension::Department, "Sales", "EUR", 1, 2.0),
        ];
        add(&connection, 1, &first).unwrap();
        add(&connection, 1, &[department("Legal", 5, 3.0)]).unwrap();
        add(&connection, 2, &[department("Sales", 9, 9.0)]).unwrap();
        let may = read(&connection, 1, Month::parse("2024-05").unwrap()).unwrap();
        assert_eq!(
            may,
            [
                sum("2024-05", Dimension::Department, "Legal", "EUR", 5, 3.0),
                sum("2024-05", Dimension::Department, "Sales", "EUR", 350, 90.0),
                sum("2024-05", Dimension::Department, "Sales", "USD", 7, 1.0),
                sum("2024-05", Dimension::CostCenter, "CC-1", "EUR", 350, 0.0),
            ]
        );
        assert_eq!(
            rows(&connection, 1).unwrap().len(),
            5,
            "June's sum is its own"
        );
        assert_eq!(
            rows(&connection, 2).unwrap().len(),
            1,
            "another source's sums are its own"
        );
    }

    #[test]
    fn a_damaged_row_is_an_error_not_a_panic() {
        let connection = connection();
        connection
            .execute(
                "INSERT INTO chargeback_sums VALUES (1, '2024-05', 'department', '[[\"Sales\"')",
                [],
            )
            .unwrap();
        let error = read(&connection, 1, Month::parse("2024-05").unwrap()).unwrap_err();
        assert!(
            matches!(error, rusqlite::Error::FromSqlConversionFailure(..)),
            "{error}"
        );
        assert!(add(&connection, 1, &[department("Sales", 1, 1.0)]).is_err());
    }

    #[test]
    fn sums_stored_out_of_order_or_twice_are_merged_in_order_with_the_new_ones() {
        let connection = connection();
        connection
            .execute(
                r#"INSERT INTO chargeback_sums VALUES (1, '2024-05', 'department', '[["b","EUR",1,1.0],["Ventes \"Île\"","EUR",2,2.0],["b","EUR",3,0.0]]')"#,
                [],
            )
            .unwrap();
        let added = [
            sum("2024-05", Dimension::Department, "a", "EUR", 10, 1.0),
            sum(
                "2024-05",
                Dimension::Department,
                "Ventes \"Île\"",
                "EUR",
                5,
                5.0,
            ),
        ];
        add(&connection, 1, &added).unwrap();
        let text: String = connection
            .query_row("SELECT sums FROM chargeback_sums", [], |row| row.get(0))
            .unwrap();
        assert_eq!(
            text,
            r#"[["Ventes \"Île\"","EUR",7,7.0],["a","EUR",10,1.0],["b","EUR",4,1.0]]"#
        );
    }
}
