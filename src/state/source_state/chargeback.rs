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
use std::collections::BTreeMap;

/// One (month, dimension)'s sums by (value, currency): charge in millionths, seconds.
type Sums = BTreeMap<(String, String), (i64, f64)>;

/// Adds a commit's sums to the stored ones, in its transaction; `sums` may name a
/// (month, dimension, value, currency) more than once.
pub(super) fn add(connection: &Connection, source_id: i64, sums: &[MonthSum]) -> rusqlite::Result<()> {
    let mut groups: Vec<(Month, Dimension)> = sums
        .iter()
        .map(|sum| (sum.month, sum.dimension))
        .collect();
    groups.sort();
    groups.dedup();
    for (month, dimension) in groups {
        let mut stored = read_group(connection, source_id, month, dimension)?;
        for sum in sums
            .iter()
            .filter(|sum| sum.month == month && sum.dimension == dimension)
        {
            let entry = stored
                .entry((sum.value.clone(), sum.currency.clone()))
                .or_insert((0, 0.0));
            entry.0 = entry.0.saturating_add(sum.micros);
            entry.1 += sum.seconds;
        }
        let text = encode(&stored).map_err(|error| {
            rusqlite::Error::ToSqlConversionFailure(Box::new(error))
        })?;
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
pub(super) fn read(connection: &Connection, source_id: i64, month: Month) -> rusqlite::Result<Vec<MonthSum>> {
    let mut out = Vec::new();
    for dimension in Dimension::ALL {
        let sums = read_group(connection, source_id, month, dimension)?;
        out.extend(sums.into_iter().map(|((value, currency), (micros, seconds))| MonthSum {
            month,
            dimension,
            value,
            currency,
            micros,
            seconds,
        }));
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
    let groups = statement.query_map([source_id], |row| {
        let text: String = row.get(2)?;
        Ok((row.get::<_, String>(0)?, row.get::<_, String>(1)?, decode(&text, 2)?))
    })?;
    let mut out = Vec::new();
    for group in groups {
        let (month, dimension, sums) = group?;
        out.extend(sums.into_iter().map(|((value, currency), (micros, seconds))| {
            (month.clone(), dimension.clone(), value, currency, micros, seconds)
        }));
    }
    Ok(out)
}

/// The stored sums of one (month, dimension), empty when there are none.
fn read_group(connection: &Connection, source_id: i64, month: Month, dimension: Dimension) -> rusqlite::Result<Sums> {
    let text: Option<String> = connection
        .prepare_cached(
            "SELECT sums FROM chargeback_sums WHERE source_id = ?1 AND month = ?2 AND dimension = ?3",
        )?
        .query_row(params![source_id, month.to_string(), dimension.as_str()], |row| row.get(0))
        .optional()?;
    text.map_or_else(|| Ok(Sums::new()), |text| decode(&text, 0))
}

/// The JSON text of `sums`, in (value, currency) order.
fn encode(sums: &Sums) -> serde_json::Result<String> {
    let rows: Vec<(&str, &str, i64, f64)> = sums
        .iter()
        .map(|((value, currency), (micros, seconds))| (value.as_str(), currency.as_str(), *micros, *seconds))
        .collect();
    serde_json::to_string(&rows)
}

/// The sums in a stored JSON text (column `column`, for the error), which a damaged
/// file makes an error, never a panic; a (value, currency) seen twice is added up.
fn decode(text: &str, column: usize) -> rusqlite::Result<Sums> {
    let rows: Vec<(String, String, i64, f64)> = serde_json::from_str(text)
        .map_err(|error| rusqlite::Error::FromSqlConversionFailure(column, Type::Text, Box::new(error)))?;
    let mut sums = Sums::new();
    for (value, currency, micros, seconds) in rows {
        let entry = sums.entry((value, currency)).or_insert((0, 0.0));
        entry.0 = entry.0.saturating_add(micros);
        entry.1 += seconds;
    }
    Ok(sums)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sum(month: &str, dimension: Dimension, value: &str, currency: &str, micros: i64, seconds: f64) -> MonthSum {
        MonthSum {
            month: Month::parse(month).unwrap(),
            dimension,
            value: value.to_owned(),
            currency: currency.to_owned(),
            micros,
            seconds,
        }
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
        add(&connection, 1, &[sum("2024-05", Dimension::Department, "Legal", "EUR", 5, 3.0)]).unwrap();
        add(&connection, 2, &[sum("2024-05", Dimension::Department, "Sales", "EUR", 9, 9.0)]).unwrap();
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
        assert_eq!(rows(&connection, 1).unwrap().len(), 5, "June's sum is its own");
        assert_eq!(rows(&connection, 2).unwrap().len(), 1, "another source's sums are its own");
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
        assert!(matches!(error, rusqlite::Error::FromSqlConversionFailure(..)), "{error}");
        assert!(add(&connection, 1, &[sum("2024-05", Dimension::Department, "Sales", "EUR", 1, 1.0)]).is_err());
    }
}
