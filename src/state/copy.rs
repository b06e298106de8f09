//! `pstn-agent state copy`: every source's SQLite state, exactly, into PostgreSQL, so
//! an agent moves to replicas without reading anything again. The SQLite file is read
//! under the `data_dir` lock (no agent may be writing it); each unit is written in one
//! PostgreSQL transaction (all of it or nothing).

use super::schema::{connect, database_error};
use super::{PgStore, SqliteStore, StateError};
use rusqlite::{Connection, OptionalExtension, params};
use std::path::Path;

/// A chargeback sum as PostgreSQL keeps it: (month, dimension, value, currency,
/// micros, seconds).
pub(crate) type ChargebackRow = (String, String, String, String, i64, f64);

/// Everything the SQLite file keeps for one source, as stored (ticks, opaque bytes).
#[derive(Debug, Default)]
pub(crate) struct UnitRows {
    pub name: String,
    pub kind: String,
    pub tenant_id: String,
    /// (delay ticks, cursor ticks, cursor text).
    pub sweeps: Vec<(i64, i64, String)>,
    /// (call start ticks, key).
    pub delivered: Vec<(i64, Vec<u8>)>,
    /// (month, license, seconds).
    pub plan_usage: Vec<(String, String, f64)>,
    pub chargeback: Vec<ChargebackRow>,
    /// (user id, bytes or none, read ticks).
    pub directory_users: Vec<(String, Option<Vec<u8>>, i64)>,
    /// (deltaLink, selected, synced ticks).
    pub directory_sync: Option<(Option<String>, String, i64)>,
    /// (rounds, from the deltaLink, last started ticks).
    pub failures: Option<(i64, i64, i64)>,
    /// (day, key, calls, seconds, charge micros).
    pub dialout: Vec<(String, Vec<u8>, i64, i64, i64)>,
}

impl UnitRows {
    /// Rows copied, all tables together (for the report).
    pub fn count(&self) -> usize {
        self.sweeps.len()
            + self.delivered.len()
            + self.plan_usage.len()
            + self.chargeback.len()
            + self.directory_users.len()
            + usize::from(self.directory_sync.is_some())
            + usize::from(self.failures.is_some())
            + self.dialout.len()
    }
}

/// What one copy did, per unit: (source, tenant, rows).
pub type CopyReport = Vec<(String, String, usize)>;

/// Copies every source of the SQLite state in `data_dir` into `postgres`; a unit that
/// already has state there is refused unless `force` (then its rows are replaced).
pub async fn copy(
    data_dir: &Path,
    postgres: &PgStore,
    force: bool,
) -> Result<CopyReport, StateError> {
    if !data_dir.join(super::DATABASE_FILE).is_file() {
        return Err(StateError::Directory {
            path: data_dir.to_owned(),
            message: "no SQLite state here to copy (state.sqlite3 is missing)".into(),
        });
    }
    let data_dir = data_dir.to_owned();
    let (units, _store) = super::run_blocking(move || {
        let store = SqliteStore::open(&data_dir)?;
        read_all(&store.database_path()).map(|units| (units, store))
    })
    .await?;
    postgres.open().await?;
    let mut report = Vec::new();
    for unit in &units {
        super::postgres::copy_unit(postgres, unit, force).await?;
        report.push((unit.name.clone(), unit.tenant_id.clone(), unit.count()));
    }
    Ok(report)
}

/// Reads every source's rows from the SQLite file.
fn read_all(path: &Path) -> Result<Vec<UnitRows>, StateError> {
    let connection = connect(path)?;
    let failed = database_error(path);
    let sources: Vec<(i64, String, String, String)> = connection
        .prepare("SELECT id, name, kind, tenant_id FROM sources ORDER BY name")
        .and_then(|mut statement| {
            statement
                .query_map([], |row| {
                    Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?))
                })?
                .collect()
        })
        .map_err(failed)?;
    sources
        .into_iter()
        .map(|(id, name, kind, tenant_id)| {
            read_unit(&connection, id)
                .map(|rows| UnitRows {
                    name,
                    kind,
                    tenant_id,
                    ..rows
                })
                .map_err(failed)
        })
        .collect()
}

/// Every row of one source, by its id in the SQLite file.
fn read_unit(connection: &Connection, id: i64) -> Result<UnitRows, rusqlite::Error> {
    macro_rules! rows {
        ($sql:expr, $($column:expr),+) => {
            connection
                .prepare($sql)?
                .query_map([id], |row| Ok(($(row.get($column)?),+)))?
                .collect::<Result<Vec<_>, rusqlite::Error>>()?
        };
    }
    let failures: Option<String> = connection
        .query_row(
            "SELECT value FROM meta WHERE key = ?1",
            params![format!("directory_failures/{id}")],
            |row| row.get(0),
        )
        .optional()?;
    Ok(UnitRows {
        sweeps: rows!("SELECT delay_ticks, cursor_ticks, cursor FROM sweeps WHERE source_id = ?1", 0, 1, 2),
        delivered: rows!("SELECT call_start, row_key FROM delivered WHERE source_id = ?1", 0, 1),
        plan_usage: rows!("SELECT month, license, seconds FROM plan_usage WHERE source_id = ?1", 0, 1, 2),
        chargeback: super::source_state::chargeback_rows(connection, id)?,
        directory_users: rows!(
            "SELECT user_id, attributes, read_ticks FROM directory_users WHERE source_id = ?1",
            0, 1, 2
        ),
        directory_sync: connection
            .query_row(
                "SELECT delta_link, selected, synced_ticks FROM directory_sync WHERE source_id = ?1",
                [id],
                |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)),
            )
            .optional()?,
        failures: failures.and_then(|text| {
            let mut parts = text.split(' ').map(str::parse::<i64>);
            match (parts.next(), parts.next(), parts.next()) {
                (Some(Ok(rounds)), Some(Ok(delta)), Some(Ok(started))) => Some((rounds, delta, started)),
                _ => None,
            }
        }),
        dialout: rows!(
            "SELECT day, row_key, calls, seconds, charge_micros FROM dialout_totals WHERE source_id = ?1",
            0, 1, 2, 3, 4
        ),
        ..UnitRows::default()
    })
}
