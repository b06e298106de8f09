//! What is wrong with a configuration: a typed list of problems, each with the key it
//! names. Shown, each is one line, `key: message`, as users have always read them.

use super::interpolate::InterpolationError;
use std::fmt;

/// One problem of a configuration: the key path it is about and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The key path (`sources.x.poll_interval`, `sinks.y.inputs[0]`, `line 3`).
    pub key: String,
    /// What is wrong, for a person to read.
    pub message: String,
    /// The environment variable this problem is about, when one is not set: lines
    /// about one variable are said once (see [`Problem::missing_variable`]).
    missing_variable: Option<String>,
}

impl Problem {
    /// A problem at `key`.
    pub fn new(key: impl Into<String>, message: impl fmt::Display) -> Self {
        Problem {
            key: key.into(),
            message: message.to_string(),
            missing_variable: None,
        }
    }

    /// The environment variable that is not set, when that is the problem.
    pub fn missing_variable(&self) -> Option<&str> {
        self.missing_variable.as_deref()
    }

    /// Whether this problem is about `key` or a key inside it (`key.x`, `key[0]`).
    pub fn is_under(&self, key: &str) -> bool {
        self.key
            .strip_prefix(key)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with(['.', '[']))
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.key, self.message)
    }
}

/// Every problem found in a configuration, in the order found.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Problems(Vec<Problem>);

impl Problems {
    /// Records one problem at `key`.
    pub fn add(&mut self, key: &str, message: impl fmt::Display) {
        self.0.push(Problem::new(key, message));
    }

    /// Records why a string at `key` could not be interpolated; for a key that holds
    /// a secret, without the suggestion of a default.
    pub fn interpolation(&mut self, key: &str, error: &InterpolationError, secret: bool) {
        let message = if secret {
            error.for_secret()
        } else {
            error.to_string()
        };
        let mut problem = Problem::new(key, message);
        if let InterpolationError::Missing(name) = error {
            problem.missing_variable = Some(name.clone());
        }
        self.0.push(problem);
    }

    /// How many problems so far (a reader compares it before and after a table).
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether there is none.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Whether any problem is about `key` or a key inside it.
    pub fn any_under(&self, key: &str) -> bool {
        self.0.iter().any(|problem| problem.is_under(key))
    }

    /// The problems, in the order found.
    pub fn iter(&self) -> std::slice::Iter<'_, Problem> {
        self.0.iter()
    }

    /// One line per problem, each naming its key.
    pub fn lines(&self) -> Vec<String> {
        self.0.iter().map(Problem::to_string).collect()
    }
}

impl fmt::Display for Problems {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (index, problem) in self.0.iter().enumerate() {
            if index > 0 {
                f.write_str("\n")?;
            }
            write!(f, "{problem}")?;
        }
        Ok(())
    }
}

impl IntoIterator for Problems {
    type Item = Problem;
    type IntoIter = std::vec::IntoIter<Problem>;

    fn into_iter(self) -> Self::IntoIter {
        self.0.into_iter()
    }
}

impl FromIterator<Problem> for Problems {
    fn from_iter<I: IntoIterator<Item = Problem>>(problems: I) -> Self {
        Problems(problems.into_iter().collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_problem_shows_as_its_key_and_message_and_knows_the_keys_inside_it() {
        let mut problems = Problems::default();
        problems.add("sinks.a.inputs[0]", "\"x\" names no source");
        problems.interpolation(
            "sources.s.client_secret",
            &InterpolationError::Missing("SECRET".into()),
            true,
        );
        assert_eq!(
            problems.lines(),
            [
                "sinks.a.inputs[0]: \"x\" names no source",
                "sources.s.client_secret: environment variable SECRET is not set (it holds a secret: set it in the agent's environment)",
            ]
        );
        assert_eq!(problems.to_string(), problems.lines().join("\n"));
        assert!(problems.any_under("sinks") && problems.any_under("sinks.a.inputs"));
        assert!(!problems.any_under("sink") && !problems.any_under("sinks.a.input"));
        let missing: Vec<_> = problems.iter().map(Problem::missing_variable).collect();
        assert_eq!(missing, [None, Some("SECRET")]);
    }
}
