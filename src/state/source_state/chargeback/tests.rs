//! The chargeback sums' merge, order and damaged rows.
use super::*;

fn sum(
    month: &str,
    dimension: Dimension,
    value: &str,
    currency: &str,
    micros: i64,
    seconds: f64,
) -> MonthSum {
    MonthSum {
        month: Month::parse(month).unwrap(),
        dimension,
        value: value.to_owned(),
        currency: currency.to_owned(),
        micros,
        seconds,
    }
}

/// A May sum in euros of one department.
fn department(value: &str, micros: i64, seconds: f64) -> MonthSum {
    sum(
        "2024-05",
        Dimension::Department,
        value,
        "EUR",
        micros,
        seconds,
    )
}

fn connection() -> Connection {
    let connection = Connection::open_in_memory().unwrap();
    connection
        .execute_batch(
            "CREATE TABLE chargeback_sums (source_id INTEGER NOT NULL, month TEXT NOT NULL, dimension TEXT NOT NULL, sums TEXT NOT NULL, UNIQUE (source_id, month, dimension));
                 CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);",
        )
        .unwrap();
    connection
}

#[test]
fn commits_add_to_each_value_and_currency_of_their_month_and_dimension_only() {
    let connection = connection();
    let first = [
        sum("2024-05", Dimension::Department, "Sales", "EUR", 100, 60.0),
        sum("2024-05", Dimension::Department, "Sales", "EUR", 250, 30.0),
        sum("2024-05", Dimension::Department, "Sales", "USD", 7, 1.0),
        sum("2024-05", Dimension::CostCenter, "CC-1", "EUR", 350, 0.0),
        sum("2024-06", Dimension::Department, "Sales", "EUR", 1, 2.0),
    ];
    add(&connection, 1, &first).unwrap();
    add(&connection, 1, &[department("Legal", 5, 3.0)]).unwrap();
    add(&connection, 2, &[department("Sales", 9, 9.0)]).unwrap();
    let may = read(&connection, 1, Month::parse("2024-05").unwrap()).unwrap();
    assert_eq!(
        may,
        [
            sum("2024-05", Dimension::Department, "Legal", "EUR", 5, 3.0),
            sum("2024-05", Dimension::Department, "Sales", "EUR", 350, 90.0),
            sum("2024-05", Dimension::Department, "Sales", "USD", 7, 1.0),
            sum("2024-05", Dimension::CostCenter, "CC-1", "EUR", 350, 0.0),
        ]
    );
    assert_eq!(
        rows(&connection, 1).unwrap().len(),
        5,
        "June's sum is its own"
    );
    assert_eq!(
        rows(&connection, 2).unwrap().len(),
        1,
        "another source's sums are its own"
    );
}

#[test]
fn a_damaged_row_is_a_read_error_and_a_commit_sets_it_aside_and_goes_on() {
    let connection = connection();
    // A micros overflowed to a REAL by schema 6, as the migration writes it.
    let damaged = r#"[["Sales","EUR",9.2233720368547758e+18,1.0]]"#;
    connection
        .execute(
            "INSERT INTO chargeback_sums VALUES (1, '2024-05', 'department', ?1)",
            [damaged],
        )
        .unwrap();
    let error = read(&connection, 1, Month::parse("2024-05").unwrap()).unwrap_err();
    assert!(
        matches!(error, rusqlite::Error::FromSqlConversionFailure(..)),
        "{error}"
    );
    add(&connection, 1, &[department("Sales", 1, 1.0)]).expect("the commit goes on");
    assert_eq!(
        read(&connection, 1, Month::parse("2024-05").unwrap()).unwrap(),
        [department("Sales", 1, 1.0)],
        "the month starts again from this commit"
    );
    let kept: String = connection
        .query_row(
            "SELECT value FROM meta WHERE key = 'chargeback_damaged/1/2024-05/department'",
            [],
            |row| row.get(0),
        )
        .unwrap();
    assert_eq!(kept, damaged);
}

#[test]
fn sums_stored_out_of_order_or_twice_are_merged_in_order_with_the_new_ones() {
    let connection = connection();
    connection
        .execute(
            r#"INSERT INTO chargeback_sums VALUES (1, '2024-05', 'department', '[["b","EUR",1,1.0],["Ventes \"Île\"","EUR",2,2.0],["b","EUR",3,0.0]]')"#,
            [],
        )
        .unwrap();
    let added = [
        sum("2024-05", Dimension::Department, "a", "EUR", 10, 1.0),
        sum(
            "2024-05",
            Dimension::Department,
            "Ventes \"Île\"",
            "EUR",
            5,
            5.0,
        ),
    ];
    add(&connection, 1, &added).unwrap();
    let text: String = connection
        .query_row("SELECT sums FROM chargeback_sums", [], |row| row.get(0))
        .unwrap();
    assert_eq!(
        text,
        r#"[["Ventes \"Île\"","EUR",7,7.0],["a","EUR",10,1.0],["b","EUR",4,1.0]]"#
    );
}
