//! One replica's session with PostgreSQL and the statements of a round, as the keeper
//! runs them: opened, migrated and the units registered on first use (again after any
//! failure); a claim (heartbeat, renew, take up to the share), giving back, leaving.

use super::Unit;
use super::keeper::{Connect, LeaseSettings};
use super::round::{self, Granted, Pick};
use super::schema::{self, SchemaError};
use super::share::share;
use std::sync::Arc;
use std::time::Duration;
use tokio_postgres::Client;

/// What one round's claim answered.
pub(super) struct Claim {
    pub(super) renewed: Vec<Granted>,
    pub(super) taken: Vec<Granted>,
    pub(super) live: usize,
    pub(super) share: usize,
}

/// Why a round did not go through.
#[derive(Debug, thiserror::Error)]
pub(super) enum RoundError {
    #[error(transparent)]
    Schema(#[from] SchemaError),
    #[error(transparent)]
    Database(#[from] tokio_postgres::Error),
    #[error("PostgreSQL did not answer within {0:?}")]
    TimedOut(Duration),
}

/// The connection (opened, migrated and the units registered on first use, again after
/// a failure) and the statements of a round.
pub(super) struct Session {
    pub(super) connect: Connect,
    pub(super) client: Option<Client>,
    pub(super) settings: Arc<LeaseSettings>,
    /// The units now: `settings.units` as changed since (SIGHUP), registered and shared.
    pub(super) units: Vec<Unit>,
}

impl Session {
    async fn client(&mut self) -> Result<&Client, RoundError> {
        let client = match self.client.take() {
            Some(client) if !client.is_closed() => client,
            _ => {
                let mut client = (self.connect)().await?;
                schema::migrate(&mut client).await?;
                round::register(&client, &self.units).await?;
                client
            }
        };
        Ok(self.client.insert(client))
    }

    /// Heartbeat, renew what is held, take up to the share from `takeable` (units held
    /// `beyond` the share not counted); at the full share and holding none beyond it,
    /// one more that another replica gave up (its source stopped there): every other
    /// replica is full under an even share, and the unit must not be left to the one
    /// replica where it fails. At most share + 1 per replica.
    pub(super) async fn claim(
        &mut self,
        holding: &[(Unit, i64)],
        takeable: &[Unit],
        beyond: &[Unit],
    ) -> Result<Claim, RoundError> {
        let settings = self.settings.clone();
        let ttl = settings.ttl.as_secs_f64();
        let me = settings.replica.as_str();
        let units = self.units.len();
        let client = self.client().await?;
        let live = round::heartbeat(client, me, ttl).await?;
        let share = share(units, &live, me);
        let renewed = round::renew(client, me, holding, ttl).await?;
        let counted = renewed
            .iter()
            .filter(|granted| !beyond.contains(&granted.unit))
            .count();
        let wanted = share.saturating_sub(counted);
        let any = (takeable, Pick::Any);
        let mut taken = round::take(client, me, any, holding, wanted, ttl).await?;
        if counted == renewed.len() && counted + taken.len() == share && share > 0 {
            let avoided = (takeable, Pick::Avoided);
            taken.extend(round::take(client, me, avoided, holding, 1, ttl).await?);
        }
        Ok(Claim {
            renewed,
            taken,
            live: live.len(),
            share,
        })
    }

    pub(super) async fn give_back(&mut self, leases: &[(Unit, i64)]) -> Result<(), RoundError> {
        let me = self.settings.replica.clone();
        round::give_back(self.client().await?, &me, leases).await?;
        Ok(())
    }

    /// Gives `lease` back; with a `hold_off`, marked as avoided by this replica
    /// until then.
    pub(super) async fn give_up(
        &mut self,
        lease: &(Unit, i64),
        hold_off: Duration,
    ) -> Result<(), RoundError> {
        let me = self.settings.replica.clone();
        let client = self.client().await?;
        if hold_off.is_zero() {
            round::give_back(client, &me, std::slice::from_ref(lease)).await?;
        } else {
            round::give_up(client, &me, lease, hold_off.as_secs_f64()).await?;
        }
        Ok(())
    }

    /// The units changed: `removed` leases given back, the units registered (the
    /// added ones among them) so that a round may take them.
    pub(super) async fn change(&mut self, removed: &[(Unit, i64)]) -> Result<(), RoundError> {
        let me = self.settings.replica.clone();
        let units = self.units.clone();
        let client = self.client().await?;
        round::give_back(client, &me, removed).await?;
        round::register(client, &units).await?;
        Ok(())
    }

    pub(super) async fn leave(&mut self, leases: &[(Unit, i64)]) -> Result<(), RoundError> {
        let me = self.settings.replica.clone();
        let client = self.client().await?;
        round::give_back(client, &me, leases).await?;
        round::leave(client, &me).await?;
        Ok(())
    }
}
