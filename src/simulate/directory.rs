//! The simulated tenant's directory: users with departments, cost centres, divisions
//! (some without a department), a function of their index, so 300,000 users cost
//! nothing until asked for. Tests change users while it runs; each change moves the
//! directory's generation, and a deltaLink of generation N returns only what changed
//! after N. Rows of the call logs draw their `userId` from the first
//! [`ROW_USER_POOL`] indices: the first [`DEFAULT_DIRECTORY_USERS`] are in the default
//! directory, the rest are not (so the agent meets users it must look up in vain).

mod people;

pub(super) use people::row_user_id;
pub use people::{
    DEFAULT_DIRECTORY_PAGE_SIZE, DEFAULT_DIRECTORY_USERS, DEPARTMENTS, ROW_USER_POOL, user_id,
};
use people::{index_of, original};
use serde_json::{Map, Value, json};
use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

/// One change a test made.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Change {
    Department(Option<String>),
    Removed,
}

#[derive(Debug, Default)]
struct Changes {
    generation: u64,
    /// index → (generation of its last change, the changes since the start).
    users: BTreeMap<u64, (u64, Vec<Change>)>,
}

/// The simulated directory.
#[derive(Debug)]
pub struct Directory {
    users: u64,
    page_size: usize,
    forbidden: AtomicBool,
    delta_latency_ms: AtomicU64,
    user_latency_ms: AtomicU64,
    /// deltaLinks of generations below this answer 410 (Graph lost their sync state).
    valid_from: AtomicU64,
    /// Every request carrying a `$deltatoken` answers this status (0: none).
    delta_link_status: AtomicU64,
    changes: Mutex<Changes>,
    requests: Mutex<Vec<String>>,
}

impl Directory {
    /// `users` users, `page_size` per delta page; `forbidden` answers 403 to all.
    pub fn new(users: usize, page_size: usize, forbidden: bool) -> Directory {
        Directory {
            users: users as u64,
            page_size: page_size.max(1),
            forbidden: AtomicBool::new(forbidden),
            delta_latency_ms: AtomicU64::new(0),
            user_latency_ms: AtomicU64::new(0),
            valid_from: AtomicU64::new(0),
            delta_link_status: AtomicU64::new(0),
            changes: Mutex::default(),
            requests: Mutex::default(),
        }
    }

    /// How many users the directory started with.
    pub fn len(&self) -> u64 {
        self.users
    }

    /// Whether the directory started empty.
    pub fn is_empty(&self) -> bool {
        self.users == 0
    }

    /// Answer 403 (User.Read.All missing) to every directory request, or not.
    pub fn set_forbidden(&self, forbidden: bool) {
        self.forbidden.store(forbidden, Ordering::SeqCst);
    }

    /// Whether directory requests are answered 403.
    pub fn forbidden(&self) -> bool {
        self.forbidden.load(Ordering::SeqCst)
    }

    /// Answer each `/users/{id}` only after `latency` (slow look-ups).
    pub fn set_user_latency(&self, latency: Duration) {
        self.user_latency_ms.store(
            u64::try_from(latency.as_millis()).unwrap_or(u64::MAX),
            Ordering::SeqCst,
        );
    }

    pub(super) fn user_latency(&self) -> Duration {
        Duration::from_millis(self.user_latency_ms.load(Ordering::SeqCst))
    }

    /// Answer each `/users/delta` page only after `latency` (a slow first round).
    pub fn set_delta_latency(&self, latency: Duration) {
        self.delta_latency_ms.store(
            u64::try_from(latency.as_millis()).unwrap_or(u64::MAX),
            Ordering::SeqCst,
        );
    }

    /// Every deltaLink handed out so far answers 410 from now on, as Graph's do when
    /// their sync state is gone: the client must read the whole directory again.
    pub fn expire_delta_links(&self) {
        let mut changes = self.changes.lock().unwrap_or_else(|p| p.into_inner());
        changes.generation += 1;
        self.valid_from.store(changes.generation, Ordering::SeqCst);
    }

    /// Every request from a deltaLink answers `status` from now on (`None`: as usual),
    /// as a Graph that refuses or fails them would; full reads are unaffected.
    pub fn fail_delta_links(&self, status: Option<u16>) {
        self.delta_link_status
            .store(status.map_or(0, u64::from), Ordering::SeqCst);
    }

    /// The status requests from a deltaLink answer, when they are made to fail.
    pub(super) fn delta_link_status(&self) -> Option<u16> {
        u16::try_from(self.delta_link_status.load(Ordering::SeqCst))
            .ok()
            .filter(|status| *status != 0)
    }

    /// Whether a deltaLink of `generation` is still accepted.
    pub(super) fn delta_link_valid(&self, generation: u64) -> bool {
        generation >= self.valid_from.load(Ordering::SeqCst)
    }

    /// How long each `/users/delta` page waits.
    pub(super) fn delta_latency(&self) -> Duration {
        Duration::from_millis(self.delta_latency_ms.load(Ordering::SeqCst))
    }

    /// Every directory request received, as path and query.
    pub fn requests(&self) -> Vec<String> {
        self.requests
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    pub(super) fn note_request(&self, path_and_query: String) {
        self.requests
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(path_and_query);
    }

    fn change(&self, index: u64, change: Change) {
        let mut changes = self.changes.lock().unwrap_or_else(|p| p.into_inner());
        changes.generation += 1;
        let generation = changes.generation;
        let entry = changes.users.entry(index).or_default();
        entry.0 = generation;
        entry.1.push(change);
    }

    /// Moves user `index` to `department` (`None`: no department).
    pub fn set_department(&self, index: u64, department: Option<&str>) {
        self.change(index, Change::Department(department.map(str::to_owned)));
    }

    /// Deletes user `index`.
    pub fn remove(&self, index: u64) {
        self.change(index, Change::Removed);
    }

    /// The current generation (a deltaLink made now returns changes after it).
    pub(super) fn generation(&self) -> u64 {
        self.changes
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .generation
    }

    /// User `index` as it is now, every attribute (`None`: not in the directory).
    pub fn user(&self, index: u64) -> Option<Map<String, Value>> {
        if index >= self.users {
            return None;
        }
        let mut user = original(index);
        let changes = self.changes.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((_, list)) = changes.users.get(&index) {
            for change in list {
                match change {
                    Change::Removed => return None,
                    Change::Department(department) => {
                        user.insert("department".into(), json!(department));
                    }
                }
            }
        }
        Some(user)
    }

    /// User `id` as it is now.
    pub fn user_by_id(&self, id: &str) -> Option<Map<String, Value>> {
        self.user(index_of(id)?)
    }

    /// Indices `[from, from + page_size)` of a full read, and whether more follow.
    pub(super) fn full_page(&self, from: u64) -> (Vec<Map<String, Value>>, bool) {
        let to = (from + self.page_size as u64).min(self.users);
        let users = (from..to).filter_map(|index| self.user(index)).collect();
        (users, to < self.users)
    }

    /// Changes after generation `since` up to `until`, from the `skip`-th: a removed
    /// user as `@removed`, a changed one as its id and the properties that changed.
    pub(super) fn changes_page(
        &self,
        since: u64,
        until: u64,
        skip: usize,
    ) -> (Vec<Map<String, Value>>, bool) {
        let changes = self.changes.lock().unwrap_or_else(|p| p.into_inner());
        let changed: Vec<(u64, &Vec<Change>)> = changes
            .users
            .iter()
            .filter(|(_, (generation, _))| *generation > since && *generation <= until)
            .map(|(index, (_, list))| (*index, list))
            .collect();
        let more = changed.len() > skip + self.page_size;
        let page = changed
            .into_iter()
            .skip(skip)
            .take(self.page_size)
            .filter(|(index, _)| *index < self.users)
            .map(|(index, list)| {
                let mut user = Map::new();
                user.insert("id".into(), json!(user_id(index)));
                match list.last() {
                    Some(Change::Removed) | None => {
                        user.insert("@removed".into(), json!({"reason": "deleted"}));
                    }
                    Some(Change::Department(department)) => {
                        user.insert("department".into(), json!(department));
                    }
                }
                user
            })
            .collect();
        (page, more)
    }

    pub(super) fn page_size(&self) -> usize {
        self.page_size
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_lead_back_to_their_user_and_changes_show_after_their_generation() {
        let directory = Directory::new(10, 4, false);
        let id = user_id(7);
        assert_eq!(directory.user_by_id(&id).unwrap()["id"], json!(id));
        assert!(directory.user_by_id(&user_id(10)).is_none());
        assert!(directory.user_by_id("not-an-id").is_none());
        let (page, more) = directory.full_page(8);
        assert_eq!((page.len(), more), (2, false));
        let before = directory.generation();
        directory.set_department(3, Some("Research"));
        directory.remove(4);
        let (changes, _) = directory.changes_page(before, directory.generation(), 0);
        assert_eq!(changes.len(), 2);
        assert_eq!(changes[0]["department"], "Research");
        assert!(changes[1].contains_key("@removed"));
        assert!(directory.user(4).is_none());
        let (none, _) = directory.changes_page(directory.generation(), directory.generation(), 0);
        assert!(none.is_empty());
    }
}
