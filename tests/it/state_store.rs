//! One suite of state tests run against both backends: SQLite in a data directory (the
//! default) and PostgreSQL (a throw-away cluster of Debian's server, no mock). Each case
//! is an `async fn(Backend)`; `both!` makes a `sqlite::` and a `postgres::` test of it.

use crate::common;

#[path = "state_store/copy.rs"]
mod copy;
#[path = "state_store/fenced.rs"]
mod fenced;
#[path = "state_store/postgres_only.rs"]
mod postgres_only;
#[path = "state_store/suite.rs"]
mod suite;

use common::postgres::Postgres;
use pstn_agent::facts::{Dimension, Month, MonthSum, PlanUsage};
use pstn_agent::model::Secret;
use pstn_agent::state::{SourceState, StateConfig, StateStore};
use pstn_agent::time::Timestamp;

/// Which implementation a case runs against.
#[derive(Debug, Clone, Copy)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// An open store and what it lives in (the data directory, the cluster), kept so the
/// store can be opened again on the same state.
pub struct Opened {
    pub store: StateStore,
    pub config: StateConfig,
    pub dir: tempfile::TempDir,
    pub cluster: Option<Postgres>,
}

impl Opened {
    /// A new, empty state; `None` when PostgreSQL is not installed (said as SKIPPED).
    pub async fn new(backend: Backend) -> Option<Opened> {
        let dir = tempfile::tempdir().unwrap();
        let (config, cluster) = match backend {
            Backend::Sqlite => (StateConfig::default(), None),
            Backend::Postgres => {
                let cluster = Postgres::start()?;
                let config = StateConfig {
                    postgres_url: Some(Secret::new(cluster.url())),
                    ..StateConfig::default()
                };
                (config, Some(cluster))
            }
        };
        let store = StateStore::open_configured(&config, dir.path())
            .await
            .unwrap();
        Some(Opened {
            store,
            config,
            dir,
            cluster,
        })
    }

    /// Closes the store and opens the same state again (a restart of the agent).
    pub async fn reopen(self) -> Opened {
        let Opened {
            store,
            config,
            dir,
            cluster,
        } = self;
        // The data_dir lock goes with the old store before the new one takes it.
        drop(store);
        let store = StateStore::open_configured(&config, dir.path())
            .await
            .unwrap();
        Opened {
            store,
            config,
            dir,
            cluster,
        }
    }

    pub async fn source(&self, name: &str) -> SourceState {
        self.store.source(name, "pstn_calls", "t").await.unwrap()
    }
}

macro_rules! both {
    ($($case:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test]
                async fn $case() {
                    super::suite::$case(super::Backend::Sqlite).await
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test]
                async fn $case() {
                    super::suite::$case(super::Backend::Postgres).await
                }
            )*
        }
    };
}

both!(
    committed_keys_cursors_and_ledgers_survive_a_reopen,
    cursors_are_replaced_as_a_set_and_each_source_has_its_own,
    pruning_goes_in_slices_and_stops_between_them_when_asked,
    dialout_totals_are_kept_per_day_and_row_and_pruned_by_day,
    the_directory_keeps_users_the_mark_and_failed_rounds_per_source,
    a_source_recorded_as_another_kind_is_refused,
);

fn key(n: u8) -> Vec<u8> {
    vec![n; 16]
}

fn ticks(n: i64) -> Timestamp {
    Timestamp::from_ticks(n)
}

/// January 1970, the month the suite's instants fall in.
pub fn january() -> Month {
    Month::parse("1970-01").unwrap()
}

/// Outbound plan seconds in January 1970 for one licence.
pub fn plan_usage(license: &'static str, seconds: f64) -> PlanUsage {
    PlanUsage {
        month: january(),
        license,
        seconds,
    }
}

fn month_sum(micros: i64, seconds: f64) -> MonthSum {
    MonthSum {
        month: january(),
        dimension: Dimension::Department,
        value: "Sales".into(),
        currency: "EUR".into(),
        micros,
        seconds,
    }
}

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
