//! The leases' tables in PostgreSQL, versioned on their own (`lease_schema_version`)
//! beside state's tables, so either set can migrate without the other.

use tokio_postgres::Client;

/// The schema this release writes; an older one is migrated, a newer one refused.
pub(super) const LEASE_SCHEMA_VERSION: i32 = 2;

/// Migration `n` (from 1) takes the schema from version `n - 1` to `n`.
const MIGRATIONS: &[&str] = &[
    "
-- Each replica's last sign of life (PostgreSQL's clock): live = within lease_ttl.
CREATE TABLE lease_replicas (
    name      text PRIMARY KEY,
    heartbeat timestamptz NOT NULL
);
-- One row per unit of work (a source reading a tenant). holder NULL: free.
-- generation + 1 at every change of holder: what commits are fenced with.
CREATE TABLE leases (
    source     text NOT NULL,
    tenant     text NOT NULL,
    holder     text,
    generation bigint NOT NULL DEFAULT 0,
    expires_at timestamptz NOT NULL,
    PRIMARY KEY (source, tenant)
);
",
    "
-- A unit given up by a replica whose source stopped on a permanent error: that
-- replica does not take it again before avoid_until, and another may take it even
-- at its full share (then gives back another unit instead).
ALTER TABLE leases ADD COLUMN avoided_by text;
ALTER TABLE leases ADD COLUMN avoid_until timestamptz;
",
];

/// One lock key for every replica's migration (an arbitrary constant: "pstnleas").
const MIGRATION_LOCK: i64 = 0x7073_746e_6c65_6173;

/// Why the lease tables cannot be used.
#[derive(Debug, thiserror::Error)]
pub(super) enum SchemaError {
    /// PostgreSQL refused or could not be reached.
    #[error(transparent)]
    Database(#[from] tokio_postgres::Error),
    /// A newer release wrote these tables.
    #[error(
        "the lease tables are at schema version {0}, newer than this release's {LEASE_SCHEMA_VERSION}: upgrade this replica"
    )]
    Newer(i32),
}

/// Brings the lease tables to [`LEASE_SCHEMA_VERSION`], in one transaction under an
/// advisory lock, so replicas starting together migrate once.
pub(super) async fn migrate(client: &mut Client) -> Result<(), SchemaError> {
    let transaction = client.transaction().await?;
    transaction
        .execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
        .await?;
    transaction
        .batch_execute("CREATE TABLE IF NOT EXISTS lease_schema_version (version integer NOT NULL)")
        .await?;
    let found: i32 = transaction
        .query_one(
            "SELECT coalesce(max(version), 0) FROM lease_schema_version",
            &[],
        )
        .await?
        .get(0);
    if found > LEASE_SCHEMA_VERSION {
        return Err(SchemaError::Newer(found));
    }
    for (index, migration) in MIGRATIONS
        .iter()
        .enumerate()
        .skip(usize::try_from(found).unwrap_or(0))
    {
        transaction.batch_execute(migration).await?;
        let version = i32::try_from(index + 1).unwrap_or(i32::MAX);
        transaction
            .execute("DELETE FROM lease_schema_version", &[])
            .await?;
        transaction
            .execute(
                "INSERT INTO lease_schema_version (version) VALUES ($1)",
                &[&version],
            )
            .await?;
    }
    transaction.commit().await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_version_is_the_number_of_migrations() {
        assert_eq!(
            usize::try_from(super::LEASE_SCHEMA_VERSION).ok(),
            Some(super::MIGRATIONS.len())
        );
    }
}
