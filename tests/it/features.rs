//! The `simulator` feature: on by default, and without it the crate itself pulls in
//! none of the crates only the simulator uses.
//!
//! rustls-webpki and tokio-rustls stay in the dependency tree either way (rustls,
//! reqwest and tonic use them for the agent's own TLS), so this checks what the crate
//! asks for directly: dropping the feature must drop them from its own dependencies.

use std::process::Command;

/// Crates that only the simulator asks for (its HTTPS listener, its assertion check).
const SIMULATOR_ONLY: [&str; 2] = ["rustls-webpki", "tokio-rustls"];

/// The names of the crate's own (normal, non-dev) dependencies, with these cargo flags.
fn direct_dependencies(flags: &[&str]) -> Vec<String> {
    let output = Command::new(env!("CARGO"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args([
            "tree",
            "--offline",
            "-e",
            "normal",
            "--prefix",
            "none",
            "--depth",
            "1",
        ])
        .args(flags)
        .output()
        .expect("cargo tree runs");
    assert!(
        output.status.success(),
        "cargo tree {flags:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .skip(1)
        .filter_map(|line| line.split_whitespace().next())
        .map(str::to_owned)
        .collect()
}

#[test]
fn without_the_simulator_feature_the_crate_depends_on_no_simulator_only_crate() {
    let dependencies = direct_dependencies(&["--no-default-features"]);
    assert!(
        dependencies.iter().any(|name| name == "reqwest"),
        "{dependencies:?}"
    );
    for name in SIMULATOR_ONLY {
        assert!(
            !dependencies.iter().any(|dependency| dependency == name),
            "{name} is a dependency without the simulator: {dependencies:?}"
        );
    }
}

#[test]
fn default_features_include_the_simulator_and_its_crates() {
    let dependencies = direct_dependencies(&[]);
    for name in SIMULATOR_ONLY {
        assert!(
            dependencies.iter().any(|dependency| dependency == name),
            "{name} missing with default features: {dependencies:?}"
        );
    }
}
