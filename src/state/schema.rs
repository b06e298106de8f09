//! Creating, checking and migrating the state database.

use super::StateError;
use rusqlite::{Connection, OptionalExtension};
use std::path::Path;
use std::time::Duration;

/// The schema this release writes; older files are migrated, newer ones refused.
pub(crate) const SCHEMA_VERSION: i64 = 7;

/// Every table this release keeps (the `delivered` tests lay their table out with it).
pub(super) const CREATE: &str = "
CREATE TABLE IF NOT EXISTS meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
-- Schema 6: one row per (source, tenant): a source with `tenants` keeps each
-- tenant's progress apart (schema 5 and before: the name alone was unique).
CREATE TABLE IF NOT EXISTS sources (
    id        INTEGER PRIMARY KEY,
    name      TEXT NOT NULL,
    kind      TEXT NOT NULL,
    tenant_id TEXT NOT NULL,
    UNIQUE (name, tenant_id)
);
-- One row per sweep: every call start before `cursor` was read at least
-- `delay_ticks` (100 ns units) after it.
CREATE TABLE IF NOT EXISTS sweeps (
    source_id    INTEGER NOT NULL REFERENCES sources(id),
    delay_ticks  INTEGER NOT NULL,
    cursor_ticks INTEGER NOT NULL,
    cursor       TEXT NOT NULL,
    PRIMARY KEY (source_id, delay_ticks)
) WITHOUT ROWID;
-- Schema 3: keys of rows already delivered to every sink, laid out in the order rows
-- arrive: by call start (100 ns ticks since 1970), then key. Inserts land near the
-- end of one B-tree, a lookup knows the row's start, and pruning what no sweep will
-- read again is a range delete at the front. (Schema 2 keyed by the random id and
-- kept a second index on the start: two random B-tree writes per row.)
CREATE TABLE IF NOT EXISTS delivered (
    source_id  INTEGER NOT NULL,
    call_start INTEGER NOT NULL,
    row_key    BLOB NOT NULL,
    PRIMARY KEY (source_id, call_start, row_key)
) WITHOUT ROWID;
-- Schema 2: outbound Calling Plans seconds per calendar month (UTC, 'YYYY-MM') and
-- licenseCapability, added in the same transaction as the ids they came with.
CREATE TABLE IF NOT EXISTS plan_usage (
    source_id INTEGER NOT NULL,
    month     TEXT NOT NULL,
    license   TEXT NOT NULL,
    seconds   REAL NOT NULL,
    PRIMARY KEY (source_id, month, license)
) WITHOUT ROWID;
-- Schema 4: each source's copy of the directory (`[sources.NAME.directory]`): per
-- user id, the event's `user` object as opaque bytes, or NULL for a user Graph does not
-- know (404, removed), and when it was read (100 ns ticks since 1970): a full read
-- removes, at its end, the users it did not see. In SQLite, not in memory: 300,000
-- users cost pages on disk.
CREATE TABLE IF NOT EXISTS directory_users (
    source_id  INTEGER NOT NULL,
    user_id    TEXT NOT NULL,
    attributes BLOB,
    read_ticks INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (source_id, user_id)
) WITHOUT ROWID;
-- Schema 7: charges (millionths, exact) and seconds of delivered calls by the calendar
-- month (UTC, 'YYYY-MM') of their start, per directory attribute ('department',
-- 'cost_center'): one row holding every value and currency's sums, a JSON array of
-- [value, currency, micros, seconds], added to in the same transaction as the ids
-- they came with: this month's chargeback, right after a restart. Schemas 4 to 6 kept
-- a row per sum (chargeback_month), an UPSERT each at every commit.
-- A rowid table: its rows are kilobytes, past what SQLite advises for WITHOUT ROWID.
CREATE TABLE IF NOT EXISTS chargeback_sums (
    source_id INTEGER NOT NULL,
    month     TEXT NOT NULL,
    dimension TEXT NOT NULL,
    sums      TEXT NOT NULL,
    UNIQUE (source_id, month, dimension)
);
-- Schema 4: where the next round of /users/delta starts, what it selects, and when
-- the last round ended (100 ns ticks since 1970).
CREATE TABLE IF NOT EXISTS directory_sync (
    source_id    INTEGER PRIMARY KEY,
    delta_link   TEXT,
    selected     TEXT NOT NULL,
    synced_ticks INTEGER NOT NULL
);
-- Schema 5: the audio-conferencing dial-out report, per UTC day ('YYYY-MM-DD') and row
-- (user, usage location, destination context, currency as opaque bytes): the totals
-- last delivered to every sink, written in the same transaction as the delivery is
-- acknowledged. A row is sent again only when Graph's totals differ from these.
CREATE TABLE IF NOT EXISTS dialout_totals (
    source_id     INTEGER NOT NULL,
    day           TEXT NOT NULL,
    row_key       BLOB NOT NULL,
    calls         INTEGER NOT NULL,
    seconds       INTEGER NOT NULL,
    charge_micros INTEGER NOT NULL,
    PRIMARY KEY (source_id, day, row_key)
) WITHOUT ROWID;
";

/// Schemas 1 and 2: the delivered keys move aside before the new layout is created...
const RELAYOUT_DELIVERED: &str = "
DROP INDEX IF EXISTS delivered_by_start;
ALTER TABLE delivered RENAME TO delivered_schema_2;
";

/// ...and are copied into it in start order, then the old table goes.
const COPY_DELIVERED: &str = "
INSERT OR IGNORE INTO delivered (source_id, call_start, row_key)
    SELECT source_id, call_start, row_key FROM delivered_schema_2 ORDER BY source_id, call_start, row_key;
DROP TABLE delivered_schema_2;
";

/// Schemas 1 to 5: `sources` was unique by name; it is rebuilt unique by (name,
/// tenant) with the same ids, so every other table's rows stay the source's.
/// Runs with foreign keys off (the sweeps refer to `sources`), in the transaction.
const REKEY_SOURCES: &str = "
CREATE TABLE sources_6 (
    id        INTEGER PRIMARY KEY,
    name      TEXT NOT NULL,
    kind      TEXT NOT NULL,
    tenant_id TEXT NOT NULL,
    UNIQUE (name, tenant_id)
);
INSERT INTO sources_6 (id, name, kind, tenant_id) SELECT id, name, kind, tenant_id FROM sources;
DROP TABLE sources;
ALTER TABLE sources_6 RENAME TO sources;
";

/// Schemas 4 to 6: the chargeback's row per (month, dimension, value, currency) is
/// regrouped into schema 7's row per (month, dimension), and the old table goes.
const REGROUP_CHARGEBACK: &str = "
INSERT OR REPLACE INTO chargeback_sums (source_id, month, dimension, sums)
    SELECT source_id, month, dimension, json_group_array(json_array(value, currency, micros, seconds))
    FROM chargeback_month GROUP BY source_id, month, dimension;
DROP TABLE chargeback_month;
";

/// Names the database file in a SQLite error (for `map_err`).
pub(super) fn database_error(path: &Path) -> impl Fn(rusqlite::Error) -> StateError + Copy + '_ {
    move |source| StateError::Database {
        path: path.to_owned(),
        source,
    }
}

pub(crate) fn connect(path: &Path) -> Result<Connection, StateError> {
    let connection = Connection::open(path).map_err(database_error(path))?;
    connection
        .busy_timeout(Duration::from_secs(30))
        .map_err(database_error(path))?;
    // WAL with synchronous=NORMAL survives a killed process without losing a commit;
    // a power cut can only drop the last commits, which then repeat (never a loss).
    connection
        .execute_batch(
            "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;",
        )
        .map_err(|source| refuse_or_fail(path, source))?;
    Ok(connection)
}

fn refuse_or_fail(path: &Path, source: rusqlite::Error) -> StateError {
    if let rusqlite::Error::SqliteFailure(error, _) = &source
        && matches!(
            error.code,
            rusqlite::ErrorCode::NotADatabase | rusqlite::ErrorCode::DatabaseCorrupt
        )
    {
        return StateError::Refused {
            path: path.to_owned(),
            message: format!(
                "not a readable SQLite database ({source}); move it aside to start over (rows already delivered may then be delivered again)"
            ),
        };
    }
    StateError::Database {
        path: path.to_owned(),
        source,
    }
}

/// What [`migrate`] would refuse (a file that is not a database, not ours, or from a
/// newer release), found read-only: no lock taken, nothing written. For `validate`,
/// which may run beside the agent.
pub(super) fn check_read_only(path: &Path) -> Result<(), StateError> {
    use rusqlite::OpenFlags;
    let connection = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY)
        .map_err(|source| refuse_or_fail(path, source))?;
    stored_version(&connection, path).map(drop)
}

/// Whether the file has a table `name`.
fn has_table(connection: &Connection, path: &Path, name: &str) -> Result<bool, StateError> {
    connection
        .query_row(
            "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = ?1",
            [name],
            |row| row.get::<_, i64>(0),
        )
        .map(|count| count > 0)
        .map_err(database_error(path))
}

/// The schema version a file holds (`None`: new, or before versions were kept) and
/// whether it has a `delivered` table, refusing a file not ours or from a newer release.
fn stored_version(connection: &Connection, path: &Path) -> Result<(Option<i64>, bool), StateError> {
    let tables: Vec<String> = connection
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table'")
        .and_then(|mut statement| statement.query_map([], |row| row.get(0))?.collect())
        .map_err(|source| refuse_or_fail(path, source))?;
    let has_meta = tables.iter().any(|name| name == "meta");
    if !tables.is_empty() && !has_meta {
        return Err(StateError::Refused {
            path: path.to_owned(),
            message: "this SQLite file was not written by pstn-agent; point data_dir elsewhere or move the file aside".into(),
        });
    }
    let version: Option<i64> = if has_meta {
        connection
            .query_row(
                "SELECT value FROM meta WHERE key = 'schema_version'",
                [],
                |row| row.get::<_, String>(0),
            )
            .optional()
            .map_err(database_error(path))?
            .and_then(|text| text.parse().ok())
    } else {
        None
    };
    match version {
        Some(version) if version > SCHEMA_VERSION => Err(StateError::Refused {
            path: path.to_owned(),
            message: format!(
                "written by a newer pstn-agent (schema {version}, this release reads up to {SCHEMA_VERSION}); upgrade the agent"
            ),
        }),
        version => Ok((version, tables.iter().any(|name| name == "delivered"))),
    }
}

pub(super) fn migrate(connection: &Connection, path: &Path) -> Result<(), StateError> {
    let (version, has_delivered) = stored_version(connection, path)?;
    match version {
        Some(version) if version == SCHEMA_VERSION => Ok(()),
        // A new file, or an older schema: every CREATE is IF NOT EXISTS, so running them
        // adds what is missing (schema 1 lacked plan_usage) and keeps what is there;
        // schemas 1 and 2 kept delivered keys in id order, copied here in start order.
        _ => {
            // Schema 3 laid `delivered` out anew; later ones add tables, rekey `sources` (6)
            // and regroup the chargeback (7).
            let relayout = if version.is_some_and(|version| version < 3) && has_delivered {
                RELAYOUT_DELIVERED
            } else {
                ""
            };
            // Schema 6 keys sources by (name, tenant); a new file creates it so.
            let rekey = if version.is_some_and(|version| version < 6) {
                REKEY_SOURCES
            } else {
                ""
            };
            // Schema 7 keeps the chargeback a row per (month, dimension); schemas 4 to 6
            // had a row per sum (asked of the file, not of its version).
            let regroup = if has_table(connection, path, "chargeback_month")? {
                REGROUP_CHARGEBACK
            } else {
                ""
            };
            // PRAGMA foreign_keys is a no-op inside a transaction: off around it.
            connection
                .execute_batch(&format!(
                    "PRAGMA foreign_keys=OFF; BEGIN; {relayout} {CREATE} {rekey} {COPY_DELIVERED} {regroup} INSERT OR REPLACE INTO meta (key, value) VALUES ('schema_version', '{SCHEMA_VERSION}'), ('written_by', 'pstn-agent'); COMMIT; PRAGMA foreign_keys=ON;",
                    COPY_DELIVERED = if relayout.is_empty() { "" } else { COPY_DELIVERED },
                ))
                .map_err(database_error(path))
        }
    }
}

#[cfg(test)]
mod tests;
