//! `[sources.NAME.directory]` at work: keeps the source's copy of the directory fresh
//! (a `/users/delta` round every `refresh`, as a task beside the polls) and finds the
//! `user` of a page's rows: one read transaction for the page, then at most
//! [`MAX_USER_LOOKUPS_PER_POLL`] `GET /users/{id}` per poll for ids never seen. A poll
//! gives the directory (waiting for a running round, then look-ups) at most
//! [`MAX_WAIT_FOR_DIRECTORY`], and never more than half its interval; what is not known
//! by then goes out without `user`.

mod config;
mod sync;

use crate::enrich;
use crate::graph::{GraphClient, GraphError};
use crate::model::{DirectoryAttribute, UserAttributes, directory_select};
use crate::shutdown::Shutdown;
use crate::state::{DirectoryState, DirectoryWrite, StoredUser};
use crate::time::SharedClock;
pub use config::DirectoryConfig;
pub(super) use config::read as read_config;
// foldhash, not SipHash: the cache is asked about every row (Cargo.toml).
use foldhash::{HashMap, HashMapExt};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;
use tokio::task::JoinHandle;

/// Per-user look-ups one poll may make for ids the directory has not shown yet
/// (new users between rounds, or rows read while the first round is still running).
pub const MAX_USER_LOOKUPS_PER_POLL: usize = 25;
/// The longest a poll waits for a running directory round before reading rows.
pub const MAX_WAIT_FOR_DIRECTORY: Duration = Duration::from_secs(60);
/// The wait after the first failed directory round; it doubles with each failure in
/// a row, up to `refresh`.
pub const DIRECTORY_RETRY_BASE: Duration = Duration::from_secs(60);

/// How long after the start of the last of `rounds` failed rounds in a row the next
/// one may start: [`DIRECTORY_RETRY_BASE`] doubled per failure, at most `refresh`.
pub fn retry_delay(rounds: u32, refresh: Duration) -> Duration {
    let doublings = rounds.saturating_sub(1).min(20);
    DIRECTORY_RETRY_BASE
        .saturating_mul(1 << doublings)
        .min(refresh)
}

/// Users kept in memory between pages (the directory itself stays in state).
const CACHE_CAPACITY: usize = 4096;

/// What the sync task and the polls share.
#[derive(Debug)]
struct Shared {
    source: Arc<str>,
    client: Arc<GraphClient>,
    state: DirectoryState,
    attributes: Vec<DirectoryAttribute>,
    select: String,
    clock: SharedClock,
    /// Graph answered 403 to the last directory request.
    forbidden: AtomicBool,
    /// The User.Read.All warning was given (once for the life of the process).
    warned: AtomicBool,
    /// Rounds finished: the in-memory cache is dropped when this moves.
    generation: AtomicU64,
}

impl Shared {
    /// Graph refused the directory: say once which permission is missing.
    fn forbidden_by(&self, error: &GraphError) {
        self.forbidden.store(true, Ordering::SeqCst);
        if !self.warned.swap(true, Ordering::SeqCst) {
            tracing::warn!(source = %self.source, "{error}");
        }
    }
}

/// One source's directory.
#[derive(Debug)]
pub(super) struct Directory {
    shared: Arc<Shared>,
    refresh: Duration,
    sync: Option<JoinHandle<()>>,
    last_started: Option<crate::time::Timestamp>,
    lookups_left: usize,
    /// When this poll's time for the directory (round and look-ups) runs out.
    deadline: tokio::time::Instant,
    cache: HashMap<String, Option<Arc<UserAttributes>>>,
    cache_generation: u64,
}

impl Drop for Directory {
    fn drop(&mut self) {
        if let Some(sync) = self.sync.take() {
            sync.abort();
        }
    }
}

impl Directory {
    /// The directory of one source, read with the source's own client.
    pub(super) fn new(
        source: Arc<str>,
        config: &DirectoryConfig,
        client: Arc<GraphClient>,
        state: DirectoryState,
        clock: SharedClock,
    ) -> Directory {
        Directory {
            shared: Arc::new(Shared {
                source,
                client,
                state,
                select: directory_select(&config.attributes),
                attributes: config.attributes.clone(),
                clock,
                forbidden: AtomicBool::new(false),
                warned: AtomicBool::new(false),
                generation: AtomicU64::new(0),
            }),
            refresh: config.refresh,
            sync: None,
            last_started: None,
            lookups_left: MAX_USER_LOOKUPS_PER_POLL,
            deadline: tokio::time::Instant::now(),
            cache: HashMap::new(),
            cache_generation: 0,
        }
    }

    /// Before a poll reads rows: starts a round when one is due and gives the
    /// directory `min(poll_interval / 2, MAX_WAIT_FOR_DIRECTORY)` of this poll, for
    /// waiting on a running round and then for look-ups.
    pub(super) async fn before_poll(&mut self, poll_interval: Duration, shutdown: &Shutdown) {
        self.lookups_left = MAX_USER_LOOKUPS_PER_POLL;
        self.deadline =
            tokio::time::Instant::now() + (poll_interval / 2).min(MAX_WAIT_FOR_DIRECTORY);
        if self.sync.as_ref().is_some_and(JoinHandle::is_finished) {
            self.sync = None;
        }
        if self.sync.is_none() && self.round_due().await {
            self.last_started = Some(self.shared.clock.now());
            self.sync = Some(tokio::spawn(sync::run(self.shared.clone())));
        }
        let Some(sync) = self.sync.as_mut() else {
            return;
        };
        let mut shutdown = shutdown.clone();
        tokio::select! {
            _ = tokio::time::timeout_at(self.deadline, sync) => {}
            () = shutdown.triggered() => {}
        }
        if self.sync.as_ref().is_some_and(JoinHandle::is_finished) {
            self.sync = None;
        }
    }

    /// Waits for a running round to end (or shutdown): `--once` runs call it after
    /// their poll, so a cron job that polls once never cuts a long first round short
    /// and reaches the deltaLink.
    pub(super) async fn finish_round(&mut self, shutdown: &Shutdown) {
        let Some(sync) = self.sync.as_mut() else {
            return;
        };
        tracing::info!(source = %self.shared.source, "waiting for the directory round to end before exiting");
        let mut shutdown = shutdown.clone();
        tokio::select! {
            _ = sync => {}
            () = shutdown.triggered() => {}
        }
        if self.sync.as_ref().is_some_and(JoinHandle::is_finished) {
            self.sync = None;
        }
    }

    /// Whether a round should start now: after failed rounds, once their backoff has
    /// passed ([`retry_delay`]); else `refresh` after the last one this process
    /// started, or, at start-up, when the kept round is older than `refresh`, selected
    /// other attributes, or there is none. Failures are read from state, so `--once`
    /// runs back off too.
    async fn round_due(&self) -> bool {
        let now = self.shared.clock.now();
        let state = &self.shared.state;
        let kept = async {
            Ok::<_, crate::state::StateError>((state.failures().await?, state.mark().await?))
        }
        .await;
        let (failures, mark) = match kept {
            Ok(kept) => kept,
            Err(error) => {
                tracing::warn!(source = %self.shared.source, %error, "cannot read the directory's state; reading the directory again");
                return true;
            }
        };
        if let Some(failures) = failures.filter(|failures| failures.rounds > 0) {
            return now.duration_since(failures.last_started)
                >= retry_delay(failures.rounds, self.refresh);
        }
        if let Some(started) = self.last_started {
            return now.duration_since(started) >= self.refresh;
        }
        match mark {
            Some(mark) => {
                mark.selected != self.shared.select
                    || mark.delta_link.is_none()
                    || now.duration_since(mark.synced_at) >= self.refresh
            }
            None => true,
        }
    }

    /// The `user` of each row (`ids[i]`: the row's userId, `None` to skip it), in
    /// order; ids never seen are looked up while this poll's look-ups and time last.
    /// A hit in the cache costs one lookup and no allocation.
    pub(super) async fn users(&mut self, ids: &[Option<&str>]) -> Vec<Option<Arc<UserAttributes>>> {
        let generation = self.shared.generation.load(Ordering::SeqCst);
        if generation != self.cache_generation || self.cache.len() > CACHE_CAPACITY {
            self.cache.clear();
            self.cache_generation = generation;
        }
        let mut users = Vec::with_capacity(ids.len());
        let mut missed = Vec::new();
        for (index, id) in ids.iter().enumerate() {
            match id.map(|id| (id, self.cache.get(id))) {
                Some((_, Some(user))) => users.push(user.clone()),
                Some((_, None)) => {
                    users.push(None);
                    missed.push(index);
                }
                None => users.push(None),
            }
        }
        if missed.is_empty() {
            return users;
        }
        let mut asked: Vec<String> = Vec::new();
        let mut asked_once = std::collections::HashSet::new();
        for id in missed.iter().filter_map(|index| ids[*index]) {
            if asked_once.insert(id) {
                asked.push(id.to_owned());
            }
        }
        self.resolve(asked).await;
        for index in missed {
            users[index] = ids[index]
                .and_then(|id| self.cache.get(id))
                .cloned()
                .flatten();
        }
        users
    }

    /// Reads `asked` (ids not in the cache) from state, looks up those state has never
    /// seen, and caches what is known.
    async fn resolve(&mut self, asked: Vec<String>) {
        let stored = {
            match self.shared.state.users(asked.clone()).await {
                Ok(stored) => stored,
                Err(error) => {
                    tracing::warn!(source = %self.shared.source, %error, "cannot read the directory; this page goes out without `user`");
                    return;
                }
            }
        };
        let mut write = DirectoryWrite {
            read_at: Some(self.shared.clock.now()),
            ..DirectoryWrite::default()
        };
        for (id, stored) in asked.into_iter().zip(stored) {
            let user = match stored {
                StoredUser::Known(bytes) => {
                    enrich::attributes_from_bytes(&self.shared.attributes, &bytes).map(Arc::new)
                }
                StoredUser::Unknown => None,
                StoredUser::Missing => match self.look_up(&id).await {
                    Some(Some(user)) => {
                        write
                            .users
                            .push((id.clone(), Some(user.json().as_bytes().to_vec())));
                        Some(Arc::new(user))
                    }
                    Some(None) => {
                        write.users.push((id.clone(), None));
                        None
                    }
                    // Not asked (or Graph failed): maybe the next poll knows.
                    None => continue,
                },
            };
            self.cache.insert(id, user);
        }
        if !write.users.is_empty()
            && let Err(error) = self.shared.state.write(write).await
        {
            tracing::warn!(source = %self.shared.source, %error, "cannot keep the users looked up");
        }
    }

    /// `GET /users/{id}` while this poll's look-ups and time last: `Some(Some)` a
    /// user, `Some(None)` no such user, `None` not asked or not answered in time.
    async fn look_up(&mut self, id: &str) -> Option<Option<UserAttributes>> {
        if self.lookups_left == 0
            || self.shared.forbidden.load(Ordering::SeqCst)
            || tokio::time::Instant::now() >= self.deadline
        {
            return None;
        }
        self.lookups_left -= 1;
        let asked = self.shared.client.directory_user(id, &self.shared.select);
        let Ok(answer) = tokio::time::timeout_at(self.deadline, asked).await else {
            tracing::debug!(source = %self.shared.source, "no time left for look-ups this poll");
            self.lookups_left = 0;
            return None;
        };
        match answer {
            Ok(Some(user)) => Some(Some(UserAttributes::new(enrich::merge_user(
                &self.shared.attributes,
                None,
                &user,
            )))),
            Ok(None) => Some(None),
            Err(error @ GraphError::DirectoryForbidden { .. }) => {
                self.shared.forbidden_by(&error);
                None
            }
            Err(error) => {
                tracing::debug!(source = %self.shared.source, %error, "looking a user up failed; no more look-ups this poll");
                self.lookups_left = 0;
                None
            }
        }
    }
}

#[cfg(test)]
mod tests;
