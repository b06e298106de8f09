//! Graph's published limits for the PSTN call-log functions ("PSTN call records
//! limits": per collection, per application in a tenant, per tenant, each per 60 s)
//! and the pace that keeps the agent inside them.
//!
//! Every source waits on its own pace (`requests_per_minute`), then on the limiter of
//! its collection (one function of one tenant, shared by every source reading it,
//! with that collection's Retry-After pause), of its application in that tenant, and
//! of the tenant. The shared limiters come from one [`PaceBook`] per agent, so two
//! sources of one tenant and client id together stay inside the application's 200.
//! A new call-log function is one more collection: nothing here names the functions.

use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::time::Instant;

use crate::model::graph_limits::{
    APPLICATION_PER_MINUTE, COLLECTION_PER_MINUTE, TENANT_PER_MINUTE,
};
/// The pace runs this much under a limit, so that network jitter never lands one
/// request too many inside Graph's 60 s window (50 requests take 61.2 s, not 60).
const HEADROOM: f64 = 0.98;

/// A limiter that lets one request through every `60 s / per_minute` (no bursts).
fn limiter(per_minute: f64) -> DefaultDirectRateLimiter {
    let per_second = per_minute.max(0.001) * HEADROOM / 60.0;
    let quota = Quota::with_period(Duration::from_secs_f64(1.0 / per_second))
        .unwrap_or_else(|| Quota::per_second(NonZeroU32::MIN))
        .allow_burst(NonZeroU32::MIN);
    RateLimiter::direct(quota)
}

/// What one source asks of the [`PaceBook`].
#[derive(Debug, Clone, Copy)]
pub struct PaceMember<'a> {
    /// The tenant as configured (compared without regard to case).
    pub tenant: &'a str,
    /// The application (client) id.
    pub client_id: &'a str,
    /// The Graph function: the collection.
    pub function: &'static str,
    /// The source's own pace. Above a published limit it raises that shared limiter to
    /// match: the configuration asked for it (a stand-in without limits, a load test).
    pub requests_per_minute: f64,
}

/// One collection's gate: its limiter and its Retry-After pause, shared by every
/// source reading that function of that tenant.
#[derive(Debug)]
struct Collection {
    limiter: DefaultDirectRateLimiter,
    paused_until: Mutex<Option<Instant>>,
}

/// The shared limiters of one agent, built from all its sources at once.
#[derive(Debug, Default)]
pub struct PaceBook {
    collections: HashMap<(String, &'static str), Arc<Collection>>,
    applications: HashMap<(String, String), Arc<DefaultDirectRateLimiter>>,
    tenants: HashMap<String, Arc<DefaultDirectRateLimiter>>,
}

impl PaceBook {
    /// The limiters `members` share, each at Graph's published limit (or at the
    /// fastest member's pace, when one asks for more).
    pub fn new<'a>(members: impl IntoIterator<Item = PaceMember<'a>>) -> PaceBook {
        let mut fastest: HashMap<Key, f64> = HashMap::new();
        for member in members {
            for key in Key::all(&member) {
                let pace = fastest.entry(key).or_insert(0.0);
                *pace = pace.max(member.requests_per_minute);
            }
        }
        let mut book = PaceBook::default();
        for (key, pace) in fastest {
            match key {
                Key::Collection(tenant, function) => {
                    let collection = Collection {
                        limiter: limiter(pace.max(COLLECTION_PER_MINUTE.into())),
                        paused_until: Mutex::new(None),
                    };
                    book.collections
                        .insert((tenant, function), Arc::new(collection));
                }
                Key::Application(tenant, client) => {
                    let shared = limiter(pace.max(APPLICATION_PER_MINUTE.into()));
                    book.applications.insert((tenant, client), Arc::new(shared));
                }
                Key::Tenant(tenant) => {
                    let shared = limiter(pace.max(TENANT_PER_MINUTE.into()));
                    book.tenants.insert(tenant, Arc::new(shared));
                }
            }
        }
        book
    }

    /// The pace of one source of this book (a member left out when the book was built
    /// gets limiters of its own).
    pub fn pace(&self, member: &PaceMember<'_>) -> Pace {
        let tenant = member.tenant.to_ascii_lowercase();
        let client = member.client_id.to_ascii_lowercase();
        let alone = || PaceBook::new([*member]);
        let collection = self
            .collections
            .get(&(tenant.clone(), member.function))
            .cloned();
        let application = self.applications.get(&(tenant.clone(), client)).cloned();
        let shared_tenant = self.tenants.get(&tenant).cloned();
        match (collection, application, shared_tenant) {
            (Some(collection), Some(application), Some(tenant)) => Pace {
                own: limiter(member.requests_per_minute),
                collection,
                application,
                tenant,
            },
            _ => alone().pace(member),
        }
    }
}

/// A shared limiter's key.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Key {
    Collection(String, &'static str),
    Application(String, String),
    Tenant(String),
}

impl Key {
    fn all(member: &PaceMember<'_>) -> [Key; 3] {
        let tenant = member.tenant.to_ascii_lowercase();
        [
            Key::Collection(tenant.clone(), member.function),
            Key::Application(tenant.clone(), member.client_id.to_ascii_lowercase()),
            Key::Tenant(tenant),
        ]
    }
}

/// One source's way through the limits: its own pace, then its collection's,
/// application's and tenant's shared limiters.
#[derive(Debug)]
pub struct Pace {
    own: DefaultDirectRateLimiter,
    collection: Arc<Collection>,
    application: Arc<DefaultDirectRateLimiter>,
    tenant: Arc<DefaultDirectRateLimiter>,
}

impl Pace {
    /// A source alone in its tenant.
    pub fn alone(member: &PaceMember<'_>) -> Pace {
        PaceBook::new([*member]).pace(member)
    }

    /// Waits until one more request of this source is inside every limit.
    pub(super) async fn ready(&self) {
        self.wait_out_pause().await;
        self.own.until_ready().await;
        self.collection.limiter.until_ready().await;
        self.application.until_ready().await;
        self.tenant.until_ready().await;
    }

    /// Holds back every request of this collection (every source reading it) until
    /// `wait` has passed.
    pub(super) fn pause_for(&self, wait: Duration) {
        let until = Instant::now() + wait;
        if let Ok(mut paused) = self.collection.paused_until.lock()
            && paused.is_none_or(|current| current < until)
        {
            *paused = Some(until);
        }
    }

    /// Waits out a pause of this collection, if one is running.
    pub(super) async fn wait_out_pause(&self) {
        let until = self
            .collection
            .paused_until
            .lock()
            .ok()
            .and_then(|paused| *paused);
        if let Some(until) = until {
            tokio::time::sleep_until(until).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn member(function: &'static str, client_id: &'static str, pace: f64) -> PaceMember<'static> {
        PaceMember {
            tenant: "Contoso.onmicrosoft.com",
            client_id,
            function,
            requests_per_minute: pace,
        }
    }

    /// How many of `pace`'s next requests pass at once (the limiters allow no bursts:
    /// one, then one each period).
    fn passing_now(limiter: &DefaultDirectRateLimiter) -> usize {
        (0..10).take_while(|_| limiter.check().is_ok()).count()
    }

    #[test]
    fn sources_of_one_collection_share_its_limiter_and_its_pause() {
        let a = member("getPstnCalls", "app", 50.0);
        let b = PaceMember {
            tenant: "contoso.onmicrosoft.com",
            ..member("getPstnCalls", "APP", 50.0)
        };
        let book = PaceBook::new([a, b]);
        let (first, second) = (book.pace(&a), book.pace(&b));
        assert!(Arc::ptr_eq(&first.collection, &second.collection));
        assert!(Arc::ptr_eq(&first.application, &second.application));
        assert!(Arc::ptr_eq(&first.tenant, &second.tenant));
        first.pause_for(Duration::from_secs(30));
        assert!(
            second.collection.paused_until.lock().unwrap().is_some(),
            "a 429 of one source holds back the other source of the collection"
        );
    }

    #[tokio::test]
    async fn a_pause_of_one_source_holds_back_the_other_source_of_its_collection() {
        let a = member("getPstnCalls", "app", 60_000.0);
        let b = member("getPstnCalls", "other-app", 60_000.0);
        let sms = member("getSmsLog", "app", 60_000.0);
        let book = PaceBook::new([a, b, sms]);
        let (a, b, sms) = (book.pace(&a), book.pace(&b), book.pace(&sms));
        // (The crate's tokio has no paused clock: a second, checked at half of it.)
        a.pause_for(Duration::from_secs(1));
        assert!(
            tokio::time::timeout(Duration::from_millis(500), b.ready())
                .await
                .is_err(),
            "the other source of the collection waited out the Retry-After"
        );
        assert!(
            tokio::time::timeout(Duration::from_secs(2), b.ready())
                .await
                .is_ok()
        );
        assert!(
            tokio::time::timeout(Duration::from_millis(10), sms.ready())
                .await
                .is_ok(),
            "another collection goes on"
        );
    }

    #[test]
    fn other_functions_are_other_collections_of_the_same_application() {
        let calls = member("getPstnCalls", "app", 50.0);
        let sms = member("getSmsLog", "app", 50.0);
        let other_app = member("getSmsLog", "other", 50.0);
        let book = PaceBook::new([calls, sms, other_app]);
        let (calls, sms, other_app) = (book.pace(&calls), book.pace(&sms), book.pace(&other_app));
        assert!(!Arc::ptr_eq(&calls.collection, &sms.collection));
        assert!(Arc::ptr_eq(&calls.application, &sms.application));
        assert!(!Arc::ptr_eq(&sms.application, &other_app.application));
        assert!(Arc::ptr_eq(&calls.tenant, &other_app.tenant));
        assert_eq!(passing_now(&calls.application), 1, "no bursts");
    }

    #[test]
    fn the_published_limits_are_the_pace_unless_a_source_asks_for_more() {
        let period = |limiter: &DefaultDirectRateLimiter| {
            limiter.check().unwrap();
            match limiter.check() {
                Err(not_until) => not_until.wait_time_from(governor::clock::Clock::now(
                    &governor::clock::DefaultClock::default(),
                )),
                Ok(()) => Duration::ZERO,
            }
        };
        let default = Pace::alone(&member("getPstnCalls", "app", 50.0));
        let collection = period(&default.collection.limiter);
        assert!(
            collection > Duration::from_millis(1200) && collection <= Duration::from_millis(1225),
            "50 per 60 s with 2% headroom: {collection:?}"
        );
        let application = period(&default.application);
        assert!(
            application > Duration::from_millis(300) && application <= Duration::from_millis(307)
        );
        let fast = Pace::alone(&member("getPstnCalls", "app", 60_000.0));
        assert!(period(&fast.collection.limiter) < Duration::from_millis(2));
        assert!(period(&fast.tenant) < Duration::from_millis(2));
    }
}
