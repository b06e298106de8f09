//! Graph's published limits for the PSTN call-log functions, enforced as Graph would:
//! at most 50 requests in any 60 s per collection (one function of one tenant), 200
//! per application in a tenant, 1,000 per tenant; a request over any of them is
//! answered 429 with the seconds until it would fit in `Retry-After`.

use crate::model::graph_limits::{
    APPLICATION_PER_MINUTE, COLLECTION_PER_MINUTE, TENANT_PER_MINUTE,
};
use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};

const WINDOW: Duration = Duration::from_secs(60);

/// The counted requests of each limit (sliding 60 s windows).
#[derive(Debug, Default)]
pub(super) struct GraphLimits {
    arrivals: Mutex<HashMap<Key, VecDeque<Instant>>>,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Key {
    Collection(String, &'static str),
    Application(String, String),
    Tenant(String),
}

impl Key {
    fn limit(&self) -> usize {
        match self {
            Key::Collection(..) => COLLECTION_PER_MINUTE as usize,
            Key::Application(..) => APPLICATION_PER_MINUTE as usize,
            Key::Tenant(..) => TENANT_PER_MINUTE as usize,
        }
    }
}

impl GraphLimits {
    /// Counts a request of `function` by `client_id` in `tenant`, or says how long
    /// until it would fit (nothing counted then).
    pub(super) fn admit(
        &self,
        tenant: &str,
        client_id: &str,
        function: &'static str,
    ) -> Result<(), Duration> {
        let tenant = tenant.to_ascii_lowercase();
        let keys = [
            Key::Collection(tenant.clone(), function),
            Key::Application(tenant.clone(), client_id.to_ascii_lowercase()),
            Key::Tenant(tenant),
        ];
        let now = Instant::now();
        let mut arrivals = self
            .arrivals
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let mut wait = Duration::ZERO;
        for key in &keys {
            let log = arrivals.entry(key.clone()).or_default();
            while log
                .front()
                .is_some_and(|at| now.duration_since(*at) >= WINDOW)
            {
                log.pop_front();
            }
            if log.len() >= key.limit() {
                // The request fits once enough of the oldest have left the window.
                let oldest = log[log.len() - key.limit()];
                wait = wait.max(WINDOW.saturating_sub(now.duration_since(oldest)));
            }
        }
        if !wait.is_zero() {
            return Err(wait);
        }
        for key in keys {
            arrivals.entry(key).or_default().push_back(now);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_fifty_first_request_of_a_collection_in_a_minute_waits_and_others_go_on() {
        let limits = GraphLimits::default();
        for _ in 0..50 {
            limits.admit("t", "app", "getPstnCalls").unwrap();
        }
        let wait = limits.admit("T", "app", "getPstnCalls").unwrap_err();
        assert!(wait > Duration::from_secs(59) && wait <= WINDOW, "{wait:?}");
        // Another collection of the same application still has room.
        limits.admit("t", "app", "getSmsLog").unwrap();
    }

    #[test]
    fn an_application_gets_two_hundred_a_minute_and_a_tenant_a_thousand() {
        let limits = GraphLimits::default();
        // Collections are per function of a tenant: 25 of them, 40 requests each.
        let functions: Vec<&'static str> = (0..25)
            .map(|n| &*Box::leak(format!("function{n}").into_boxed_str()))
            .collect();
        for function in &functions[..5] {
            for _ in 0..40 {
                limits.admit("t", "app", function).unwrap();
            }
        }
        assert!(
            limits.admit("t", "app", functions[5]).is_err(),
            "201st of the app"
        );
        for (n, function) in functions[5..].iter().enumerate() {
            let client = format!("app{}", n / 5);
            for _ in 0..40 {
                limits.admit("t", &client, function).unwrap();
            }
        }
        assert!(
            limits.admit("t", "another", "getSmsLog").is_err(),
            "the tenant's 1,001st"
        );
        limits.admit("other-tenant", "app", "getSmsLog").unwrap();
    }
}
