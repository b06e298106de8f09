//! The keeper's clock work: a round's statements bounded in time, and the waits
//! between rounds, both marking leases lost as their deadlines come meanwhile.

use super::held::Held;
use super::session::RoundError;
use std::future::Future;
use std::time::Duration;
use tokio::time::{Instant, sleep_until, timeout};

/// Runs `work` for at most `limit`, marking leases lost as their deadlines come
/// meanwhile: a round stuck on an unreachable server never delays a loss.
pub(super) async fn guarded<T>(
    held: &mut Held,
    limit: Duration,
    work: impl Future<Output = Result<T, RoundError>>,
) -> Result<T, RoundError> {
    let work = timeout(limit, work);
    tokio::pin!(work);
    loop {
        let deadline = held.next_deadline();
        tokio::select! {
            outcome = &mut work => return outcome.map_err(|_| RoundError::TimedOut(limit))?,
            () = sleep_until_some(deadline) => {
                held.expire_due(Instant::now());
            }
        }
    }
}

/// Waits until `until`, marking leases lost as their deadlines come.
pub(super) async fn fire_until(held: &mut Held, until: Instant) {
    loop {
        let next = held
            .next_deadline()
            .map_or(until, |deadline| deadline.min(until));
        sleep_until(next).await;
        held.expire_due(Instant::now());
        if Instant::now() >= until {
            return;
        }
    }
}

async fn sleep_until_some(deadline: Option<Instant>) {
    match deadline {
        Some(deadline) => sleep_until(deadline).await,
        None => std::future::pending().await,
    }
}
