//! The layering, read from the code itself so it cannot drift: every `crate::` path
//! under `src/` must be allowed by the "may use" column of ARCHITECTURE.md's Rooms
//! table (an allow-list: a new edge fails until the table says so), and the table
//! itself must keep the rules no row may widen:
//! - `model` reaches nothing else of the crate;
//! - `entra` (client credentials, tokens) reaches only `model` (and `http_client`);
//! - `graph` only fetches: no metrics, state, sinks, source, planner, topology;
//! - `sinks` take a batch and return an ack: no graph, state, planner, source;
//! - `state` stores opaque keys and cursors: no graph, sinks, source;
//! - `settings` (the field kit of every config reader) reaches no config, sinks, source;
//! - only the command line and the demo reach the simulator.

use std::collections::{BTreeMap, BTreeSet};
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

/// The "may use" column of ARCHITECTURE.md's Rooms table: module → the modules it
/// may name. Each row's first column holds one module in backticks (or several, as
/// `lib`, `main`); the last column lists allowed modules in backticks, or `nothing`.
fn allowed_by_the_table(text: &str) -> BTreeMap<String, BTreeSet<String>> {
    let rooms = text.split("## Rooms").nth(1).unwrap_or("");
    let mut allowed = BTreeMap::new();
    for line in rooms.lines().skip_while(|line| !line.starts_with('|')) {
        if !line.starts_with('|') {
            break;
        }
        let cells: Vec<&str> = line.trim_matches('|').split('|').collect();
        let (Some(first), Some(last)) = (cells.first(), cells.last()) else {
            continue;
        };
        let may_use = backticked(last);
        for module in backticked(first) {
            allowed.insert(module, may_use.clone());
        }
    }
    allowed
}

/// The names written in backticks in a table cell (`` `graph` (event types) `` → graph).
fn backticked(cell: &str) -> BTreeSet<String> {
    cell.split('`')
        .skip(1)
        .step_by(2)
        .map(str::to_owned)
        .collect()
}

fn the_table() -> BTreeMap<String, BTreeSet<String>> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("ARCHITECTURE.md");
    allowed_by_the_table(&std::fs::read_to_string(path).unwrap())
}

/// Every import the table does not allow, and every importing module without a row.
fn violations(
    found: &[(String, PathBuf, String)],
    allowed: &BTreeMap<String, BTreeSet<String>>,
) -> Vec<String> {
    let mut broken = Vec::new();
    for (module, file, named) in found {
        match allowed.get(module) {
            None => broken.push(format!(
                "{}: module `{module}` has no row in ARCHITECTURE.md's Rooms table",
                file.display()
            )),
            Some(may_use) if !may_use.contains(named) => broken.push(format!(
                "{} names crate::{named}, which ARCHITECTURE.md does not let `{module}` use",
                file.display()
            )),
            Some(_) => {}
        }
    }
    broken
}

/// Edges no row may ever allow: the lines a newcomer relies on to know what a change
/// can touch (ARCHITECTURE.md's Rules). Widening the table across one fails.
const NEVER: &[(&str, &[&str])] = &[
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
    (
        "settings",
        &["config", "sinks", "source", "topology", "simulate"],
    ),
];

/// The table's allowances that break a rule: `model` using anything, a `NEVER` edge,
/// or a module other than the command line (`commands`, `cli`) and the demo using
/// `simulate`.
fn rules_broken_by(allowed: &BTreeMap<String, BTreeSet<String>>) -> Vec<String> {
    let mut broken = Vec::new();
    for (module, may_use) in allowed {
        for named in may_use {
            let never = NEVER
                .iter()
                .find(|(rule, _)| rule == module)
                .is_some_and(|(_, names)| names.contains(&named.as_str()));
            let model_reaches_out = module == "model";
            let reaches_simulator =
                named == "simulate" && !matches!(module.as_str(), "commands" | "cli" | "demo");
            if never || model_reaches_out || reaches_simulator {
                broken.push(format!("the table lets `{module}` use `{named}`"));
            }
        }
    }
    broken
}

#[test]
fn every_import_under_src_is_allowed_by_the_architecture_table() {
    let found = imports();
    let modules: BTreeSet<&str> = found.iter().map(|(module, _, _)| module.as_str()).collect();
    for expected in ["entra", "graph", "sinks", "state", "source", "topology"] {
        assert!(
            modules.contains(expected),
            "the walk found no imports in {expected}: {modules:?}"
        );
    }
    let table = the_table();
    assert!(table.len() >= 20, "the table was not read: {table:?}");
    let broken = violations(&found, &table);
    assert!(broken.is_empty(), "layering broken:\n{}", broken.join("\n"));
}

#[test]
fn every_module_of_src_has_a_row_in_the_architecture_table() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let table = the_table();
    let mut missing = Vec::new();
    for entry in std::fs::read_dir(&src).unwrap().flatten() {
        let file_name = entry.file_name();
        let name = file_name.to_string_lossy();
        let name = name.trim_end_matches(".rs");
        if !table.contains_key(name) {
            missing.push(name.to_owned());
        }
    }
    assert!(missing.is_empty(), "modules without a row: {missing:?}");
}

#[test]
fn the_architecture_table_keeps_the_layering_rules() {
    let broken = rules_broken_by(&the_table());
    assert!(broken.is_empty(), "{}", broken.join("\n"));
}

#[test]
fn the_checker_catches_each_kind_of_violation() {
    let table = allowed_by_the_table(
        "## Rooms\n\n| module | owns | may use |\n|---|---|---|\n\
         | `graph` | fetching | `model`, `entra` (tokens) |\n\
         | `lib`, `main` | roots | nothing |\n\n## Next\n| `late` | x | `graph` |\n",
    );
    assert_eq!(table.len(), 3, "{table:?}");
    assert_eq!(
        table["graph"],
        BTreeSet::from(["model".to_owned(), "entra".to_owned()])
    );
    assert!(table["main"].is_empty());
    let file = PathBuf::from("src/x.rs");
    let case =
        |module: &str, named: &str| vec![(module.to_owned(), file.clone(), named.to_owned())];
    assert!(violations(&case("graph", "entra"), &table).is_empty());
    assert_eq!(violations(&case("graph", "metrics"), &table).len(), 1);
    assert_eq!(violations(&case("main", "graph"), &table).len(), 1);
    assert_eq!(
        violations(&case("sinks", "model"), &table).len(),
        1,
        "no row"
    );
    let widened = |module: &str, named: &str| {
        BTreeMap::from([(module.to_owned(), BTreeSet::from([named.to_owned()]))])
    };
    assert_eq!(rules_broken_by(&widened("graph", "metrics")).len(), 1);
    assert_eq!(rules_broken_by(&widened("sinks", "graph")).len(), 1);
    assert_eq!(rules_broken_by(&widened("entra", "graph")).len(), 1);
    assert_eq!(rules_broken_by(&widened("state", "sinks")).len(), 1);
    assert_eq!(rules_broken_by(&widened("model", "time")).len(), 1);
    assert_eq!(rules_broken_by(&widened("source", "simulate")).len(), 1);
    assert!(rules_broken_by(&widened("demo", "simulate")).is_empty());
    assert!(rules_broken_by(&widened("sinks", "entra")).is_empty());
    let named = modules_named(
        "use crate::{graph::Page, state::Commit};\n// crate::sinks\nlet x = crate::metrics::Metrics::new();",
    );
    assert_eq!(
        named.into_iter().collect::<Vec<_>>(),
        ["graph", "metrics", "state"]
    );
}

mod public_api;
mod simulator_files;
