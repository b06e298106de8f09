//! The SQLite file's creation, checks and migrations.

use super::super::SqliteStore;
use super::*;
use crate::facts::{Dimension, Month, MonthSum};
use std::os::unix::fs::PermissionsExt;

/// Schemas 4 to 6's chargeback table: a row per (month, dimension, value, currency).
const CHARGEBACK_MONTH: &str = "CREATE TABLE chargeback_month (
    source_id INTEGER NOT NULL, month TEXT NOT NULL, dimension TEXT NOT NULL, value TEXT NOT NULL,
    currency TEXT NOT NULL, micros INTEGER NOT NULL, seconds REAL NOT NULL,
    PRIMARY KEY (source_id, month, dimension, value, currency)) WITHOUT ROWID;";

#[test]
fn a_new_store_is_private_to_its_owner() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("state");
    let store = SqliteStore::open(&data_dir).unwrap();
    assert_eq!(
        std::fs::metadata(&data_dir).unwrap().permissions().mode() & 0o777,
        0o700
    );
    assert_eq!(
        std::fs::metadata(store.path())
            .unwrap()
            .permissions()
            .mode()
            & 0o777,
        0o600
    );
}

#[test]
fn a_foreign_or_garbled_file_is_refused_with_a_way_out() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("state.sqlite3"), b"this is not sqlite at all, just some text here..........................................................").unwrap();
    let error = SqliteStore::open(dir.path()).unwrap_err();
    assert!(matches!(error, StateError::Refused { .. }), "{error}");
    assert!(error.to_string().contains("move it aside"), "{error}");

    let foreign = tempfile::tempdir().unwrap();
    let connection = Connection::open(foreign.path().join("state.sqlite3")).unwrap();
    connection
        .execute_batch("CREATE TABLE customers (id INTEGER)")
        .unwrap();
    drop(connection);
    let error = SqliteStore::open(foreign.path()).unwrap_err();
    assert!(
        error.to_string().contains("not written by pstn-agent"),
        "{error}"
    );
}

#[test]
fn the_read_only_check_refuses_what_open_refuses_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    assert!(SqliteStore::check(dir.path()).is_ok(), "no state yet");
    assert!(!dir.path().join("state.sqlite3").exists());
    let store = SqliteStore::open(dir.path()).unwrap();
    assert!(
        SqliteStore::check(dir.path()).is_ok(),
        "beside a running agent"
    );
    let path = store.path().to_owned();
    drop(store);
    let connection = Connection::open(&path).unwrap();
    connection
        .execute_batch("UPDATE meta SET value = '99' WHERE key = 'schema_version';")
        .unwrap();
    drop(connection);
    let error = SqliteStore::check(dir.path()).unwrap_err();
    assert!(error.to_string().contains("newer pstn-agent"), "{error}");
    let garbled = tempfile::tempdir().unwrap();
    std::fs::write(garbled.path().join("state.sqlite3"), [b'x'; 200]).unwrap();
    let error = SqliteStore::check(garbled.path()).unwrap_err();
    assert!(error.to_string().contains("move it aside"), "{error}");
}

#[test]
fn a_schema_1_file_is_migrated_and_keeps_its_progress() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path()).unwrap();
    let state = store.source("a", "pstn_calls", "t").unwrap();
    state
        .replace_cursors(&[(
            std::time::Duration::ZERO,
            crate::time::Timestamp::from_ticks(42),
        )])
        .unwrap();
    drop(state);
    let path = store.path().to_owned();
    drop(store);
    let connection = Connection::open(path).unwrap();
    connection
        .execute_batch(
            "DROP TABLE plan_usage; UPDATE meta SET value = '1' WHERE key = 'schema_version';",
        )
        .unwrap();
    drop(connection);
    let state = SqliteStore::open(dir.path())
        .unwrap()
        .source("a", "pstn_calls", "t")
        .unwrap();
    assert_eq!(state.cursors().unwrap()[0].1.ticks(), 42);
    assert!(
        state
            .plan_usage(crate::facts::Month::parse("2024-05").unwrap())
            .unwrap()
            .is_empty()
    );
}

#[test]
fn a_schema_3_file_gains_the_directory_tables_and_keeps_every_delivered_key() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path()).unwrap();
    let path = store.path().to_owned();
    drop(store);
    let connection = Connection::open(&path).unwrap();
    connection
        .execute_batch(
            "INSERT INTO delivered (source_id, call_start, row_key) VALUES (1, 10, x'01'), (1, 20, x'02'), (2, 30, x'03');
             DROP TABLE directory_users; DROP TABLE directory_sync;
             UPDATE meta SET value = '3' WHERE key = 'schema_version';",
        )
        .unwrap();
    drop(connection);
    drop(SqliteStore::open(dir.path()).unwrap());
    let connection = Connection::open(&path).unwrap();
    let keys: Vec<(i64, i64, Vec<u8>)> = connection
        .prepare("SELECT source_id, call_start, row_key FROM delivered ORDER BY call_start")
        .unwrap()
        .query_map([], |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(keys, [(1, 10, vec![1]), (1, 20, vec![2]), (2, 30, vec![3])]);
    let tables: i64 = connection
        .query_row(
            "SELECT count(*) FROM sqlite_master WHERE name IN ('directory_users', 'directory_sync')",
            [],
            |row| row.get(0),
        )
        .unwrap();
    assert_eq!(tables, 2);
    let version: String = connection
        .query_row(
            "SELECT value FROM meta WHERE key = 'schema_version'",
            [],
            |row| row.get(0),
        )
        .unwrap();
    assert_eq!(version, SCHEMA_VERSION.to_string());
}

#[test]
fn a_file_from_a_newer_release_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = SqliteStore::open(dir.path()).unwrap().path().to_owned();
    let connection = Connection::open(path).unwrap();
    connection
        .execute(
            "UPDATE meta SET value = '99' WHERE key = 'schema_version'",
            [],
        )
        .unwrap();
    drop(connection);
    let error = SqliteStore::open(dir.path()).unwrap_err();
    assert!(error.to_string().contains("newer pstn-agent"), "{error}");
}

#[test]
fn a_schema_5_file_is_rekeyed_by_source_and_tenant_and_keeps_its_ids() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path()).unwrap();
    let path = store.path().to_owned();
    drop(store);
    // Schema 5's `sources` (unique by name), with one source and one of its sweeps.
    let connection = Connection::open(&path).unwrap();
    connection
        .execute_batch(
            "DROP TABLE sources;
             CREATE TABLE sources (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, kind TEXT NOT NULL, tenant_id TEXT NOT NULL);
             INSERT INTO sources (id, name, kind, tenant_id) VALUES (7, 'customers', 'pstn_calls', 'a.example');
             INSERT INTO sweeps (source_id, delay_ticks, cursor_ticks, cursor) VALUES (7, 0, 1, 'c');
             UPDATE meta SET value = '5' WHERE key = 'schema_version';",
        )
        .unwrap();
    connection
        .execute_batch(&format!("DROP TABLE chargeback_sums; {CHARGEBACK_MONTH}"))
        .unwrap();
    drop(connection);
    let store = SqliteStore::open(dir.path()).unwrap();
    let kept = store
        .tenant_source("customers", "pstn_calls", "a.example", 2)
        .unwrap();
    assert_eq!(
        kept.cursors().unwrap().len(),
        1,
        "the tenant kept its sweep"
    );
    store
        .tenant_source("customers", "pstn_calls", "b.example", 2)
        .expect("a second tenant of the source gets a row of its own");
    let refused = store
        .source("customers", "pstn_calls", "c.example")
        .unwrap_err();
    assert!(
        refused
            .to_string()
            .contains("was recorded as pstn_calls of tenant a.example"),
        "a source of one tenant is still refused another tenant: {refused}"
    );
    let refused = store
        .tenant_source("customers", "direct_routing_calls", "a.example", 2)
        .unwrap_err();
    assert!(matches!(refused, StateError::Refused { .. }), "{refused}");
    drop(store);
    let connection = Connection::open(&path).unwrap();
    let rows: Vec<(i64, String)> = connection
        .prepare("SELECT id, tenant_id FROM sources WHERE name = 'customers' ORDER BY id")
        .unwrap()
        .query_map([], |row| Ok((row.get(0)?, row.get(1)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(rows[0], (7, "a.example".to_owned()));
    assert_eq!(rows.len(), 2);
}

#[test]
fn a_schema_6_file_keeps_every_chargeback_sum_regrouped_by_month_and_dimension() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path()).unwrap();
    let path = store.path().to_owned();
    drop(store.source("a", "pstn_calls", "t").unwrap());
    drop(store);
    let connection = Connection::open(&path).unwrap();
    connection
        .execute_batch(&format!(
            "DROP TABLE chargeback_sums; {CHARGEBACK_MONTH}
             INSERT INTO chargeback_month VALUES
                 (1, '2024-05', 'department', 'Ventes \"Île\"', 'EUR', 350, 90.0),
                 (1, '2024-05', 'department', 'Legal', 'USD', 5, 3.0),
                 (1, '2024-05', 'cost_center', 'CC-1', 'EUR', 355, 0.0),
                 (1, '2024-06', 'department', 'Legal', 'EUR', 1, 1.0),
                 (2, '2024-05', 'department', 'Legal', 'EUR', 9, 9.0);
             UPDATE meta SET value = '6' WHERE key = 'schema_version';"
        ))
        .unwrap();
    drop(connection);
    let store = SqliteStore::open(dir.path()).unwrap();
    let may = Month::parse("2024-05").unwrap();
    let sum = |dimension, value: &str, currency: &str, micros, seconds| MonthSum {
        month: may,
        dimension,
        value: value.to_owned(),
        currency: currency.to_owned(),
        micros,
        seconds,
    };
    assert_eq!(
        store
            .source("a", "pstn_calls", "t")
            .unwrap()
            .chargeback(may)
            .unwrap(),
        [
            sum(Dimension::Department, "Legal", "USD", 5, 3.0),
            sum(Dimension::Department, "Ventes \"Île\"", "EUR", 350, 90.0),
            sum(Dimension::CostCenter, "CC-1", "EUR", 355, 0.0),
        ]
    );
    drop(store);
    let connection = Connection::open(&path).unwrap();
    let (groups, old): (i64, i64) = connection
        .query_row(
            "SELECT (SELECT count(*) FROM chargeback_sums), (SELECT count(*) FROM sqlite_master WHERE name = 'chargeback_month')",
            [],
            |row| Ok((row.get(0)?, row.get(1)?)),
        )
        .unwrap();
    assert_eq!(
        (groups, old),
        (4, 0),
        "a row per (source, month, dimension), the old table gone"
    );
}
