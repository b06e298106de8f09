//! `{data_dir}/dead-letter/{sink}.jsonl`: events a sink can never accept, each with
//! why, so that one bad event does not hold back the rest of its batch (or the source)
//! and an operator can still see and replay it. One JSON line per event:
//! `{"reason":"...","event":<the event>}`. The directory is 0700 and the file 0600
//! (events carry phone numbers), both created on first use and tightened when found
//! looser; neither is ever reached through a symbolic link, and the file must be a
//! regular file. It is opened for appending and synced before the batch is
//! acknowledged.

use crate::metrics::DeadLetterCounter;
use serde_json::value::RawValue;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// One sink's dead-letter file and counter.
#[derive(Debug, Clone)]
pub struct DeadLetters {
    path: PathBuf,
    counter: DeadLetterCounter,
    /// Events written by this process (the `--once` summary counts them apart).
    written: Arc<AtomicU64>,
}

/// A sink name as a file name: anything but letters, digits, `-`, `_` and `.` becomes
/// `_` (a table name may hold a `/`), and a leading `.` too.
fn file_name(sink: &str) -> String {
    let mut name: String = sink
        .chars()
        .map(|c| match c {
            'a'..='z' | 'A'..='Z' | '0'..='9' | '-' | '_' | '.' => c,
            _ => '_',
        })
        .collect();
    if name.starts_with('.') || name.is_empty() {
        name.insert(0, '_');
    }
    name + ".jsonl"
}

/// The dead-letter line of `event` (one JSON line, newline included). An event that is
/// not valid JSON (it never should be) goes in as a string, so the file stays JSON lines.
fn line(event: &[u8], reason: &str) -> Vec<u8> {
    let event = event.strip_suffix(b"\n").unwrap_or(event);
    let mut out = Vec::with_capacity(event.len() + reason.len() + 32);
    out.extend_from_slice(b"{\"reason\":");
    let quoted = |text: &str| serde_json::to_vec(text).unwrap_or_else(|_| b"\"\"".to_vec());
    out.extend_from_slice(&quoted(reason));
    out.extend_from_slice(b",\"event\":");
    if serde_json::from_slice::<&RawValue>(event).is_ok() {
        out.extend_from_slice(event);
    } else {
        out.extend_from_slice(&quoted(&String::from_utf8_lossy(event)));
    }
    out.extend_from_slice(b"}\n");
    out
}

impl DeadLetters {
    /// The dead letters of sink `sink`, under `data_dir`.
    pub fn new(data_dir: &Path, sink: &str, counter: DeadLetterCounter) -> Self {
        DeadLetters {
            path: data_dir.join("dead-letter").join(file_name(sink)),
            counter,
            written: Arc::default(),
        }
    }

    /// How many events this process wrote here.
    pub fn written(&self) -> u64 {
        self.written.load(Ordering::SeqCst)
    }

    /// The file they go to.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends `event` with `reason`, durably, then counts it.
    pub async fn write(&self, event: &[u8], reason: &str) -> std::io::Result<()> {
        let path = self.path.clone();
        let line = line(event, reason);
        tokio::task::spawn_blocking(move || {
            let mut file = open_private(&path)?;
            file.write_all(&line)?;
            file.sync_data()
        })
        .await
        .map_err(std::io::Error::other)??;
        self.counter.inc();
        self.written.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }
}

/// Turns the `ELOOP` of an `O_NOFOLLOW` open into an error saying what it means.
fn no_links(path: &Path) -> impl FnOnce(std::io::Error) -> std::io::Error + '_ {
    move |error| {
        // A link met with O_NOFOLLOW: ELOOP, or ENOTDIR with O_DIRECTORY.
        if matches!(error.raw_os_error(), Some(libc::ELOOP | libc::ENOTDIR)) {
            std::io::Error::other(format!(
                "{}: a symbolic link or not a directory; dead letters are never written through a link (remove it)",
                path.display()
            ))
        } else {
            error
        }
    }
}

/// Forces an open file or directory to `mode` when others could read it.
fn tighten(file: &File, mode: u32) -> std::io::Result<()> {
    if file.metadata()?.permissions().mode() & 0o077 != 0 {
        file.set_permissions(std::fs::Permissions::from_mode(mode))?;
    }
    Ok(())
}

/// Creates the dead-letter directory 0700, or checks and tightens an existing one,
/// through a descriptor opened without following a link (so the mode set is its own).
fn private_directory(directory: &Path) -> std::io::Result<()> {
    if std::fs::symlink_metadata(directory).is_err() {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(directory)?;
    }
    let handle = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_DIRECTORY)
        .open(directory)
        .map_err(no_links(directory))?;
    tighten(&handle, 0o700)
}

/// Opens the dead-letter file for appending: created 0600, an existing one tightened
/// to 0600; never through a symbolic link; a regular file only (`O_NONBLOCK` so that
/// a FIFO put there fails instead of blocking the sink).
fn open_private(path: &Path) -> std::io::Result<File> {
    if let Some(directory) = path.parent() {
        private_directory(directory)?;
    }
    let file = OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .open(path)
        .map_err(no_links(path))?;
    if !file.metadata()?.is_file() {
        return Err(std::io::Error::other(format!(
            "{}: not a regular file; dead letters go only to a regular file (remove it)",
            path.display()
        )));
    }
    tighten(&file, 0o600)?;
    Ok(file)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_dead_letter_is_one_json_line_with_the_reason_and_the_event() {
        let out = line(b"{\"call\":{\"id\":\"a\"}}\n", "too \"big\"");
        assert!(out.ends_with(b"}\n") && out.iter().filter(|b| **b == b'\n').count() == 1);
        let value: serde_json::Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(value["reason"], "too \"big\"");
        assert_eq!(value["event"]["call"]["id"], "a");
        let broken: serde_json::Value = serde_json::from_slice(&line(b"{\"x\":", "r")).unwrap();
        assert_eq!(broken["event"], "{\"x\":");
    }

    #[test]
    fn sink_names_cannot_leave_the_dead_letter_directory() {
        assert_eq!(file_name("siem"), "siem.jsonl");
        assert_eq!(file_name("../etc/x"), "_.._etc_x.jsonl");
        assert_eq!(file_name(""), "_.jsonl");
    }
}

#[cfg(test)]
mod file_tests {
    use super::*;
    use std::os::unix::fs::symlink;

    fn letters(data_dir: &Path) -> DeadLetters {
        let metrics = crate::metrics::Metrics::new().unwrap();
        DeadLetters::new(data_dir, "siem", metrics.dead_letters("siem"))
    }

    fn mode(path: &Path) -> u32 {
        std::fs::symlink_metadata(path)
            .unwrap()
            .permissions()
            .mode()
            & 0o777
    }

    fn set_mode(path: &Path, mode: u32) {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
    }

    #[tokio::test]
    async fn a_symbolic_link_at_the_dead_letter_file_is_refused_and_its_target_untouched() {
        let data_dir = tempfile::tempdir().unwrap();
        let target = data_dir.path().join("precious.txt");
        std::fs::write(&target, "precious\n").unwrap();
        set_mode(&target, 0o644);
        std::fs::create_dir(data_dir.path().join("dead-letter")).unwrap();
        let letters = letters(data_dir.path());
        symlink(&target, letters.path()).unwrap();

        let error = letters
            .write(b"{\"call\":{}}", "too big")
            .await
            .unwrap_err();
        assert!(error.to_string().contains("symbolic link"), "{error}");
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "precious\n");
        assert_eq!(mode(&target), 0o644, "the link's target was chmod'ed");
    }

    #[tokio::test]
    async fn a_symbolic_link_at_the_dead_letter_directory_is_refused_and_its_target_untouched() {
        let data_dir = tempfile::tempdir().unwrap();
        let elsewhere = tempfile::tempdir().unwrap();
        set_mode(elsewhere.path(), 0o755);
        symlink(elsewhere.path(), data_dir.path().join("dead-letter")).unwrap();

        let error = letters(data_dir.path())
            .write(b"{\"call\":{}}", "too big")
            .await
            .unwrap_err();
        assert!(error.to_string().contains("symbolic link"), "{error}");
        assert_eq!(std::fs::read_dir(elsewhere.path()).unwrap().count(), 0);
        assert_eq!(
            mode(elsewhere.path()),
            0o755,
            "the link's target was chmod'ed"
        );
    }

    #[tokio::test]
    async fn a_loose_existing_file_and_directory_are_tightened_and_appended_to() {
        let data_dir = tempfile::tempdir().unwrap();
        let directory = data_dir.path().join("dead-letter");
        std::fs::create_dir(&directory).unwrap();
        set_mode(&directory, 0o755);
        let letters = letters(data_dir.path());
        std::fs::write(letters.path(), "{\"reason\":\"earlier\",\"event\":{}}\n").unwrap();
        set_mode(letters.path(), 0o644);

        letters.write(b"{\"call\":{}}", "too big").await.unwrap();
        assert_eq!(mode(&directory), 0o700);
        assert_eq!(mode(letters.path()), 0o600);
        let text = std::fs::read_to_string(letters.path()).unwrap();
        assert_eq!(text.lines().count(), 2, "{text}");
        assert!(text.starts_with("{\"reason\":\"earlier\""), "{text}");
    }

    #[tokio::test]
    async fn new_dead_letters_are_private_from_the_start() {
        let data_dir = tempfile::tempdir().unwrap();
        let letters = letters(data_dir.path());
        letters.write(b"{\"call\":{}}", "too big").await.unwrap();
        assert_eq!(mode(&data_dir.path().join("dead-letter")), 0o700);
        assert_eq!(mode(letters.path()), 0o600);
    }

    #[tokio::test]
    async fn a_fifo_at_the_dead_letter_path_is_refused_without_blocking() {
        let data_dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(data_dir.path().join("dead-letter")).unwrap();
        let letters = letters(data_dir.path());
        let made = std::process::Command::new("mkfifo")
            .arg(letters.path())
            .status()
            .unwrap();
        assert!(made.success());

        let written = tokio::time::timeout(
            std::time::Duration::from_secs(5),
            letters.write(b"{\"call\":{}}", "too big"),
        )
        .await
        .expect("opening a FIFO blocked the sink");
        assert!(written.is_err());
    }
}
