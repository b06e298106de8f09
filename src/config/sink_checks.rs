//! Checks across validated sinks that catch mistakes each sink alone cannot see: two
//! file sinks on one file, a file sink inside `data_dir`, credentials in a sink URL,
//! and a Logs Ingestion token meant for another service.

use super::{Problems, SinkConfig, SinkKind};
use std::path::{Component, Path, PathBuf};
use url::Url;

/// Azure Monitor's audiences, public and national clouds: the only resources whose
/// token may go to a Logs Ingestion endpoint.
const MONITOR_AUDIENCES: [&str; 3] = [
    "https://monitor.azure.com",
    "https://monitor.azure.us",
    "https://monitor.azure.cn",
];

/// Runs every check; one problem line per mistake, naming the key.
pub(super) fn check(sinks: &[SinkConfig], data_dir: &Path, problems: &mut Problems) {
    check_file_paths(sinks, data_dir, problems);
    for sink in sinks {
        check_urls(sink, problems);
        if let SinkKind::AzureLogsIngestion(azure) = &sink.kind
            && !is_monitor_scope(&azure.token_scope)
        {
            problems.add(
                &format!("sinks.{}.token_scope", sink.name),
                format!(
                    "{:?} is not an Azure Monitor audience: its token would be sent to the ingestion endpoint. Use https://monitor.azure.com//.default (national clouds: https://monitor.azure.us//.default, https://monitor.azure.cn//.default)",
                    azure.token_scope
                ),
            );
        }
    }
}

/// `https://monitor.azure.com//.default` (Azure Monitor's resource keeps its trailing
/// slash), or `/.default`, for the public or a national cloud, in any case.
fn is_monitor_scope(scope: &str) -> bool {
    let scope = scope.to_ascii_lowercase();
    MONITOR_AUDIENCES.iter().any(|audience| {
        scope
            .strip_prefix(audience)
            .is_some_and(|rest| rest == "//.default" || rest == "/.default")
    })
}

/// Two file sinks writing one file would write every event twice into it; one inside
/// `data_dir` could write over the state database, its lock or the dead letters.
fn check_file_paths(sinks: &[SinkConfig], data_dir: &Path, problems: &mut Problems) {
    let data_dir = normalized(data_dir);
    let mut seen: Vec<(&str, PathBuf)> = Vec::new();
    for sink in sinks {
        let SinkKind::File { path } = &sink.kind else {
            continue;
        };
        let key = format!("sinks.{}.path", sink.name);
        let path = normalized(path);
        if path.starts_with(&data_dir) {
            problems.add(
                &key,
                format!(
                    "{} is inside data_dir ({}), which holds the agent's state, its lock and the dead letters: write events elsewhere",
                    path.display(),
                    data_dir.display()
                ),
            );
        }
        if let Some((first, _)) = seen.iter().find(|(_, other)| *other == path) {
            problems.add(
                &key,
                format!(
                    "{} is also the file of sinks.{first}.path: every event would be written twice into it; give each file sink its own file",
                    path.display()
                ),
            );
        }
        seen.push((&sink.name, path));
    }
}

/// A path as the system would reach it: absolute, its existing part through any
/// symbolic links (`canonicalize`), the rest with `.` and `..` applied.
fn normalized(path: &Path) -> PathBuf {
    let absolute = if path.is_absolute() {
        path.to_owned()
    } else {
        std::env::current_dir()
            .map(|dir| dir.join(path))
            .unwrap_or_else(|_| path.to_owned())
    };
    let (mut out, rest) = absolute
        .ancestors()
        .find_map(|ancestor| {
            let real = ancestor.canonicalize().ok()?;
            Some((real, absolute.strip_prefix(ancestor).ok()?.to_owned()))
        })
        .unwrap_or_else(|| (PathBuf::new(), absolute.clone()));
    for component in rest.components() {
        match component {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}

/// Every URL a sink sends to: a user name or password in one would travel with each
/// request and show wherever the URL is printed. The URL itself is never quoted.
fn check_urls(sink: &SinkConfig, problems: &mut Problems) {
    let urls: Vec<(&str, &Url)> = match &sink.kind {
        SinkKind::Otlp(otlp) => vec![("endpoint", &otlp.endpoint)],
        SinkKind::AzureLogsIngestion(azure) => vec![
            ("endpoint", &azure.endpoint),
            ("authority_url", &azure.authority_url),
        ],
        SinkKind::Console | SinkKind::File { .. } => Vec::new(),
    };
    for (key, url) in urls {
        if !url.username().is_empty() || url.password().is_some() {
            problems.add(
                &format!("sinks.{}.{key}", sink.name),
                "carries a user name or password (user:password@host): a sink never sends credentials in its URL; remove them (OTLP: put them in headers; Logs Ingestion: client_secret or a certificate)",
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Config, Environment};

    const SOURCE: &str = "[sources.p]\ntype = \"pstn_calls\"\ntenant_id = \"t\"\nclient_id = \"11111111-1111-1111-1111-111111111111\"\nclient_secret = \"s\"\n";

    fn problems(data_dir: &Path, sinks: &str) -> Vec<String> {
        let text = format!("data_dir = \"{}\"\n{SOURCE}{sinks}", data_dir.display());
        match Config::parse(&text, Path::new("/"), &Environment::fixed([])) {
            Ok(_) => Vec::new(),
            Err(problems) => problems.lines(),
        }
    }

    fn file_sink(name: &str, path: &str) -> String {
        format!("[sinks.{name}]\ntype = \"file\"\npath = \"{path}\"\ninputs = [\"p\"]\n")
    }

    const AZURE: &str = "[sinks.sentinel]\ntype = \"azure_logs_ingestion\"\ninputs = [\"p\"]\ndcr_immutable_id = \"dcr-00000000000000000000000000000000\"\ntenant_id = \"t\"\nclient_id = \"22222222-2222-2222-2222-222222222222\"\nclient_secret = \"m\"\n";

    #[test]
    fn two_file_sinks_on_one_file_are_refused_however_the_path_is_written() {
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().join("state");
        let out = dir.path().join("out");
        std::fs::create_dir(&out).unwrap();
        std::os::unix::fs::symlink(&out, dir.path().join("linked")).unwrap();
        let a = format!("{}/calls.jsonl", out.display());
        let b = format!("{}/./x/../calls.jsonl", out.display());
        let c = format!("{}/linked/calls.jsonl", dir.path().display());
        let found = problems(
            &state,
            &(file_sink("a", &a) + &file_sink("b", &b) + &file_sink("c", &c)),
        );
        assert_eq!(found.len(), 2, "{found:?}");
        assert!(
            found[0].starts_with("sinks.b.path: ") && found[0].contains("sinks.a.path"),
            "{found:?}"
        );
        assert!(found[1].starts_with("sinks.c.path: "), "{found:?}");
        let apart = file_sink("a", &a) + &file_sink("b", &format!("{}/other.jsonl", out.display()));
        assert_eq!(problems(&state, &apart), Vec::<String>::new());
    }

    #[test]
    fn a_file_sink_inside_data_dir_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().join("state");
        let inside = format!("{}/state/state.sqlite", dir.path().display());
        let found = problems(&state, &file_sink("archive", &inside));
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(
            found[0].starts_with("sinks.archive.path: ") && found[0].contains("inside data_dir"),
            "{found:?}"
        );
        // Beside it (a sibling whose name starts the same) is fine.
        let beside = format!("{}/state-archive/calls.jsonl", dir.path().display());
        assert_eq!(
            problems(&state, &file_sink("archive", &beside)),
            Vec::<String>::new()
        );
    }

    #[test]
    fn a_user_and_password_in_a_sink_url_is_refused_without_printing_the_password() {
        let dir = tempfile::tempdir().unwrap();
        let otlp = "[sinks.siem]\ntype = \"otlp\"\ninputs = [\"p\"]\nendpoint = \"https://collector:hunter2@siem.example.com:4317\"\n";
        let azure = format!(
            "{AZURE}endpoint = \"https://u:hunter2@dce.westeurope-1.ingest.monitor.azure.com\"\nauthority_url = \"https://admin@login.microsoftonline.com\"\n"
        );
        let found = problems(dir.path(), &format!("{otlp}{azure}"));
        assert_eq!(found.len(), 3, "{found:?}");
        for key in [
            "sinks.sentinel.endpoint: ",
            "sinks.sentinel.authority_url: ",
            "sinks.siem.endpoint: ",
        ] {
            assert!(
                found.iter().any(|line| line.starts_with(key)),
                "{key}: {found:?}"
            );
        }
        let all = found.join("\n");
        assert!(!all.contains("hunter2"), "{all}");
    }

    #[test]
    fn a_token_scope_other_than_azure_monitors_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let with_scope = |scope: &str| {
            problems(
                dir.path(),
                &format!(
                    "{AZURE}endpoint = \"https://dce.westeurope-1.ingest.monitor.azure.com\"\ntoken_scope = \"{scope}\"\n"
                ),
            )
        };
        for good in [
            "https://monitor.azure.com//.default",
            "https://monitor.azure.us//.default",
            "https://monitor.azure.cn//.default",
            "https://Monitor.Azure.com/.default",
        ] {
            assert_eq!(with_scope(good), Vec::<String>::new(), "{good}");
        }
        for bad in [
            "https://graph.microsoft.com/.default",
            "https://monitor.azure.com.evil.example//.default",
            "https://management.azure.com//.default",
        ] {
            let found = with_scope(bad);
            assert_eq!(found.len(), 1, "{bad}: {found:?}");
            assert!(
                found[0].starts_with("sinks.sentinel.token_scope: ")
                    && found[0].contains("not an Azure Monitor audience"),
                "{found:?}"
            );
        }
    }
}
