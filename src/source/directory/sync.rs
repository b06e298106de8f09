//! One round of Graph's `/users/delta` into state: from the kept deltaLink (only
//! changes) or, without one, a full read; each page written in one transaction, the
//! new deltaLink kept with the last page. Runs as its own task beside the polls.

use super::Shared;
use crate::enrich;
use crate::graph::GraphError;
use crate::model::UserAttributes;
use crate::state::{DirectoryFailures, DirectorySyncMark, DirectoryWrite, StateError, StoredUser};
use crate::time::Timestamp;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;

/// Why a round stopped early.
#[derive(Debug, thiserror::Error)]
pub(super) enum SyncError {
    /// Graph failed (after the client's retries).
    #[error(transparent)]
    Graph(#[from] GraphError),
    /// State could not be read or written.
    #[error(transparent)]
    State(#[from] StateError),
}

/// Rounds in a row that may fail from the kept deltaLink, in any way, before it is
/// given up and the next round reads the whole directory.
pub(super) const DELTA_FAILURES_BEFORE_FULL_READ: u32 = 3;

/// Runs one round (and, when Graph refuses the kept deltaLink, one full read after
/// it), reporting the outcome through `shared` and keeping failed rounds in state.
pub(super) async fn run(shared: Arc<Shared>) {
    let started = std::time::Instant::now();
    let started_at = shared.clock.now();
    let (result, resumed) = round_from_mark(&shared).await;
    let failures = match &result {
        Ok(_) => None,
        Err(_) => Some(failed(&shared, started_at, resumed).await),
    };
    if let Err(error) = shared.state.set_failures(failures).await {
        tracing::warn!(source = %shared.source, %error, "cannot keep the directory round's outcome");
    }
    match result {
        Ok(users) => {
            shared.forbidden.store(false, Ordering::SeqCst);
            shared.generation.fetch_add(1, Ordering::SeqCst);
            tracing::info!(source = %shared.source, users, from_delta_link = resumed, took_ms = started.elapsed().as_millis() as u64, "directory read");
        }
        Err(SyncError::Graph(error @ GraphError::DirectoryForbidden { .. })) => {
            shared.forbidden_by(&error);
        }
        Err(error) => {
            let rounds = failures.map_or(1, |failures| failures.rounds);
            tracing::warn!(source = %shared.source, %error, failed_rounds = rounds, "directory read failed; events go out with what is known, and a later poll tries again (backing off)");
        }
    }
}

/// One more failed round: counted, and a deltaLink that failed
/// [`DELTA_FAILURES_BEFORE_FULL_READ`] rounds in a row is forgotten.
async fn failed(shared: &Arc<Shared>, started_at: Timestamp, resumed: bool) -> DirectoryFailures {
    let before = shared.state.failures().await.ok().flatten();
    let mut failures = DirectoryFailures {
        rounds: before.map_or(0, |b| b.rounds).saturating_add(1),
        from_delta_link: before.map_or(0, |b| b.from_delta_link),
        last_started: started_at,
    };
    if resumed {
        failures.from_delta_link = failures.from_delta_link.saturating_add(1);
        if failures.from_delta_link >= DELTA_FAILURES_BEFORE_FULL_READ {
            tracing::warn!(source = %shared.source, rounds = failures.from_delta_link, "the kept deltaLink failed rounds in a row; the next round reads the whole directory");
            match shared.state.forget_delta_link().await {
                Ok(()) => failures.from_delta_link = 0,
                Err(error) => {
                    tracing::warn!(source = %shared.source, %error, "cannot forget the deltaLink")
                }
            }
        }
    }
    failures
}

/// A round from the kept mark: the deltaLink when it is for the same selection. Says
/// whether the round (its failing part, on failure) started from the deltaLink.
async fn round_from_mark(shared: &Arc<Shared>) -> (Result<usize, SyncError>, bool) {
    let mark = match shared.state.mark().await {
        Ok(mark) => mark,
        Err(error) => return (Err(error.into()), false),
    };
    let resume = mark
        .filter(|mark| mark.selected == shared.select)
        .and_then(|mark| mark.delta_link);
    let Some(link) = resume else {
        return (round(shared, None).await, false);
    };
    match round(shared, Some(&link)).await {
        // Graph refused the link itself, whatever the status (410 Gone: resync
        // required; 400, 404: a token it no longer reads; any other 4xx), or it is a
        // link this configuration would not send its token to (`graph_url` changed).
        Err(SyncError::Graph(
            error @ (GraphError::Refused { .. }
            | GraphError::ForeignNextLink { .. }
            | GraphError::BadNextLink(_)),
        )) => {
            tracing::info!(source = %shared.source, %error, "the kept deltaLink cannot be used; reading the whole directory again");
            if let Err(error) = shared.state.forget_delta_link().await {
                return (Err(error.into()), false);
            }
            (round(shared, None).await, false)
        }
        other => (other, true),
    }
}

/// Reads one round to its deltaLink; returns how many user entries it wrote.
/// A full read (no deltaLink) removes, with its last page, the users it did not see:
/// everything read before it started.
async fn round(shared: &Arc<Shared>, delta_link: Option<&str>) -> Result<usize, SyncError> {
    let started = shared.clock.now();
    let mut chain = shared.client.directory_delta(&shared.select, delta_link);
    let mut written = 0;
    while let Some(page) = chain.next_page().await {
        let page = page?;
        let ids: Vec<String> = page
            .users
            .iter()
            .map(|user| {
                user.get("id")
                    .and_then(|id| id.as_str())
                    .unwrap_or_default()
                    .to_owned()
            })
            .collect();
        // Changes may carry only what changed: merge them over what is kept. A full
        // read carries every selected property, so it starts from nothing.
        let stored = if delta_link.is_some() {
            shared.state.users(ids.clone()).await?
        } else {
            vec![StoredUser::Missing; ids.len()]
        };
        let mut write = DirectoryWrite {
            read_at: Some(shared.clock.now()),
            ..DirectoryWrite::default()
        };
        for ((user, id), stored) in page.users.iter().zip(ids).zip(stored) {
            if id.is_empty() {
                continue;
            }
            if enrich::is_removed(user) {
                write.users.push((id, None));
                continue;
            }
            let before: Option<BTreeMap<String, String>> = match stored {
                StoredUser::Known(bytes) => {
                    enrich::attributes_from_bytes(&shared.attributes, &bytes)
                        .map(|attributes| attributes.values().clone())
                }
                StoredUser::Missing | StoredUser::Unknown => None,
            };
            let merged = enrich::merge_user(&shared.attributes, before.as_ref(), user);
            let bytes = UserAttributes::new(merged).json().as_bytes().to_vec();
            write.users.push((id, Some(bytes)));
        }
        if let Some(link) = &page.delta_link {
            if delta_link.is_none() {
                write.remove_read_before = Some(started);
            }
            write.mark = Some(DirectorySyncMark {
                delta_link: Some(link.clone()),
                selected: shared.select.clone(),
                synced_at: shared.clock.now(),
            });
        }
        written += write.users.len();
        shared.state.write(write).await?;
    }
    Ok(written)
}
