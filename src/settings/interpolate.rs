//! `${VAR}` and `${VAR:-default}` in configuration strings, as Vector does them.

use std::collections::HashMap;

/// Why a string could not be interpolated.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InterpolationError {
    /// `${VAR}` names a variable that is not set (and no default was given).
    #[error("environment variable {0} is not set (write ${{{0}:-default}} to give a default)")]
    Missing(String),
    /// A `${` without its closing `}` or with an invalid name.
    #[error(
        "malformed variable reference {0:?} (expected ${{NAME}} or ${{NAME:-default}}; write $$ for a literal $)"
    )]
    Malformed(String),
}

impl InterpolationError {
    /// The problem line for a key that holds a secret: no default to suggest, since a
    /// secret must never be written into the file.
    pub fn for_secret(&self) -> String {
        match self {
            InterpolationError::Missing(name) => format!(
                "environment variable {name} is not set (it holds a secret: set it in the agent's environment)"
            ),
            other => other.to_string(),
        }
    }
}

/// The environment a configuration is read with: the process's, or a fixed map in tests.
#[derive(Debug, Clone, Default)]
pub struct Environment {
    fixed: Option<HashMap<String, String>>,
}

impl Environment {
    /// The process environment.
    pub fn process() -> Self {
        Environment { fixed: None }
    }

    /// A fixed set of variables (for tests and embedding).
    pub fn fixed(variables: impl IntoIterator<Item = (String, String)>) -> Self {
        Environment {
            fixed: Some(variables.into_iter().collect()),
        }
    }

    /// One variable of this environment.
    pub fn variable(&self, name: &str) -> Option<String> {
        self.get(name)
    }

    fn get(&self, name: &str) -> Option<String> {
        match &self.fixed {
            Some(map) => map.get(name).cloned(),
            None => std::env::var(name).ok(),
        }
    }
}

/// Replaces every `${VAR}` / `${VAR:-default}` in `text`; `$$` is a literal `$`.
pub fn interpolate(text: &str, environment: &Environment) -> Result<String, InterpolationError> {
    if !text.contains('$') {
        return Ok(text.to_owned());
    }
    let mut output = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(position) = rest.find('$') {
        output.push_str(&rest[..position]);
        rest = &rest[position..];
        if let Some(after) = rest.strip_prefix("$$") {
            output.push('$');
            rest = after;
        } else if let Some(after) = rest.strip_prefix("${") {
            let Some(end) = after.find('}') else {
                return Err(InterpolationError::Malformed(rest.to_owned()));
            };
            let inner = &after[..end];
            let (name, default) = match inner.split_once(":-") {
                Some((name, default)) => (name, Some(default)),
                None => (inner, None),
            };
            let valid_name = !name.is_empty()
                && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
                && !name.starts_with(|c: char| c.is_ascii_digit());
            if !valid_name {
                return Err(InterpolationError::Malformed(format!("${{{inner}}}")));
            }
            match (environment.get(name), default) {
                (Some(value), Some(default)) if value.is_empty() => output.push_str(default),
                (Some(value), _) => output.push_str(&value),
                (None, Some(default)) => output.push_str(default),
                (None, None) => return Err(InterpolationError::Missing(name.to_owned())),
            }
            rest = &after[end + 1..];
        } else {
            output.push('$');
            rest = &rest[1..];
        }
    }
    output.push_str(rest);
    Ok(output)
}

/// The `NAME` of a value that is only `$NAME`: a variable written without braces,
/// which is not replaced (only `${NAME}` is). For keys that hold secrets, where such a
/// value would silently become the secret itself.
pub fn bare_reference(text: &str) -> Option<&str> {
    let name = text.strip_prefix('$')?;
    let valid = name.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    valid.then_some(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn environment() -> Environment {
        Environment::fixed([
            ("SECRET".to_owned(), "s3cr3t".to_owned()),
            ("EMPTY".to_owned(), String::new()),
        ])
    }

    #[test]
    fn variables_and_defaults_are_replaced() {
        let env = environment();
        assert_eq!(interpolate("a ${SECRET} b", &env).unwrap(), "a s3cr3t b");
        assert_eq!(interpolate("${NOPE:-5m}", &env).unwrap(), "5m");
        assert_eq!(interpolate("${EMPTY:-x}", &env).unwrap(), "x");
        assert_eq!(
            interpolate("cost $$5 ${SECRET}", &env).unwrap(),
            "cost $5 s3cr3t"
        );
    }

    #[test]
    fn a_missing_variable_is_named() {
        let error = interpolate("${GRAPH_CLIENT_SECRET}", &environment()).unwrap_err();
        assert_eq!(
            error,
            InterpolationError::Missing("GRAPH_CLIENT_SECRET".into())
        );
        assert!(error.to_string().contains("GRAPH_CLIENT_SECRET"));
    }

    #[test]
    fn malformed_references_are_refused() {
        assert!(matches!(
            interpolate("${UNCLOSED", &environment()),
            Err(InterpolationError::Malformed(_))
        ));
        assert!(matches!(
            interpolate("${bad-name}", &environment()),
            Err(InterpolationError::Malformed(_))
        ));
    }
}
