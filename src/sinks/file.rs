//! `type = "file"`: events appended to a file, fsynced per batch, reopened on SIGHUP
//! so that logrotate can move the file away. Its I/O errors (disk full, file moved,
//! permissions fixed later) are all worth retrying; a write that fails half way is
//! cut back to where the batch began, so the batch offered again is not doubled.

use super::{Batch, DeliveryFuture, Progress, Sink, SinkError};
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// Bumped on SIGHUP; file sinks reopen their file before their next write, and a
/// source with `tenants_file` re-reads it (it waits for the bump).
#[derive(Debug, Clone, Default)]
pub struct ReopenSignal(Arc<AtomicU64>, Arc<tokio::sync::Notify>);

impl ReopenSignal {
    /// Asks every file sink to reopen (and every `tenants_file` to be re-read).
    pub fn trigger(&self) {
        self.0.fetch_add(1, Ordering::SeqCst);
        self.1.notify_waiters();
    }

    /// How many SIGHUPs so far.
    pub fn generation(&self) -> u64 {
        self.0.load(Ordering::SeqCst)
    }

    /// Waits for a SIGHUP after the `seen`th, and moves `seen` on to it.
    pub async fn next(&self, seen: &mut u64) {
        loop {
            let notified = self.1.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            let now = self.generation();
            if now != *seen {
                *seen = now;
                return;
            }
            notified.await;
        }
    }
}

/// Appends events to a file.
#[derive(Debug)]
pub struct FileSink {
    name: Arc<str>,
    path: PathBuf,
    file: Option<(File, u64)>,
    reopen: ReopenSignal,
}

/// Opens `path` for appending. A file that does not end in a newline was cut short
/// by a crash mid-write (that batch was not committed and is delivered again): the
/// torn line is ended first, so the next event starts a line of its own instead of
/// gluing onto the fragment. Readers then see one unparsable line, not a corrupt event.
/// `O_NOFOLLOW` and the `ELOOP` it fails with on a link (their values vary by target).
const O_NOFOLLOW: i32 = libc::O_NOFOLLOW;
const ELOOP: i32 = libc::ELOOP;

fn open(path: &PathBuf) -> std::io::Result<File> {
    if let Some(parent) = path.parent()
        && !parent.as_os_str().is_empty()
    {
        std::fs::create_dir_all(parent)?;
    }
    let mut file = OpenOptions::new()
        .create(true)
        .append(true)
        .read(true)
        .mode(0o640)
        // Never through a symbolic link: whoever can place one in the directory must
        // not be able to aim the agent's writes at another file.
        .custom_flags(O_NOFOLLOW)
        .open(path)
        .map_err(|error| {
            if error.raw_os_error() == Some(ELOOP) {
                std::io::Error::other(format!(
                    "{error}: the path is a symbolic link; file sinks do not follow links, give the real file's path"
                ))
            } else {
                error
            }
        })?;
    let length = file.metadata()?.len();
    if length > 0 {
        let mut last = [0u8; 1];
        file.read_exact_at(&mut last, length - 1)?;
        if last[0] != b'\n' {
            tracing::warn!(path = %path.display(), "ending a line an earlier crash cut short; its events are delivered again below it");
            file.write_all(b"\n")?;
        }
    }
    Ok(file)
}

impl FileSink {
    /// Opens (creating) the file now, so that a bad path fails at start-up.
    pub fn new(name: &str, path: PathBuf, reopen: ReopenSignal) -> Result<Self, SinkError> {
        let file = open(&path)
            .map_err(|error| SinkError::retryable(name, path.display().to_string(), error))?;
        let generation = reopen.generation();
        Ok(FileSink {
            name: name.into(),
            path,
            file: Some((file, generation)),
            reopen,
        })
    }

    /// The open file, unless SIGHUP asked for a reopen or the last write failed (then
    /// `None`: the blocking task opens it again, off the runtime's threads).
    fn take_current(&mut self) -> (Option<File>, u64) {
        let generation = self.reopen.generation();
        let current = self
            .file
            .take()
            .filter(|(_, opened)| *opened == generation)
            .map(|(file, _)| file);
        (current, generation)
    }
}

impl Sink for FileSink {
    fn deliver<'a>(&'a mut self, batch: &'a Batch, _: &'a mut Progress) -> DeliveryFuture<'a> {
        Box::pin(async move {
            let (name, path) = (self.name.clone(), self.path.display().to_string());
            let failed = move |error: std::io::Error| SinkError::retryable(&name, &path, error);
            let (current, generation) = self.take_current();
            let (file_path, lines) = (self.path.clone(), batch.lines.clone());
            let written = tokio::task::spawn_blocking(move || {
                let mut file = match current {
                    Some(file) => file,
                    None => open(&file_path)?,
                };
                let start = file.metadata().map(|metadata| metadata.len());
                let written = file.write_all(&lines).and_then(|()| file.sync_data());
                if written.is_err()
                    && let Ok(start) = start
                {
                    // A write cut short (disk full) leaves part of the batch behind;
                    // the batch is offered again whole, so that part goes.
                    let _ = file.set_len(start);
                }
                written.map(|()| file)
            })
            .await
            .map_err(|error| failed(std::io::Error::other(error)))?;
            // On failure the file is dropped and reopened next time (moved, or disk freed).
            self.file = Some((written.map_err(&failed)?, generation));
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_symbolic_link_at_the_sink_path_is_refused_and_its_target_untouched() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("elsewhere");
        std::fs::write(&target, "precious\n").unwrap();
        let path = dir.path().join("calls.jsonl");
        std::os::unix::fs::symlink(&target, &path).unwrap();
        let error = open(&path).unwrap_err();
        assert!(error.to_string().contains("symbolic link"), "{error}");
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "precious\n");
    }

    #[tokio::test]
    async fn after_logrotate_moves_the_file_a_sighup_sends_the_next_batch_to_a_new_one() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("calls.jsonl");
        let rotated = dir.path().join("calls.jsonl.1");
        let reopen = ReopenSignal::default();
        let mut sink = FileSink::new("archive", path.clone(), reopen.clone()).unwrap();
        let mut progress = Progress::default();
        let first =
            crate::sinks::batch_of(&[r#"{"id":"before","startDateTime":"2024-05-01T00:00:00Z"}"#]);
        let second =
            crate::sinks::batch_of(&[r#"{"id":"after","startDateTime":"2024-05-01T00:00:01Z"}"#]);
        sink.deliver(&first, &mut progress).await.unwrap();
        std::fs::rename(&path, &rotated).unwrap();
        reopen.trigger();
        sink.deliver(&second, &mut progress).await.unwrap();
        let moved = std::fs::read_to_string(&rotated).unwrap();
        let new = std::fs::read_to_string(&path).unwrap();
        assert!(
            moved.contains("\"before\"") && !moved.contains("\"after\""),
            "{moved}"
        );
        assert!(
            new.contains("\"after\"") && !new.contains("\"before\""),
            "{new}"
        );
    }

    #[test]
    fn a_line_cut_short_by_a_crash_is_ended_before_new_events() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("calls.jsonl");
        std::fs::write(&path, "{\"a\":1}\n{\"b\":").unwrap();
        let mut file = open(&path).unwrap();
        file.write_all(b"{\"c\":3}\n").unwrap();
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            "{\"a\":1}\n{\"b\":\n{\"c\":3}\n"
        );
        // A file of whole lines is left as it is.
        let before = std::fs::read_to_string(&path).unwrap();
        drop(open(&path).unwrap());
        assert_eq!(std::fs::read_to_string(&path).unwrap(), before);
    }
}
