//! One suite of state tests run against both backends: SQLite in a data directory (the
//! default) and PostgreSQL (a throw-away cluster of Debian's server, no mock).

mod common;

use common::postgres::Postgres;

/// The throw-away cluster answers a real query over the URL the agent would use.
#[tokio::test]
async fn a_throw_away_postgres_cluster_answers_select_1() {
    let Some(cluster) = Postgres::start() else {
        return;
    };
    let (client, connection) = tokio_postgres::connect(&cluster.url(), tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(connection);
    let row = client.query_one("select 1::int4", &[]).await.unwrap();
    assert_eq!(row.get::<_, i32>(0), 1);
}
