//! Whether this user can write where the configuration says state and events go: a
//! `validate` that says ok must not be followed by "Permission denied" at start.

use super::{Config, Credential, Problems, SinkKind};
use std::path::Path;

impl Config {
    /// What the agent needs of this machine to start, without the network: one problem
    /// per place this user cannot create or write (`data_dir`, each file sink's
    /// directory), and per certificate whose key is not its own. Creates nothing that
    /// stays: it probes the nearest existing directory with a file it removes at once.
    pub fn check_local_paths(&self) -> Result<(), Problems> {
        let mut problems = Problems::default();
        if let Some(why) = unwritable(&self.data_dir) {
            problems.add("data_dir", why);
        }
        for sink in &self.sinks {
            if let SinkKind::File { path } = &sink.kind
                && let Some(why) = path.parent().and_then(unwritable)
            {
                problems.add(&format!("sinks.{}.path", sink.name), why);
            }
        }
        let credentials = self
            .sources
            .iter()
            .map(|source| (format!("sources.{}", source.name), &source.credential))
            .chain(self.sinks.iter().filter_map(|sink| match &sink.kind {
                SinkKind::AzureLogsIngestion(azure) => {
                    Some((format!("sinks.{}", sink.name), &azure.credential))
                }
                _ => None,
            }));
        for (table, credential) in credentials {
            if let Credential::Certificate {
                certificate,
                private_key,
            } = credential
                && let Err(why) = crate::entra::check_certificate_and_key(certificate, private_key)
            {
                problems.add(&format!("{table}.client_private_key"), why);
            }
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(problems)
        }
    }
}

/// Why this user could not create or write `dir`, if it could not.
fn unwritable(dir: &Path) -> Option<String> {
    let existing = dir.ancestors().find(|path| path.exists())?;
    if !existing.is_dir() {
        return Some(format!("{} is not a directory", existing.display()));
    }
    let probe = existing.join(format!(".pstn-agent-write-test-{}", std::process::id()));
    match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&probe)
    {
        Ok(_) => {
            let _ = std::fs::remove_file(&probe);
            None
        }
        Err(error) if existing == dir => Some(format!(
            "{}: this user cannot write here ({error}); choose a directory it owns",
            dir.display()
        )),
        Err(error) => Some(format!(
            "{}: this user cannot create it: {} is not writable ({error}); choose a directory it owns",
            dir.display(),
            existing.display()
        )),
    }
}
