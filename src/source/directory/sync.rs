//! One round of Graph's `/users/delta` into state: from the kept deltaLink (only
//! changes) or, without one, a full read; each page written in one transaction, the
//! new deltaLink kept with the last page. Runs as its own task beside the polls.

use super::Shared;
use crate::enrich;
use crate::graph::GraphError;
use crate::model::UserAttributes;
use crate::state::{DirectorySyncMark, DirectoryWrite, StateError, StoredUser};
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
    /// A blocking state task died.
    #[error("a directory state task died: {0}")]
    Internal(String),
}

pub(super) async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, StateError> + Send + 'static,
) -> Result<T, SyncError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|error| SyncError::Internal(error.to_string()))?
        .map_err(SyncError::State)
}

/// Runs one round (and, when Graph no longer takes the kept deltaLink, one full read
/// after it), reporting the outcome through `shared`.
pub(super) async fn run(shared: Arc<Shared>) {
    let started = std::time::Instant::now();
    let result = round_from_mark(&shared).await;
    match result {
        Ok((users, resumed)) => {
            shared.forbidden.store(false, Ordering::SeqCst);
            shared.retry_soon.store(false, Ordering::SeqCst);
            shared.generation.fetch_add(1, Ordering::SeqCst);
            tracing::info!(source = %shared.source, users, from_delta_link = resumed, took_ms = started.elapsed().as_millis() as u64, "directory read");
        }
        Err(SyncError::Graph(error @ GraphError::DirectoryForbidden { .. })) => {
            shared.forbidden_by(&error);
        }
        Err(error) => {
            shared.retry_soon.store(true, Ordering::SeqCst);
            tracing::warn!(source = %shared.source, %error, "directory read failed; events go out with what is known, and the next poll tries again");
        }
    }
}

/// A round from the kept mark: the deltaLink when it is for the same selection.
async fn round_from_mark(shared: &Arc<Shared>) -> Result<(usize, bool), SyncError> {
    let state = shared.state.clone();
    let mark = blocking(move || state.mark()).await?;
    let resume = mark
        .filter(|mark| mark.selected == shared.select)
        .and_then(|mark| mark.delta_link);
    match resume {
        None => round(shared, None).await.map(|users| (users, false)),
        Some(link) => match round(shared, Some(&link)).await {
            // 410 Gone (resync required) or a token Graph no longer reads; or a kept
            // link this configuration would not send its token to (`graph_url` changed).
            Err(SyncError::Graph(
                error @ (GraphError::Refused {
                    status: 400 | 404 | 410,
                    ..
                }
                | GraphError::ForeignNextLink { .. }
                | GraphError::BadNextLink(_)),
            )) => {
                tracing::info!(source = %shared.source, %error, "the kept deltaLink cannot be used; reading the whole directory again");
                let state = shared.state.clone();
                blocking(move || state.forget_delta_link()).await?;
                round(shared, None).await.map(|users| (users, false))
            }
            other => other.map(|users| (users, true)),
        },
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
            let (state, ids) = (shared.state.clone(), ids.clone());
            blocking(move || state.users(&ids)).await?
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
                StoredUser::Known(bytes) => enrich::attributes_from_bytes(&shared.attributes, &bytes)
                    .map(|attributes| attributes.values().clone()),
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
        let state = shared.state.clone();
        blocking(move || state.write(&write)).await?;
    }
    Ok(written)
}
