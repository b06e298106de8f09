//! The state directory and file: private to the agent's user, never followed through
//! a link into someone else's hands, and used by one agent at a time.

use super::StateError;
use std::fs::{DirBuilder, File, OpenOptions};
use std::io::{Read, Seek, Write};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::Path;

/// File name of the lock inside `data_dir`; it holds the pid of the agent using it.
pub const LOCK_FILE: &str = "lock";

/// The user this process runs as (the owner of `/proc/self`).
fn effective_uid() -> Option<u32> {
    std::fs::metadata("/proc/self").ok().map(|meta| meta.uid())
}

/// Creates `dir` (0700) if needed and checks it is safe to keep state in: a directory,
/// owned by this user, not writable by others. A directory of ours that others can
/// read is tightened to 0700; one reached through a symbolic link is checked, never
/// changed (its target belongs to whoever set the link up).
pub(super) fn prepare_directory(dir: &Path) -> Result<(), StateError> {
    let failed = |message: String| StateError::Directory {
        path: dir.to_owned(),
        message,
    };
    if std::fs::symlink_metadata(dir).is_err() {
        DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(|error| failed(format!("cannot create the state directory: {error}")))?;
    }
    let linked = std::fs::symlink_metadata(dir)
        .map(|meta| meta.file_type().is_symlink())
        .unwrap_or(false);
    let metadata = std::fs::metadata(dir).map_err(|error| failed(error.to_string()))?;
    if !metadata.is_dir() {
        return Err(failed("data_dir is not a directory".into()));
    }
    if let Some(uid) = effective_uid()
        && metadata.uid() != uid
    {
        return Err(failed(format!(
            "data_dir is owned by uid {}, not by this agent's user (uid {uid}); another user could change what the agent believes it delivered: give the agent its own directory",
            metadata.uid()
        )));
    }
    let mode = metadata.permissions().mode();
    if mode & 0o077 != 0 {
        if linked {
            if mode & 0o022 != 0 {
                return Err(failed(format!(
                    "data_dir (through a symbolic link) is writable by others (mode {:o}); run chmod 700 on it",
                    mode & 0o777
                )));
            }
        } else {
            std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
                .map_err(|error| failed(format!("cannot make it private (0700): {error}")))?;
        }
    }
    Ok(())
}

/// Creates the database file 0600, or forces an existing one to 0600.
pub(super) fn prepare_file(path: &Path) -> Result<(), StateError> {
    let failed = |message: String| StateError::Directory {
        path: path.to_owned(),
        message,
    };
    let file = OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o600)
        .custom_flags(O_NOFOLLOW)
        .open(path)
        .map_err(|error| failed(format!("cannot open the state database: {error}")))?;
    let mode = file
        .metadata()
        .map_err(|error| failed(error.to_string()))?
        .permissions()
        .mode();
    if mode & 0o077 != 0 {
        file.set_permissions(std::fs::Permissions::from_mode(0o600))
            .map_err(|error| failed(format!("cannot make it private (0600): {error}")))?;
    }
    Ok(())
}

/// `O_NOFOLLOW` on Linux: open fails on a symbolic link instead of following it.
pub(crate) const O_NOFOLLOW: i32 = libc::O_NOFOLLOW;

/// Held while the agent runs: an exclusive lock on `data_dir/lock`, released when
/// dropped (or when the process dies, however it dies).
#[derive(Debug)]
pub struct DirectoryLock {
    _file: File,
}

/// How long a held lock is tried again before it counts as another agent's.
const LOCK_PATIENCE: std::time::Duration = std::time::Duration::from_millis(500);

/// `try_lock`, tried again for [`LOCK_PATIENCE`] while held: a lock this process just
/// released stays held for a moment by a child forked in between (until it execs and
/// its close-on-exec copy of the descriptor goes), so a store opened right after the
/// last one was dropped would otherwise be refused by its own process. Another
/// agent's lock is still refused, half a second later.
fn try_lock_patiently(file: &File) -> Result<(), std::fs::TryLockError> {
    let deadline = std::time::Instant::now() + LOCK_PATIENCE;
    loop {
        match file.try_lock() {
            Err(std::fs::TryLockError::WouldBlock) if std::time::Instant::now() < deadline => {
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            other => return other,
        }
    }
}

/// Takes the lock of `dir`, or says which agent holds it.
pub(super) fn lock(dir: &Path) -> Result<DirectoryLock, StateError> {
    let path = dir.join(LOCK_FILE);
    let failed = |message: String| StateError::Directory {
        path: path.clone(),
        message,
    };
    let mut file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .read(true)
        .write(true)
        .mode(0o600)
        .custom_flags(O_NOFOLLOW)
        .open(&path)
        .map_err(|error| failed(format!("cannot open the lock file: {error}")))?;
    match try_lock_patiently(&file) {
        Ok(()) => {}
        Err(std::fs::TryLockError::WouldBlock) => {
            let mut holder = String::new();
            let _ = file.read_to_string(&mut holder);
            let holder: String = holder.trim().chars().take(20).collect();
            let who = if holder.chars().all(|c| c.is_ascii_digit()) && !holder.is_empty() {
                format!("another pstn-agent (pid {holder})")
            } else {
                "another pstn-agent".to_owned()
            };
            return Err(StateError::Locked {
                path: path.clone(),
                holder: who,
            });
        }
        Err(std::fs::TryLockError::Error(error)) => {
            return Err(failed(format!("cannot lock: {error}")));
        }
    }
    file.set_len(0)
        .and_then(|()| file.rewind())
        .and_then(|()| write!(file, "{}", std::process::id()))
        .and_then(|()| file.flush())
        .map_err(|error| failed(format!("cannot record this agent's pid: {error}")))?;
    Ok(DirectoryLock { _file: file })
}

#[cfg(test)]
mod tests {
    use super::super::SqliteStore;
    use super::*;

    fn mode(path: &Path) -> u32 {
        std::fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn a_second_store_on_the_same_directory_is_refused_naming_the_holder() {
        let dir = tempfile::tempdir().unwrap();
        let first = SqliteStore::open(dir.path()).unwrap();
        let error = SqliteStore::open(dir.path()).unwrap_err();
        assert!(matches!(error, StateError::Locked { .. }), "{error}");
        let text = error.to_string();
        assert!(
            text.contains(&format!("pid {}", std::process::id())),
            "{text}"
        );
        assert!(text.contains("lock"), "{text}");
        drop(first);
        SqliteStore::open(dir.path()).unwrap();
    }

    #[test]
    fn an_existing_state_file_readable_by_others_is_made_private() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join(super::super::DATABASE_FILE);
        drop(SqliteStore::open(dir.path()).unwrap());
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
        drop(SqliteStore::open(dir.path()).unwrap());
        assert_eq!(mode(&file), 0o600);
    }

    #[test]
    fn a_linked_directory_is_checked_but_never_changed() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("target");
        std::fs::create_dir(&target).unwrap();
        let link = dir.path().join("link");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        std::fs::set_permissions(&target, std::fs::Permissions::from_mode(0o755)).unwrap();
        drop(SqliteStore::open(&link).unwrap());
        assert_eq!(mode(&target), 0o755, "the link's target was changed");
        std::fs::set_permissions(&target, std::fs::Permissions::from_mode(0o777)).unwrap();
        let error = SqliteStore::open(&link).unwrap_err();
        assert!(error.to_string().contains("writable by others"), "{error}");
        assert_eq!(mode(&target), 0o777);
    }

    #[test]
    fn a_directory_owned_by_another_user_is_refused() {
        if effective_uid() != Some(0) {
            eprintln!("skipping: needs root to give a directory away");
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let theirs = dir.path().join("theirs");
        std::fs::create_dir(&theirs).unwrap();
        std::os::unix::fs::chown(&theirs, Some(65534), Some(65534)).unwrap();
        let error = SqliteStore::open(&theirs).unwrap_err();
        assert!(error.to_string().contains("owned by uid 65534"), "{error}");
    }
}
