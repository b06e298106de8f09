//! What the problem lines say beyond each reader's own: a variable that is not set is
//! said once, and no line prints what a `${VAR}` became.

use super::{Environment, Problem, Problems};

/// How a variable reference starts in the file's text.
const REFERENCE: &str = "${";

/// A variable that is not set is one problem, however many keys name it: the first
/// key's line stays and names the others.
pub(super) fn one_line_per_missing_variable(problems: Problems) -> Problems {
    let mut kept: Vec<Problem> = Vec::with_capacity(problems.len());
    // Each variable not set: the index of its first problem, and the keys after it.
    let mut first_of: Vec<(String, usize, Vec<String>)> = Vec::new();
    for problem in problems {
        let Some(name) = problem.missing_variable().map(str::to_owned) else {
            kept.push(problem);
            continue;
        };
        match first_of.iter_mut().find(|(n, _, _)| *n == name) {
            Some((_, _, also)) => also.push(problem.key),
            None => {
                first_of.push((name, kept.len(), Vec::new()));
                kept.push(problem);
            }
        }
    }
    for (_, index, also) in first_of.into_iter().filter(|(_, _, also)| !also.is_empty()) {
        kept[index]
            .message
            .push_str(&format!("; also named by {}", also.join(", ")));
    }
    kept.into_iter().collect()
}

/// Problems quote the file's own text, never what `${VAR}` became: a secret put in the
/// wrong key (`poll_interval = "${GRAPH_CLIENT_SECRET}"`) must not be printed. Every
/// value of a variable the file names (four characters or more) is written back as
/// `${NAME}`.
pub(super) fn quote_the_file(
    problems: Problems,
    text: &str,
    environment: &Environment,
) -> Problems {
    let mut names: Vec<&str> = text
        .match_indices(REFERENCE)
        .filter_map(|(at, _)| {
            let rest = &text[at + REFERENCE.len()..];
            let end = rest.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))?;
            Some(&rest[..end]).filter(|name| !name.is_empty())
        })
        .collect();
    names.sort_unstable();
    names.dedup();
    let values: Vec<(String, &str)> = names
        .into_iter()
        .filter_map(|name| Some((environment.variable(name)?, name)))
        .filter(|(value, _)| value.chars().count() >= 4)
        .collect();
    problems
        .into_iter()
        .map(|mut problem| {
            for (value, name) in &values {
                problem.message = problem
                    .message
                    .replace(value.as_str(), &format!("${{{name}}}"));
            }
            problem
        })
        .collect()
}
