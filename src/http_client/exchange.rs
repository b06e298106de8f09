//! The rules every client that sends a bearer token applies to an answer before it
//! reads it: a 401 gets one fresh token, a throttling answer's `Retry-After` is waited
//! out within limits, and anything else is the client's own to judge. Each client
//! keeps its loop (how it sends, waits and reports) and asks [`Exchange::judge`] what
//! an answer means for it.

use std::time::Duration;
use tokio::time::Instant;

/// What a client sits out when throttled.
#[derive(Debug, Clone, Copy)]
pub struct Throttling {
    /// The statuses that ask for a wait (Graph: 429; Logs Ingestion: 429 and 503).
    pub statuses: &'static [u16],
    /// The wait when the answer announces none; without it, an unannounced wait is
    /// not sat out ([`Step::Throttled`] with no wait).
    pub unannounced: Option<fn() -> Duration>,
    /// The longest single wait sat out.
    pub longest_wait: Duration,
    /// The most waits one exchange sits out.
    pub most_waits: usize,
    /// How long one exchange may take, from its start to the end of its next wait.
    pub within: Duration,
}

/// What an answer means for the exchange.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// The client reads and judges the answer itself (a success, or a status these
    /// rules leave alone).
    Read,
    /// A 401: forget this token, take a fresh one and send again.
    RefreshToken,
    /// A 401 to the fresh token too.
    Unauthorized,
    /// Throttled: wait this long, then send again.
    Wait(Duration),
    /// Throttled past what this exchange sits out; the wait that was asked, if any.
    Throttled(Option<Duration>),
}

/// One request's exchange of answers: what it has spent so far.
#[derive(Debug)]
pub struct Exchange {
    throttling: Throttling,
    started: Instant,
    refreshed: bool,
    waits: usize,
}

impl Exchange {
    /// An exchange starting now.
    pub fn new(throttling: Throttling) -> Exchange {
        Exchange {
            throttling,
            started: Instant::now(),
            refreshed: false,
            waits: 0,
        }
    }

    /// What an answer of `status` with `retry_after` means for this exchange.
    pub fn judge(&mut self, status: u16, retry_after: Option<Duration>) -> Step {
        if status == 401 {
            return match std::mem::replace(&mut self.refreshed, true) {
                false => Step::RefreshToken,
                true => Step::Unauthorized,
            };
        }
        let rules = &self.throttling;
        if !rules.statuses.contains(&status) {
            return Step::Read;
        }
        let Some(wait) = retry_after.or_else(|| rules.unannounced.map(|unannounced| unannounced()))
        else {
            return Step::Throttled(None);
        };
        let ends = self.started.elapsed().saturating_add(wait);
        if wait > rules.longest_wait || self.waits >= rules.most_waits || ends > rules.within {
            return Step::Throttled(Some(wait));
        }
        self.waits += 1;
        Step::Wait(wait)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECOND: Duration = Duration::from_secs(1);

    fn sink_like() -> Throttling {
        Throttling {
            statuses: &[429, 503],
            unannounced: None,
            longest_wait: 5 * SECOND,
            most_waits: 3,
            within: Duration::MAX,
        }
    }

    #[test]
    fn a_401_refreshes_the_token_once_only() {
        let mut exchange = Exchange::new(sink_like());
        assert_eq!(exchange.judge(401, None), Step::RefreshToken);
        assert_eq!(exchange.judge(200, None), Step::Read);
        assert_eq!(exchange.judge(401, None), Step::Unauthorized);
    }

    #[test]
    fn throttling_is_sat_out_within_the_longest_wait_and_the_most_waits() {
        let mut exchange = Exchange::new(sink_like());
        assert_eq!(
            exchange.judge(503, Some(6 * SECOND)),
            Step::Throttled(Some(6 * SECOND))
        );
        assert_eq!(exchange.judge(503, None), Step::Throttled(None));
        for _ in 0..3 {
            assert_eq!(
                exchange.judge(429, Some(2 * SECOND)),
                Step::Wait(2 * SECOND)
            );
        }
        assert_eq!(
            exchange.judge(429, Some(SECOND)),
            Step::Throttled(Some(SECOND))
        );
        assert_eq!(exchange.judge(500, Some(SECOND)), Step::Read);
    }

    #[tokio::test(start_paused = true)]
    async fn an_unannounced_wait_is_assumed_and_the_whole_exchange_kept_within_its_time() {
        let mut exchange = Exchange::new(Throttling {
            statuses: &[429],
            unannounced: Some(|| 10 * SECOND),
            longest_wait: Duration::MAX,
            most_waits: usize::MAX,
            within: 30 * SECOND,
        });
        assert_eq!(exchange.judge(429, None), Step::Wait(10 * SECOND));
        assert_eq!(exchange.judge(503, None), Step::Read);
        tokio::time::advance(15 * SECOND).await;
        assert_eq!(
            exchange.judge(429, Some(15 * SECOND)),
            Step::Wait(15 * SECOND)
        );
        tokio::time::advance(SECOND).await;
        assert_eq!(
            exchange.judge(429, Some(15 * SECOND)),
            Step::Throttled(Some(15 * SECOND))
        );
        assert_eq!(
            exchange.judge(429, Some(Duration::MAX)),
            Step::Throttled(Some(Duration::MAX))
        );
    }
}
