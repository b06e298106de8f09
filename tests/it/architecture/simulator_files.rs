//! Inside the simulator: its files use each other without a circle (issue 24), read
//! from the code as the layering is.

use super::*;

/// The files of `src/simulate/` (a subfolder counts as its module) that a file of it
/// names outside its tests, by `super::x` or `crate::simulate::x`.
fn simulator_edges() -> BTreeMap<String, BTreeSet<String>> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/simulate");
    let mut files = Vec::new();
    rust_files(&dir, &mut files);
    let nodes: BTreeSet<String> = files.iter().map(|file| module_of(&dir, file)).collect();
    let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for file in &files {
        let from = module_of(&dir, file);
        let text = std::fs::read_to_string(file).unwrap();
        let code = text.split("#[cfg(test)]").next().unwrap_or_default();
        // `super::` names a sibling only from a file directly under src/simulate/.
        let top_level = file.parent() == Some(dir.as_path());
        for line in code
            .lines()
            .filter(|line| !line.trim_start().starts_with("//"))
        {
            let prefixes: &[&str] = if top_level {
                &["super::", "crate::simulate::"]
            } else {
                &["crate::simulate::"]
            };
            for prefix in prefixes {
                for (at, _) in line.match_indices(prefix) {
                    let rest = &line[at + prefix.len()..];
                    let names: Vec<&str> = match rest.strip_prefix('{') {
                        Some(group) => group.split('}').next().unwrap_or("").split(',').collect(),
                        None => vec![rest],
                    };
                    for name in names {
                        let name: String = name
                            .trim()
                            .chars()
                            .take_while(|c| c.is_alphanumeric() || *c == '_')
                            .collect();
                        if name != from && nodes.contains(&name) {
                            edges.entry(from.clone()).or_default().insert(name);
                        }
                    }
                }
            }
        }
    }
    edges
}

/// A circle among these edges, if there is one (as the path that closes it).
fn a_circle(edges: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        node: &str,
        edges: &BTreeMap<String, BTreeSet<String>>,
        path: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(start) = path.iter().position(|seen| seen == node) {
            let mut circle = path[start..].to_vec();
            circle.push(node.to_owned());
            return Some(circle);
        }
        if done.contains(node) {
            return None;
        }
        path.push(node.to_owned());
        for next in edges.get(node).into_iter().flatten() {
            if let Some(circle) = visit(next, edges, path, done) {
                return Some(circle);
            }
        }
        path.pop();
        done.insert(node.to_owned());
        None
    }
    let mut done = BTreeSet::new();
    edges
        .keys()
        .find_map(|node| visit(node, edges, &mut Vec::new(), &mut done))
}

#[test]
fn the_simulators_files_use_each_other_without_a_circle() {
    let edges = simulator_edges();
    assert!(
        edges
            .get("generator")
            .is_some_and(|used| used.contains("rows")),
        "the reader of the simulator's imports found nothing: {edges:?}"
    );
    assert_eq!(a_circle(&edges), None, "{edges:?}");
    let mut circular = edges.clone();
    circular
        .entry("rows".into())
        .or_default()
        .insert("generator".into());
    assert!(a_circle(&circular).is_some(), "the checker misses a circle");
}
