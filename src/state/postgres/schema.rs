//! PostgreSQL's schema for state, in versioned migrations like the SQLite file's: the
//! `schema_version` table says, per component, which migrations ran; a newer one than
//! this release knows is refused. Replicas starting together take an advisory lock, so
//! one migrates and the others find it done.

use super::{PgStore, describe};
use crate::state::StateError;
use tokio_postgres::Client;

/// The component whose version `schema_version` keeps for these tables (leases may keep
/// their own beside it).
const COMPONENT: &str = "state";

/// Migrations in order: the version each brings the schema to, and its SQL.
const MIGRATIONS: &[(i32, &str)] = &[(1, VERSION_1)];

/// The schema this release writes.
pub(crate) const SCHEMA_VERSION: i32 = 1;

/// Units (source, tenant) and, per unit, what the SQLite file keeps per source.
const VERSION_1: &str = "
CREATE TABLE units (
    id        BIGSERIAL PRIMARY KEY,
    source    TEXT NOT NULL,
    tenant_id TEXT NOT NULL,
    kind      TEXT NOT NULL,
    UNIQUE (source, tenant_id)
);
CREATE TABLE sweeps (
    unit_id      BIGINT NOT NULL REFERENCES units(id),
    delay_ticks  BIGINT NOT NULL,
    cursor_ticks BIGINT NOT NULL,
    cursor       TEXT NOT NULL,
    PRIMARY KEY (unit_id, delay_ticks)
);
CREATE TABLE delivered (
    unit_id    BIGINT NOT NULL,
    call_start BIGINT NOT NULL,
    row_key    BYTEA NOT NULL,
    PRIMARY KEY (unit_id, call_start, row_key)
);
CREATE TABLE plan_usage (
    unit_id BIGINT NOT NULL,
    month   TEXT NOT NULL,
    license TEXT NOT NULL,
    seconds DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (unit_id, month, license)
);
CREATE TABLE chargeback_month (
    unit_id   BIGINT NOT NULL,
    month     TEXT NOT NULL,
    dimension TEXT NOT NULL,
    value     TEXT NOT NULL,
    currency  TEXT NOT NULL,
    micros    BIGINT NOT NULL,
    seconds   DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (unit_id, month, dimension, value, currency)
);
CREATE TABLE directory_users (
    unit_id    BIGINT NOT NULL,
    user_id    TEXT NOT NULL,
    attributes BYTEA,
    read_ticks BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (unit_id, user_id)
);
CREATE TABLE directory_sync (
    unit_id      BIGINT PRIMARY KEY,
    delta_link   TEXT,
    selected     TEXT NOT NULL,
    synced_ticks BIGINT NOT NULL
);
CREATE TABLE directory_failures (
    unit_id         BIGINT PRIMARY KEY,
    rounds          BIGINT NOT NULL,
    from_delta_link BIGINT NOT NULL,
    last_started    BIGINT NOT NULL
);
CREATE TABLE dialout_totals (
    unit_id       BIGINT NOT NULL,
    day           TEXT NOT NULL,
    row_key       BYTEA NOT NULL,
    calls         BIGINT NOT NULL,
    seconds       BIGINT NOT NULL,
    charge_micros BIGINT NOT NULL,
    PRIMARY KEY (unit_id, day, row_key)
);
";

/// Creates `schema_version` if needed; the key of the advisory lock migrations hold.
const PREPARE: &str = "CREATE TABLE IF NOT EXISTS schema_version (
    component  TEXT PRIMARY KEY,
    version    INTEGER NOT NULL,
    written_by TEXT NOT NULL
)";
const MIGRATION_LOCK: i64 = 0x7073_746e_7374; // "pstnst"

/// The version stored for state, refusing one from a newer release.
async fn stored(
    store: &PgStore,
    client: &impl tokio_postgres::GenericClient,
) -> Result<i32, StateError> {
    let exists: bool = client
        .query_one("SELECT to_regclass('schema_version') IS NOT NULL", &[])
        .await
        .map_err(|error| store.failed(describe(&error)))?
        .get(0);
    let version = if exists {
        client
            .query_opt(
                "SELECT version FROM schema_version WHERE component = $1",
                &[&COMPONENT],
            )
            .await
            .map_err(|error| store.failed(describe(&error)))?
            .map_or(0, |row| row.get::<_, i32>(0))
    } else {
        0
    };
    if version > SCHEMA_VERSION {
        return Err(StateError::Refused {
            path: store.at.to_string().into(),
            message: format!(
                "written by a newer pstn-agent (schema {version}, this release reads up to {SCHEMA_VERSION}); upgrade the agent"
            ),
        });
    }
    Ok(version)
}

/// Runs the migrations the database lacks, in one transaction under an advisory lock.
pub(super) async fn migrate(store: &PgStore, client: &mut Client) -> Result<(), StateError> {
    let failed = |error: tokio_postgres::Error| store.failed(describe(&error));
    let transaction = client.transaction().await.map_err(failed)?;
    transaction
        .execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
        .await
        .map_err(failed)?;
    transaction.batch_execute(PREPARE).await.map_err(failed)?;
    let version = stored(store, &transaction).await?;
    for (to, sql) in MIGRATIONS.iter().filter(|(to, _)| *to > version) {
        transaction.batch_execute(sql).await.map_err(failed)?;
        transaction
            .execute(
                "INSERT INTO schema_version (component, version, written_by) VALUES ($1, $2, 'pstn-agent')
                 ON CONFLICT (component) DO UPDATE SET version = excluded.version",
                &[&COMPONENT, to],
            )
            .await
            .map_err(failed)?;
    }
    transaction.commit().await.map_err(failed)
}
