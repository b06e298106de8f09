//! The layering rules, read from the code itself so they cannot drift:
//! - `model` reaches nothing else of the crate;
//! - `entra` (client credentials, tokens) reaches only `model`: graph and sinks both
//!   get tokens from it, neither through the other;
//! - `graph` only fetches: no metrics, state, sinks, source, planner, topology;
//! - `sinks` take a batch and return an ack: no graph, state, planner, source;
//! - `state` stores opaque keys and cursors: no graph, sinks, source;
//! - only main (and its commands) and demo reach the simulator.
//!
//! ARCHITECTURE.md draws the picture these rules keep true.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// Which top-level module of the crate a file belongs to (`src/graph/client.rs` →
/// `graph`, `src/main.rs` → `main`, `src/commands/run.rs` → `commands`).
fn module_of(src: &Path, file: &Path) -> String {
    let relative = file.strip_prefix(src).unwrap_or(file);
    let first = relative
        .components()
        .next()
        .map(|part| part.as_os_str().to_string_lossy().into_owned())
        .unwrap_or_default();
    first.trim_end_matches(".rs").to_owned()
}

/// The crate modules a file's code names (`crate::x` anywhere outside a comment).
fn modules_named(text: &str) -> BTreeSet<String> {
    let mut named = BTreeSet::new();
    for line in text.lines() {
        let code = line.split("//").next().unwrap_or("");
        let mut rest = code;
        while let Some(at) = rest.find("crate::") {
            let after = &rest[at + "crate::".len()..];
            let name: String = after
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            if !name.is_empty() {
                named.insert(name);
            }
            rest = after;
        }
        // `use crate::{a, b}` names several at once.
        if let Some(at) = code.find("crate::{") {
            let inner = &code[at + "crate::{".len()..];
            for part in inner.split([',', '}']) {
                let name: String = part
                    .trim()
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                    .collect();
                if !name.is_empty() {
                    named.insert(name);
                }
            }
        }
    }
    named
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|ext| ext == "rs") {
            out.push(path);
        }
    }
}

/// Every (module, file, module it names) of src/.
fn imports() -> Vec<(String, PathBuf, String)> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut found = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        let module = module_of(&src, &file);
        for named in modules_named(&text) {
            if named != module {
                found.push((module.clone(), file.clone(), named));
            }
        }
    }
    found
}

/// (module, modules it may not name) for every rule.
const FORBIDDEN: &[(&str, &[&str])] = &[
    (
        "entra",
        &[
            "graph", "config", "metrics", "state", "sinks", "source", "planner", "topology", "api",
            "simulate",
        ],
    ),
    (
        "graph",
        &[
            "metrics", "state", "sinks", "source", "planner", "topology", "api", "simulate",
        ],
    ),
    (
        "sinks",
        &[
            "graph", "state", "planner", "source", "topology", "simulate",
        ],
    ),
    (
        "state",
        &["graph", "sinks", "source", "topology", "simulate"],
    ),
];

fn violations(found: &[(String, PathBuf, String)]) -> Vec<String> {
    let mut broken = Vec::new();
    for (module, file, named) in found {
        let forbidden = FORBIDDEN
            .iter()
            .find(|(rule, _)| rule == module)
            .is_some_and(|(_, names)| names.contains(&named.as_str()));
        let model_reaches_out = module == "model";
        let reaches_simulator = named == "simulate"
            && !matches!(module.as_str(), "main" | "commands" | "demo" | "simulate");
        if forbidden || model_reaches_out || reaches_simulator {
            broken.push(format!("{} names crate::{named}", file.display()));
        }
    }
    broken
}

#[test]
fn the_layering_rules_hold_for_every_file_under_src() {
    let found = imports();
    let modules: BTreeSet<&str> = found.iter().map(|(module, _, _)| module.as_str()).collect();
    for expected in ["entra", "graph", "sinks", "state", "source", "topology"] {
        assert!(
            modules.contains(expected),
            "the walk found no imports in {expected}: {modules:?}"
        );
    }
    let broken = violations(&found);
    assert!(broken.is_empty(), "layering broken:\n{}", broken.join("\n"));
}

#[test]
fn the_checker_catches_each_kind_of_violation() {
    let file = PathBuf::from("src/x.rs");
    let case =
        |module: &str, named: &str| vec![(module.to_owned(), file.clone(), named.to_owned())];
    assert_eq!(violations(&case("graph", "metrics")).len(), 1);
    assert_eq!(violations(&case("sinks", "graph")).len(), 1);
    assert_eq!(violations(&case("entra", "graph")).len(), 1);
    assert!(violations(&case("sinks", "entra")).is_empty());
    assert!(violations(&case("graph", "entra")).is_empty());
    assert_eq!(violations(&case("state", "sinks")).len(), 1);
    assert_eq!(violations(&case("model", "time")).len(), 1);
    assert_eq!(violations(&case("source", "simulate")).len(), 1);
    assert!(violations(&case("demo", "simulate")).is_empty());
    assert!(violations(&case("source", "graph")).is_empty());
    assert!(violations(&case("graph", "model")).is_empty());
    let named = modules_named(
        "use crate::{graph::Page, state::Commit};\n// crate::sinks\nlet x = crate::metrics::Metrics::new();",
    );
    assert_eq!(
        named.into_iter().collect::<Vec<_>>(),
        ["graph", "metrics", "state"]
    );
}

/// The library's public items: what `src/lib.rs` declares `pub` at the crate root,
/// outside the `internal_modules!` macro (whose modules are `pub(crate)` unless the
/// crate's own tests build it with `__internals`).
fn public_items_of_the_library() -> BTreeSet<String> {
    let lib = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/lib.rs");
    let text = std::fs::read_to_string(lib).unwrap();
    let mut public = BTreeSet::new();
    let mut in_macro = false;
    for line in text.lines() {
        if line.starts_with("macro_rules! internal_modules") {
            in_macro = true;
        } else if in_macro && line.starts_with('}') {
            in_macro = false;
        } else if !in_macro && line.starts_with("pub ") {
            public.insert(line.trim_end_matches(';').to_owned());
        }
    }
    public
}

#[test]
fn the_library_publishes_only_the_embedded_source_the_simulator_and_the_command_line() {
    let expected: BTreeSet<String> = [
        "pub mod embed",
        "pub mod simulate",
        "pub use commands::{IGNORED_ENVIRONMENT, run_command_line}",
    ]
    .into_iter()
    .map(String::from)
    .collect();
    assert_eq!(public_items_of_the_library(), expected);
    let lib =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("src/lib.rs")).unwrap();
    assert!(
        lib.contains("#[cfg(not(feature = \"__internals\"))]\n        pub(crate) mod $name;"),
        "internal modules must be pub(crate) in a build without __internals"
    );
}

/// Every `pstn_agent::x` path in `text`.
fn crate_paths(text: &str) -> BTreeSet<String> {
    let mut paths = BTreeSet::new();
    let mut rest = text;
    while let Some(at) = rest.find("pstn_agent::") {
        let after = &rest[at + "pstn_agent::".len()..];
        let name: String = after
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        paths.insert(name);
        rest = after;
    }
    paths
}

/// The example and the crate's doc examples are built with the tests (where
/// `__internals` is on), so this reads them: they may use the public API only, as an
/// embedding program must.
#[test]
fn the_example_and_the_doc_examples_use_only_the_public_api() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    rust_files(&root.join("examples"), &mut files);
    files.push(root.join("src/lib.rs"));
    files.push(root.join("src/embed.rs"));
    let mut used = BTreeSet::new();
    for file in &files {
        let text = std::fs::read_to_string(file).unwrap();
        for name in crate_paths(&text) {
            used.insert(name.clone());
            assert!(
                matches!(name.as_str(), "embed" | "simulate"),
                "{} uses pstn_agent::{name}, which is not public",
                file.display()
            );
        }
    }
    assert!(
        used.contains("embed"),
        "the walk found the examples: {used:?}"
    );
    assert_eq!(
        crate_paths("use pstn_agent::graph::GraphClient;"),
        BTreeSet::from(["graph".to_owned()])
    );
}
