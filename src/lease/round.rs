//! The statements of one keeper round, each one statement (its own transaction), all
//! times PostgreSQL's: heartbeat, renew, take, give back, leave.

use super::Unit;
use tokio_postgres::{Client, Error, Row};

/// A lease as PostgreSQL answered for it: the unit, its generation, and how long it
/// has left by PostgreSQL's clock (seconds).
#[derive(Debug, Clone)]
pub(super) struct Granted {
    pub(super) unit: Unit,
    pub(super) generation: i64,
    pub(super) remaining: f64,
    /// Taken from a holder whose lease had run out.
    pub(super) took_over: bool,
    /// Taken while another replica avoids it (its source stopped there for good).
    pub(super) rescued: bool,
}

/// The columns of `units` as two arrays, for `unnest($a::text[], $b::text[])`.
fn columns<'a>(units: impl Iterator<Item = &'a Unit>) -> (Vec<&'a str>, Vec<&'a str>) {
    units
        .map(|unit| (unit.source.as_str(), unit.tenant.as_str()))
        .unzip()
}

fn granted(row: &Row, took_over: bool, rescued: bool) -> Granted {
    Granted {
        unit: Unit::new(row.get::<_, String>(0), row.get::<_, String>(1)),
        generation: row.get(2),
        remaining: row.get(3),
        took_over,
        rescued,
    }
}

/// Adds the units not yet known, free; forgets replicas silent for a day (a default
/// replica name carries the process id, so each restart adds one).
pub(super) async fn register(client: &Client, units: &[Unit]) -> Result<(), Error> {
    client
        .execute(
            "DELETE FROM lease_replicas WHERE heartbeat < now() - interval '1 day'",
            &[],
        )
        .await?;
    let (sources, tenants) = columns(units.iter());
    client
        .execute(
            "INSERT INTO leases (source, tenant, holder, generation, expires_at) \
             SELECT s, t, NULL, 0, now() FROM unnest($1::text[], $2::text[]) AS u(s, t) \
             ON CONFLICT DO NOTHING",
            &[&sources, &tenants],
        )
        .await?;
    Ok(())
}

/// Records this replica's heartbeat; the names of the live replicas (a heartbeat
/// within `ttl` seconds), this one included.
pub(super) async fn heartbeat(client: &Client, me: &str, ttl: f64) -> Result<Vec<String>, Error> {
    let rows = client
        .query(
            "WITH beat AS (INSERT INTO lease_replicas (name, heartbeat) VALUES ($1, now()) \
                 ON CONFLICT (name) DO UPDATE SET heartbeat = excluded.heartbeat RETURNING name) \
             SELECT name FROM lease_replicas \
                 WHERE heartbeat > now() - $2::float8 * interval '1 second' AND name <> $1 \
             UNION SELECT name FROM beat",
            &[&me, &ttl],
        )
        .await?;
    Ok(rows.iter().map(|row| row.get(0)).collect())
}

/// Moves the expiry of the leases this replica still holds at these generations to
/// `ttl` seconds from now; the ones renewed (a unit missing has moved on).
pub(super) async fn renew(
    client: &Client,
    me: &str,
    holding: &[(Unit, i64)],
    ttl: f64,
) -> Result<Vec<Granted>, Error> {
    if holding.is_empty() {
        return Ok(Vec::new());
    }
    let (sources, tenants) = columns(holding.iter().map(|(unit, _)| unit));
    let generations: Vec<i64> = holding.iter().map(|(_, generation)| *generation).collect();
    let rows = client
        .query(
            "UPDATE leases SET expires_at = now() + $5::float8 * interval '1 second' \
             WHERE holder = $1 AND (source, tenant, generation) IN \
                 (SELECT * FROM unnest($2::text[], $3::text[], $4::int8[])) \
             RETURNING source, tenant, generation, \
                 extract(epoch FROM expires_at - now())::float8",
            &[&me, &sources, &tenants, &generations, &ttl],
        )
        .await?;
    Ok(rows.iter().map(|row| granted(row, false, false)).collect())
}

/// Which units a take may pick.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Pick {
    /// Any that is free, has run out, or is this name's from an earlier run.
    Any,
    /// Only one another replica gave up and avoids now (its source stopped there).
    Avoided,
}

/// Takes up to `wanted` of `units` (as `pick` says), except those in `holding`
/// (generation + 1 each, skipping rows another replica is taking right now; a mark
/// of avoidance is cleared by the take).
pub(super) async fn take(
    client: &Client,
    me: &str,
    (units, pick): (&[Unit], Pick),
    holding: &[(Unit, i64)],
    wanted: usize,
    ttl: f64,
) -> Result<Vec<Granted>, Error> {
    if wanted == 0 {
        return Ok(Vec::new());
    }
    let (sources, tenants) = columns(units.iter());
    let (held_sources, held_tenants) = columns(holding.iter().map(|(unit, _)| unit));
    let wanted = i64::try_from(wanted).unwrap_or(i64::MAX);
    let rows = client
        .query(
            "WITH picked AS ( \
                 SELECT source, tenant, holder IS NOT NULL AND expires_at <= now() AS expired, \
                     coalesce(avoided_by <> $1 AND avoid_until > now(), false) AS rescued \
                 FROM leases \
                 WHERE (source, tenant) IN (SELECT * FROM unnest($2::text[], $3::text[])) \
                   AND NOT (source, tenant) IN (SELECT * FROM unnest($4::text[], $5::text[])) \
                   AND (holder IS NULL OR expires_at <= now() OR holder = $1) \
                   AND (NOT $8 OR (holder IS NULL AND avoided_by <> $1 AND avoid_until > now())) \
                 ORDER BY random() LIMIT $6 FOR UPDATE SKIP LOCKED) \
             UPDATE leases l SET holder = $1, generation = l.generation + 1, \
                 expires_at = now() + $7::float8 * interval '1 second', \
                 avoided_by = NULL, avoid_until = NULL \
             FROM picked p WHERE l.source = p.source AND l.tenant = p.tenant \
             RETURNING l.source, l.tenant, l.generation, \
                 extract(epoch FROM l.expires_at - now())::float8, p.expired, p.rescued",
            &[
                &me,
                &sources,
                &tenants,
                &held_sources,
                &held_tenants,
                &wanted,
                &ttl,
                &(pick == Pick::Avoided),
            ],
        )
        .await?;
    Ok(rows
        .iter()
        .map(|row| granted(row, row.get::<_, bool>(4), row.get::<_, bool>(5)))
        .collect())
}

/// Gives these leases back (free at once, generation kept: the next holder moves it on).
pub(super) async fn give_back(
    client: &Client,
    me: &str,
    leases: &[(Unit, i64)],
) -> Result<(), Error> {
    if leases.is_empty() {
        return Ok(());
    }
    let (sources, tenants) = columns(leases.iter().map(|(unit, _)| unit));
    let generations: Vec<i64> = leases.iter().map(|(_, generation)| *generation).collect();
    client
        .execute(
            "UPDATE leases SET holder = NULL, expires_at = now() \
             WHERE holder = $1 AND (source, tenant, generation) IN \
                 (SELECT * FROM unnest($2::text[], $3::text[], $4::int8[]))",
            &[&me, &sources, &tenants, &generations],
        )
        .await?;
    Ok(())
}

/// Gives `lease` up because its source stopped on a permanent error here: free at
/// once, marked as avoided by this replica for `hold_off` seconds (PostgreSQL's clock).
pub(super) async fn give_up(
    client: &Client,
    me: &str,
    (unit, generation): &(Unit, i64),
    hold_off: f64,
) -> Result<(), Error> {
    client
        .execute(
            "UPDATE leases SET holder = NULL, expires_at = now(), avoided_by = $1, \
                 avoid_until = now() + $5::float8 * interval '1 second' \
             WHERE holder = $1 AND source = $2 AND tenant = $3 AND generation = $4",
            &[&me, &unit.source, &unit.tenant, generation, &hold_off],
        )
        .await?;
    Ok(())
}

/// This replica leaves: no longer counted live, so the others' shares grow at once.
pub(super) async fn leave(client: &Client, me: &str) -> Result<(), Error> {
    client
        .execute("DELETE FROM lease_replicas WHERE name = $1", &[&me])
        .await?;
    Ok(())
}
