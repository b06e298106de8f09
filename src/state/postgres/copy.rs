//! The PostgreSQL half of `state copy`: one unit's rows written in one transaction,
//! refused when the unit already has state there unless forced (then replaced).

use super::{PgStore, describe};
use crate::state::StateError;
use crate::state::copy::UnitRows;

/// The tables holding a unit's state (by `unit_id`).
const UNIT_TABLES: &[&str] = &[
    "sweeps",
    "delivered",
    "plan_usage",
    "chargeback_month",
    "directory_users",
    "directory_sync",
    "directory_failures",
    "dialout_totals",
];

/// Rows per multi-row insert of keys or users.
const CHUNK: usize = 10_000;

/// Writes `rows` as the state of their unit, in one transaction.
pub(crate) async fn copy_unit(
    store: &PgStore,
    rows: &UnitRows,
    force: bool,
) -> Result<(), StateError> {
    let failed = |error: tokio_postgres::Error| store.failed(describe(&error));
    let mut client = store.connect().await?;
    let transaction = client.transaction().await.map_err(failed)?;
    transaction
        .execute(
            "INSERT INTO units (source, tenant_id, kind) VALUES ($1, $2, $3) ON CONFLICT (source, tenant_id) DO NOTHING",
            &[&rows.name, &rows.tenant_id, &rows.kind],
        )
        .await
        .map_err(failed)?;
    let unit_id: i64 = transaction
        .query_one(
            "SELECT id FROM units WHERE source = $1 AND tenant_id = $2",
            &[&rows.name, &rows.tenant_id],
        )
        .await
        .map_err(failed)?
        .get(0);
    let mut has_state = false;
    for table in UNIT_TABLES {
        let sql = format!("SELECT EXISTS (SELECT 1 FROM {table} WHERE unit_id = $1)");
        has_state |= transaction
            .query_one(&sql, &[&unit_id])
            .await
            .map_err(failed)?
            .get::<_, bool>(0);
    }
    if has_state && !force {
        return Err(StateError::Refused {
            path: store.at.to_string().into(),
            message: format!(
                "source {:?} of tenant {} already has state in PostgreSQL; nothing was copied (--force replaces it with the SQLite state)",
                rows.name, rows.tenant_id
            ),
        });
    }
    for table in UNIT_TABLES {
        let sql = format!("DELETE FROM {table} WHERE unit_id = $1");
        transaction
            .execute(&sql, &[&unit_id])
            .await
            .map_err(failed)?;
    }
    transaction
        .execute(
            "UPDATE units SET kind = $2 WHERE id = $1",
            &[&unit_id, &rows.kind],
        )
        .await
        .map_err(failed)?;
    write_rows(&transaction, unit_id, rows)
        .await
        .map_err(failed)?;
    transaction.commit().await.map_err(failed)
}

/// Inserts every row of the unit (its tables are empty here).
async fn write_rows(
    transaction: &tokio_postgres::Transaction<'_>,
    unit: i64,
    rows: &UnitRows,
) -> Result<(), tokio_postgres::Error> {
    for (delay, cursor, text) in &rows.sweeps {
        transaction
            .execute(
                "INSERT INTO sweeps (unit_id, delay_ticks, cursor_ticks, cursor) VALUES ($1, $2, $3, $4)",
                &[&unit, delay, cursor, text],
            )
            .await?;
    }
    for chunk in rows.delivered.chunks(CHUNK) {
        let starts: Vec<i64> = chunk.iter().map(|(start, _)| *start).collect();
        let keys: Vec<&[u8]> = chunk.iter().map(|(_, key)| key.as_slice()).collect();
        transaction
            .execute(
                "INSERT INTO delivered (unit_id, call_start, row_key) SELECT $1, start, key FROM unnest($2::bigint[], $3::bytea[]) AS u(start, key)",
                &[&unit, &starts, &keys],
            )
            .await?;
    }
    for (month, license, seconds) in &rows.plan_usage {
        transaction
            .execute(
                "INSERT INTO plan_usage (unit_id, month, license, seconds) VALUES ($1, $2, $3, $4)",
                &[&unit, month, license, seconds],
            )
            .await?;
    }
    for (month, dimension, value, currency, micros, seconds) in &rows.chargeback {
        transaction
            .execute(
                "INSERT INTO chargeback_month (unit_id, month, dimension, value, currency, micros, seconds) VALUES ($1, $2, $3, $4, $5, $6, $7)",
                &[&unit, month, dimension, value, currency, micros, seconds],
            )
            .await?;
    }
    for chunk in rows.directory_users.chunks(CHUNK) {
        let ids: Vec<&str> = chunk.iter().map(|(id, _, _)| id.as_str()).collect();
        let bytes: Vec<Option<&[u8]>> =
            chunk.iter().map(|(_, bytes, _)| bytes.as_deref()).collect();
        let read: Vec<i64> = chunk.iter().map(|(_, _, read)| *read).collect();
        transaction
            .execute(
                "INSERT INTO directory_users (unit_id, user_id, attributes, read_ticks) SELECT $1, id, bytes, read FROM unnest($2::text[], $3::bytea[], $4::bigint[]) AS u(id, bytes, read)",
                &[&unit, &ids, &bytes, &read],
            )
            .await?;
    }
    if let Some((link, selected, synced)) = &rows.directory_sync {
        transaction
            .execute(
                "INSERT INTO directory_sync (unit_id, delta_link, selected, synced_ticks) VALUES ($1, $2, $3, $4)",
                &[&unit, link, selected, synced],
            )
            .await?;
    }
    if let Some((rounds, from_delta_link, started)) = &rows.failures {
        transaction
            .execute(
                "INSERT INTO directory_failures (unit_id, rounds, from_delta_link, last_started) VALUES ($1, $2, $3, $4)",
                &[&unit, rounds, from_delta_link, started],
            )
            .await?;
    }
    for (day, key, calls, seconds, micros) in &rows.dialout {
        transaction
            .execute(
                "INSERT INTO dialout_totals (unit_id, day, row_key, calls, seconds, charge_micros) VALUES ($1, $2, $3, $4, $5, $6)",
                &[&unit, day, key, calls, seconds, micros],
            )
            .await?;
    }
    Ok(())
}
