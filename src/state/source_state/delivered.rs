//! Which of a page's keys were delivered before, and recording those now delivered
//! (issue 28). A look-up per row cost about a tenth of the agent's instructions (4,000
//! a row, callgrind), while a page's calls mostly lie in a short span of call starts
//! that holds few other keys: one range read answers the page. Keys are written many
//! to a statement, so a statement's own cost is not paid per key.

use crate::time::Timestamp;
use rusqlite::{Transaction, params};
use std::collections::HashMap;

/// How many delivered keys per row of the page the span may hold for one range read to
/// answer; a page whose span holds more (its rows far apart in time, among many others
/// delivered) is answered a row at a time, as before, after reading up to this many
/// keys a row for nothing. Graph's order of rows in a page is not documented (the
/// simulator's pages are in call-start order); a page spread over its whole window
/// would pay that read on top, which was not measured.
const KEYS_PER_ROW: usize = 4;

/// For each (key, call start in ticks), whether it has NOT been delivered yet.
pub(super) fn unseen(
    transaction: &Transaction<'_>,
    source_id: i64,
    rows: &[(&[u8], i64)],
) -> rusqlite::Result<Vec<bool>> {
    if let Some(delivered) = in_span(transaction, source_id, rows)? {
        return Ok(rows
            .iter()
            .map(|(key, start)| {
                let keys = delivered.get(start).map(Vec::as_slice).unwrap_or_default();
                !keys.iter().any(|delivered| delivered == key)
            })
            .collect());
    }
    let mut statement = transaction.prepare_cached(
        "SELECT 1 FROM delivered WHERE source_id = ?1 AND call_start = ?2 AND row_key = ?3",
    )?;
    rows.iter()
        .map(|(key, start)| Ok(!statement.exists(params![source_id, start, key])?))
        .collect()
}

/// The keys delivered between the rows' earliest and latest call start, by call start,
/// unless there are more than [`KEYS_PER_ROW`] a row (then `None`: ask row by row).
fn in_span(
    transaction: &Transaction<'_>,
    source_id: i64,
    rows: &[(&[u8], i64)],
) -> rusqlite::Result<Option<HashMap<i64, Vec<Vec<u8>>>>> {
    let starts = rows.iter().map(|(_, start)| *start);
    let (Some(first), Some(last)) = (starts.clone().min(), starts.max()) else {
        return Ok(Some(HashMap::new()));
    };
    let most = rows.len() * KEYS_PER_ROW;
    let mut statement = transaction.prepare_cached(
        "SELECT call_start, row_key FROM delivered
         WHERE source_id = ?1 AND call_start BETWEEN ?2 AND ?3 LIMIT ?4",
    )?;
    let mut found = statement.query(params![source_id, first, last, most as i64 + 1])?;
    let (mut delivered, mut count) = (HashMap::<i64, Vec<Vec<u8>>>::new(), 0);
    while let Some(row) = found.next()? {
        if count == most {
            return Ok(None);
        }
        count += 1;
        delivered.entry(row.get(0)?).or_default().push(row.get(1)?);
    }
    Ok(Some(delivered))
}

/// Keys per INSERT statement (33 parameters: the source and 16 pairs): most of a
/// statement's own cost gone, at 7.6 kB for the prepared statement each connection
/// keeps (64 keys cost 20.9 kB a connection, 21 MB for 1,000 tenants backfilling, for
/// 0.1% fewer instructions; one key 2.2 kB; `sqlite3_memory_used` around a prepare).
const KEYS_PER_INSERT: usize = 16;

/// [`insert_sql`] of [`KEYS_PER_INSERT`] keys, written once (it keys the statement cache).
static INSERT_MANY: std::sync::LazyLock<String> =
    std::sync::LazyLock::new(|| insert_sql(KEYS_PER_INSERT));

/// The statement that records `keys` keys: `?1` the source, then (start, key) pairs.
fn insert_sql(keys: usize) -> String {
    let values: Vec<String> = (0..keys)
        .map(|index| format!("(?1, ?{}, ?{})", 2 + 2 * index, 3 + 2 * index))
        .collect();
    format!(
        "INSERT OR IGNORE INTO delivered (source_id, call_start, row_key) VALUES {}",
        values.join(", ")
    )
}

/// Records each (key, call start) as delivered (a key recorded before stays as it is).
pub(super) fn record(
    transaction: &Transaction<'_>,
    source_id: i64,
    keys: &[(Vec<u8>, Timestamp)],
) -> rusqlite::Result<()> {
    let mut chunks = keys.chunks_exact(KEYS_PER_INSERT);
    if keys.len() >= KEYS_PER_INSERT {
        let mut insert = transaction.prepare_cached(&INSERT_MANY)?;
        for chunk in &mut chunks {
            insert.raw_bind_parameter(1, source_id)?;
            for (index, (key, start)) in chunk.iter().enumerate() {
                insert.raw_bind_parameter(2 + 2 * index, start.ticks())?;
                insert.raw_bind_parameter(3 + 2 * index, key)?;
            }
            insert.raw_execute()?;
        }
    }
    let mut insert = transaction.prepare_cached(&insert_sql(1))?;
    for (key, start) in chunks.remainder() {
        insert.execute(params![source_id, start.ticks(), key])?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A database with this release's tables, `delivered` among them.
    fn table() -> rusqlite::Connection {
        let connection = rusqlite::Connection::open_in_memory().unwrap();
        connection
            .execute_batch(super::super::super::schema::CREATE)
            .unwrap();
        connection
    }

    #[test]
    fn a_page_is_answered_by_its_span_or_row_by_row_when_the_span_holds_many_keys() {
        let mut connection = table();
        let transaction = connection.transaction().unwrap();
        for start in 0..100_i64 {
            let key = [start as u8; 16];
            transaction
                .execute(
                    "INSERT INTO delivered VALUES (1, ?1, ?2)",
                    params![start, &key[..]],
                )
                .unwrap();
        }
        let (five, six, other) = ([5u8; 16], [6u8; 16], [200u8; 16]);
        // Rows at 5 and 6: two delivered keys in the span, one range read.
        let near = [(&five[..], 5), (&other[..], 6), (&six[..], 6)];
        assert!(in_span(&transaction, 1, &near).unwrap().is_some());
        assert_eq!(
            unseen(&transaction, 1, &near).unwrap(),
            [false, true, false]
        );
        // Rows at 5 and 90: 86 keys in the span, more than 4 a row: row by row.
        let (ninety, source_two) = ([90u8; 16], [5u8; 16]);
        let far = [(&five[..], 5), (&other[..], 7), (&ninety[..], 90)];
        assert!(in_span(&transaction, 1, &far).unwrap().is_none());
        assert_eq!(unseen(&transaction, 1, &far).unwrap(), [false, true, false]);
        // Another source's keys are not this one's.
        assert_eq!(
            unseen(&transaction, 2, &[(&source_two[..], 5)]).unwrap(),
            [true]
        );
        assert!(unseen(&transaction, 1, &[]).unwrap().is_empty());
        // Rows at 0 and 7: eight keys in the span, exactly four a row: still one read.
        let (zero, seven) = ([0u8; 16], [7u8; 16]);
        let edge = [(&zero[..], 0), (&seven[..], 7)];
        assert_eq!(
            in_span(&transaction, 1, &edge)
                .unwrap()
                .map(|found| found.len()),
            Some(8)
        );
        assert_eq!(unseen(&transaction, 1, &edge).unwrap(), [false, false]);
        let beyond = [(&zero[..], 0), (&other[..], 8)];
        assert!(
            in_span(&transaction, 1, &beyond).unwrap().is_none(),
            "nine keys"
        );
    }

    #[test]
    fn keys_are_recorded_many_to_a_statement_and_the_rest_one_by_one() {
        let mut connection = table();
        let transaction = connection.transaction().unwrap();
        // 16 keys exactly, then nine statements of 16, 6 alone, and a key again.
        let exactly: Vec<(Vec<u8>, Timestamp)> = (1000..1016_i64)
            .map(|n| (n.to_be_bytes().to_vec(), Timestamp::from_ticks(n)))
            .collect();
        record(&transaction, 2, &exactly).unwrap();
        let count: i64 = transaction
            .query_row(
                "SELECT count(*) FROM delivered WHERE source_id = 2",
                [],
                |row| row.get(0),
            )
            .unwrap();
        assert_eq!(count, 16);
        let mut keys: Vec<(Vec<u8>, Timestamp)> = (0..150_i64)
            .map(|n| (n.to_be_bytes().to_vec(), Timestamp::from_ticks(n / 3)))
            .collect();
        keys.push(keys[5].clone());
        record(&transaction, 1, &keys).unwrap();
        let stored: Vec<(i64, Vec<u8>)> = transaction
            .prepare(
                "SELECT call_start, row_key FROM delivered WHERE source_id = 1 ORDER BY row_key",
            )
            .unwrap()
            .query_map([], |row| Ok((row.get(0)?, row.get(1)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        let expected: Vec<(i64, Vec<u8>)> = keys[..150]
            .iter()
            .map(|(key, start)| (start.ticks(), key.clone()))
            .collect();
        assert_eq!(stored, expected);
    }
}
