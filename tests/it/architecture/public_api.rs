//! What the library publishes: only the embedded source, the simulator and the command
//! line's entry point, and the example and doc examples use nothing else.

use super::*;

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
