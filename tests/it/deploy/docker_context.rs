//! The container image's build, without a container engine: the build context Docker
//! would send (the repository filtered by the Dockerfile's `.dockerignore`, matched the
//! way Docker matches), the build stage's `COPY`s from it, and its `cargo` command run
//! there, offline. A file the build needs but the context leaves out fails here as it
//! fails in `docker build`.

use super::{deploy, repository, succeeds};
use std::path::{Component, Path, PathBuf};
use std::process::Command;

/// One `.dockerignore` line: a pattern, and whether it re-includes (`!`).
struct Rule {
    pattern: Vec<String>,
    include: bool,
}

/// `.dockerignore` as Docker reads it: blank lines and `#` comments skipped, each
/// pattern cleaned (leading `/` and `./` dropped, trailing `/` dropped), later lines
/// winning, and a pattern that matches a directory matching everything under it.
pub struct DockerIgnore(Vec<Rule>);

impl DockerIgnore {
    pub fn parse(text: &str) -> DockerIgnore {
        let rules = text
            .lines()
            .map(str::trim)
            .filter(|line| !line.is_empty() && !line.starts_with('#'))
            .map(|line| {
                let (include, pattern) = match line.strip_prefix('!') {
                    Some(rest) => (true, rest.trim()),
                    None => (false, line),
                };
                assert!(
                    !pattern.contains(['[', '\\']),
                    "{pattern}: character classes and escapes are not implemented here"
                );
                let pattern = pattern
                    .split('/')
                    .filter(|part| !part.is_empty() && *part != ".")
                    .map(str::to_owned)
                    .collect();
                Rule { pattern, include }
            })
            .collect();
        DockerIgnore(rules)
    }

    /// Whether `path` (relative, `/`-separated parts) is left out of the context.
    pub fn excludes(&self, path: &[&str]) -> bool {
        let mut excluded = false;
        for rule in &self.0 {
            // Docker: the pattern matches the path or one of its parent directories.
            let matched = (1..=path.len()).any(|len| matches(&rule.pattern, &path[..len]));
            if matched {
                excluded = !rule.include;
            }
        }
        excluded
    }

    /// Whether an excluded directory must still be walked: a `!` rule may re-include
    /// something under it.
    fn may_include_under(&self, dir: &[&str]) -> bool {
        self.0.iter().filter(|rule| rule.include).any(|rule| {
            rule.pattern.len() > dir.len()
                && rule.pattern.iter().zip(dir).all(|(pattern, part)| {
                    pattern == "**" || component_matches(pattern.as_bytes(), part.as_bytes())
                })
                || rule.pattern.iter().any(|part| part == "**")
        })
    }

    /// Every file of `root` the context holds, relative to `root`, sorted.
    pub fn context_files(&self, root: &Path) -> Vec<PathBuf> {
        let mut files = Vec::new();
        self.walk(root, &mut Vec::new(), &mut files);
        files.sort();
        files
    }

    fn walk(&self, root: &Path, relative: &mut Vec<String>, files: &mut Vec<PathBuf>) {
        let dir = relative
            .iter()
            .fold(root.to_owned(), |dir, part| dir.join(part));
        let mut entries: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|entry| entry.unwrap())
            .collect();
        entries.sort_by_key(|entry| entry.file_name());
        for entry in entries {
            relative.push(entry.file_name().to_string_lossy().into_owned());
            let parts: Vec<&str> = relative.iter().map(String::as_str).collect();
            let excluded = self.excludes(&parts);
            if entry.file_type().unwrap().is_dir() {
                if !excluded || self.may_include_under(&parts) {
                    self.walk(root, relative, files);
                }
            } else if !excluded {
                files.push(relative.iter().collect());
            }
            relative.pop();
        }
    }
}

/// Go's `filepath.Match` over path parts, with Docker's `**` (any number of parts).
fn matches(pattern: &[String], path: &[&str]) -> bool {
    match pattern.split_first() {
        None => path.is_empty(),
        Some((first, rest)) if first == "**" => {
            (0..=path.len()).any(|skip| matches(rest, &path[skip..]))
        }
        Some((first, rest)) => path.split_first().is_some_and(|(part, path_rest)| {
            component_matches(first.as_bytes(), part.as_bytes()) && matches(rest, path_rest)
        }),
    }
}

/// `*` (any run of characters) and `?` (one character) within one path part.
fn component_matches(pattern: &[u8], text: &[u8]) -> bool {
    match pattern.split_first() {
        None => text.is_empty(),
        Some((b'*', rest)) => (0..=text.len()).any(|skip| component_matches(rest, &text[skip..])),
        Some((b'?', rest)) => !text.is_empty() && component_matches(rest, &text[1..]),
        Some((byte, rest)) => text.first() == Some(byte) && component_matches(rest, &text[1..]),
    }
}

/// The instructions of a Dockerfile's first stage, continuation lines joined.
pub fn first_stage(dockerfile: &str) -> Vec<String> {
    let mut instructions = Vec::new();
    let mut current = String::new();
    for line in dockerfile.lines() {
        let trimmed = line.trim();
        if current.is_empty() && (trimmed.is_empty() || trimmed.starts_with('#')) {
            continue;
        }
        match trimmed.strip_suffix('\\') {
            Some(head) => current.push_str(head),
            None => {
                current.push_str(trimmed);
                instructions.push(std::mem::take(&mut current));
            }
        }
    }
    instructions
        .into_iter()
        .skip(1)
        .take_while(|instruction| !instruction.starts_with("FROM "))
        .collect()
}

/// Where a path of the image's file system lands under `root` (`/src` → `root/src`).
pub fn in_root(root: &Path, workdir: &Path, path: &str) -> PathBuf {
    let absolute = workdir.join(path);
    let mut inside = root.to_owned();
    for component in absolute.components() {
        match component {
            Component::Normal(part) => inside.push(part),
            Component::ParentDir => {
                inside.pop();
            }
            _ => {}
        }
    }
    inside
}

/// `COPY a b dest`: each source out of `context` (a file, or a directory's contents)
/// into `dest`; a source the context lacks is the build's error.
pub fn copy(context: &Path, sources: &[&str], dest: &Path) -> Result<(), String> {
    let into_dir = sources.len() > 1 || dest.to_string_lossy().ends_with('/') || dest.is_dir();
    for source in sources {
        let from = context.join(source.trim_start_matches("./"));
        if !from.exists() {
            return Err(format!("COPY {source}: not found in the build context"));
        }
        if from.is_dir() {
            copy_dir(&from, dest);
        } else {
            let to = if into_dir {
                dest.join(from.file_name().unwrap())
            } else {
                dest.to_owned()
            };
            std::fs::create_dir_all(to.parent().unwrap()).unwrap();
            std::fs::copy(&from, &to).unwrap();
        }
    }
    Ok(())
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

/// The `cargo ...` part of a `RUN` (after its `--mount` flags, before `&&`), as words.
pub fn cargo_command(run: &str) -> Option<Vec<String>> {
    let shell = run
        .split_whitespace()
        .skip_while(|word| word.starts_with("--"))
        .collect::<Vec<_>>()
        .join(" ");
    shell
        .split("&&")
        .map(str::trim)
        .find(|part| part.starts_with("cargo "))
        .map(|part| part.split_whitespace().map(str::to_owned).collect())
}

#[test]
fn dockerignore_matching_follows_docker() {
    let rules = DockerIgnore::parse("# c\n*\n!src/\n!deploy/docker/a.toml\nsrc/**/*.bak\n!/x?\n");
    let excluded = |path: &str| rules.excludes(&path.split('/').collect::<Vec<_>>());
    assert!(excluded("Cargo.toml"));
    assert!(!excluded("src/main.rs"));
    assert!(!excluded("src/deep/er/mod.rs"));
    assert!(excluded("src/deep/old.bak"));
    assert!(excluded("src/old.bak"), "** matches no directory too");
    assert!(!excluded("deploy/docker/a.toml"));
    assert!(excluded("deploy/docker/Dockerfile"));
    assert!(!excluded("xy"), "? and a leading / as Docker reads them");
    assert!(excluded("xyz"));
    assert!(rules.may_include_under(&["deploy"]));
    assert!(!rules.may_include_under(&["target"]));
}

/// The image's build stage run here: its context is exactly what
/// `Dockerfile.dockerignore` lets through, its `COPY`s are done in order, and its
/// `cargo` command runs offline in the result (as `cargo check` without `--release`,
/// in the repository's target directory, so the cost is one check of this crate once
/// clippy has checked the dependencies; `PSTN_AGENT_IMAGE_BUILD=full` runs the command
/// exactly as written, a release build).
#[test]
fn the_image_builds_from_exactly_the_context_its_dockerignore_sends() {
    let dockerfile = std::fs::read_to_string(deploy("docker/Dockerfile")).unwrap();
    let ignore = std::fs::read_to_string(deploy("docker/Dockerfile.dockerignore")).unwrap();
    let files = DockerIgnore::parse(&ignore).context_files(repository());
    assert!(
        files.iter().any(|file| file == Path::new("Cargo.toml")),
        "{files:?}"
    );
    assert!(
        !files.iter().any(|file| file.starts_with("target")),
        "{files:?}"
    );
    let work = tempfile::tempdir().unwrap();
    let (context, root) = (work.path().join("context"), work.path().join("root"));
    for file in &files {
        let to = context.join(file);
        std::fs::create_dir_all(to.parent().unwrap()).unwrap();
        std::fs::copy(repository().join(file), to).unwrap();
    }
    let mut workdir = PathBuf::from("/");
    let mut built = false;
    for instruction in first_stage(&dockerfile) {
        let (op, arguments) = instruction.split_once(' ').unwrap_or((&instruction, ""));
        match op {
            "WORKDIR" => workdir = workdir.join(arguments.trim()),
            "COPY" => {
                let words: Vec<&str> = arguments.split_whitespace().collect();
                assert!(!words.iter().any(|w| w.starts_with("--")), "{instruction}");
                let (dest, sources) = words.split_last().unwrap();
                let dest = in_root(&root, &workdir, dest);
                if let Err(error) = copy(&context, sources, &dest) {
                    panic!("{instruction}: {error}");
                }
            }
            "RUN" => {
                let Some(mut command) = cargo_command(arguments) else {
                    continue;
                };
                if std::env::var("PSTN_AGENT_IMAGE_BUILD").as_deref() != Ok("full") {
                    command[1] = command[1].replace("build", "check");
                    command.retain(|word| word != "--release");
                }
                let cargo = std::env::var_os("CARGO").unwrap_or("cargo".into());
                // The repository's own target directory (or the one the environment
                // names): `cargo clippy --lib --bins` (.ci/run) checked every
                // dependency there already, so only this crate is checked again.
                let target = std::env::var_os("CARGO_TARGET_DIR")
                    .map(PathBuf::from)
                    .unwrap_or_else(|| repository().join("target"));
                succeeds(
                    Command::new(cargo)
                        .args(&command[1..])
                        .current_dir(in_root(&root, &workdir, "."))
                        .env("CARGO_NET_OFFLINE", "true")
                        .env("CARGO_TARGET_DIR", &target),
                );
                built = true;
            }
            _ => {}
        }
    }
    assert!(built, "no RUN cargo ... in the build stage");
}
