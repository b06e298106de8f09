//! A commit's additions to the monthly ledgers in PostgreSQL: one statement per ledger,
//! not one per sum (a page of 1,000 calls with a directory adds about 270 chargeback
//! sums, each a round trip when sent alone).

use crate::state::Commit;
use tokio_postgres::Transaction;

/// Adds `commit`'s plan usage and chargeback sums to unit `unit_id`'s, in its
/// transaction; the sums are grouped first, as one statement may not update a row twice.
pub(super) async fn add(
    transaction: &Transaction<'_>,
    unit_id: i64,
    commit: &Commit,
) -> Result<(), tokio_postgres::Error> {
    let months: Vec<String> = commit
        .plan_usage
        .iter()
        .map(|usage| usage.month.to_string())
        .collect();
    let licenses: Vec<&str> = commit
        .plan_usage
        .iter()
        .map(|usage| usage.license)
        .collect();
    let seconds: Vec<f64> = commit
        .plan_usage
        .iter()
        .map(|usage| usage.seconds)
        .collect();
    if !months.is_empty() {
        transaction
            .execute(
                "INSERT INTO plan_usage (unit_id, month, license, seconds)
                 SELECT $1, month, license, sum(seconds) FROM unnest($2::text[], $3::text[], $4::float8[]) AS u(month, license, seconds)
                 GROUP BY month, license
                 ON CONFLICT (unit_id, month, license) DO UPDATE SET seconds = plan_usage.seconds + excluded.seconds",
                &[&unit_id, &months, &licenses, &seconds],
            )
            .await?;
    }
    let sums = &commit.chargeback;
    if !sums.is_empty() {
        let months: Vec<String> = sums.iter().map(|sum| sum.month.to_string()).collect();
        let dimensions: Vec<&str> = sums.iter().map(|sum| sum.dimension.as_str()).collect();
        let values: Vec<&str> = sums.iter().map(|sum| sum.value.as_str()).collect();
        let currencies: Vec<&str> = sums.iter().map(|sum| sum.currency.as_str()).collect();
        let micros: Vec<i64> = sums.iter().map(|sum| sum.micros).collect();
        let seconds: Vec<f64> = sums.iter().map(|sum| sum.seconds).collect();
        // `micros` is kept within `bigint`, as SQLite's sums saturate: an overflow
        // that failed the commit would send its batch again at every poll.
        transaction
            .execute(
                "INSERT INTO chargeback_month (unit_id, month, dimension, value, currency, micros, seconds)
                 SELECT $1, month, dimension, value, currency, GREATEST(LEAST(sum(micros), 9223372036854775807), -9223372036854775808)::bigint, sum(seconds)
                 FROM unnest($2::text[], $3::text[], $4::text[], $5::text[], $6::bigint[], $7::float8[]) AS u(month, dimension, value, currency, micros, seconds)
                 GROUP BY month, dimension, value, currency
                 ON CONFLICT (unit_id, month, dimension, value, currency) DO UPDATE SET micros = GREATEST(LEAST(chargeback_month.micros::numeric + excluded.micros, 9223372036854775807), -9223372036854775808)::bigint, seconds = chargeback_month.seconds + excluded.seconds",
                &[&unit_id, &months, &dimensions, &values, &currencies, &micros, &seconds],
            )
            .await?;
    }
    Ok(())
}
