//! Reading one TOML table field by field, collecting every problem with its key path.
//!
//! serde stops at the first error; users fixing a config want all of them at once,
//! each naming its key (`sources.x.poll_interval: ...`), so the tables are walked here.

use super::duration::parse_duration;
use super::interpolate::{Environment, interpolate};
use super::problems::Problems;
use std::collections::BTreeSet;
use std::time::Duration;
use toml::{Table, Value};

/// Keys whose values are secrets: a missing variable there gets no "write a default".
const SECRET_KEYS: [&str; 3] = ["client_secret", "headers", "key"];

/// A table being read: its path, the keys consumed so far, the environment.
#[derive(Debug)]
pub struct Fields<'a> {
    path: String,
    table: &'a Table,
    used: BTreeSet<&'a str>,
    /// Every key asked for, present or not: what an unknown key is compared with.
    asked: BTreeSet<String>,
    environment: &'a Environment,
}

impl<'a> Fields<'a> {
    /// Starts reading `table`, found at `path` (empty for the top level).
    pub fn new(path: impl Into<String>, table: &'a Table, environment: &'a Environment) -> Self {
        Fields {
            path: path.into(),
            table,
            used: BTreeSet::new(),
            asked: BTreeSet::new(),
            environment,
        }
    }

    /// The full key path of `key` in this table.
    pub fn key(&self, key: &str) -> String {
        if self.path.is_empty() {
            key.to_owned()
        } else {
            format!("{}.{key}", self.path)
        }
    }

    fn take(&mut self, key: &str) -> Option<&'a Value> {
        self.asked.insert(key.to_owned());
        let (stored_key, value) = self.table.get_key_value(key)?;
        self.used.insert(stored_key.as_str());
        Some(value)
    }

    /// Whether the table has `key` (without consuming it).
    pub fn has(&mut self, key: &str) -> bool {
        self.asked.insert(key.to_owned());
        self.table.contains_key(key)
    }

    /// An optional `true` or `false`.
    pub fn boolean(&mut self, key: &str, problems: &mut Problems) -> Option<bool> {
        match self.take(key)? {
            Value::Boolean(flag) => Some(*flag),
            other => {
                problems.add(
                    &self.key(key),
                    format!("expected true or false, found {}", other.type_str()),
                );
                None
            }
        }
    }

    /// An optional string, interpolated from the environment.
    pub fn string(&mut self, key: &str, problems: &mut Problems) -> Option<String> {
        let value = self.take(key)?;
        match value {
            Value::String(text) => match interpolate(text, self.environment) {
                Ok(text) => Some(text),
                Err(error) => {
                    problems.interpolation(&self.key(key), &error, SECRET_KEYS.contains(&key));
                    None
                }
            },
            other => {
                problems.add(
                    &self.key(key),
                    format!("expected a string, found {}", other.type_str()),
                );
                None
            }
        }
    }

    /// A string that must be present and non-empty.
    pub fn required_string(&mut self, key: &str, problems: &mut Problems) -> Option<String> {
        if !self.has(key) {
            problems.add(&self.key(key), "missing (required)");
            return None;
        }
        let text = self.string(key, problems)?;
        if text.trim().is_empty() {
            problems.add(&self.key(key), "must not be empty");
            return None;
        }
        Some(text)
    }

    /// A duration (`30s`, `5m`, `6h`, `7d`), or `default` when absent.
    pub fn duration(
        &mut self,
        key: &str,
        default: Duration,
        problems: &mut Problems,
    ) -> Option<Duration> {
        if !self.has(key) {
            return Some(default);
        }
        let text = self.string(key, problems)?;
        match parse_duration(&text) {
            Ok(duration) => Some(duration),
            Err(message) => {
                problems.add(&self.key(key), message);
                None
            }
        }
    }

    /// A positive number (integer or float), or `default` when absent.
    pub fn positive_number(
        &mut self,
        key: &str,
        default: f64,
        problems: &mut Problems,
    ) -> Option<f64> {
        let Some(value) = self.take(key) else {
            return Some(default);
        };
        let number = match value {
            Value::Integer(number) => *number as f64,
            Value::Float(number) => *number,
            Value::String(text) => {
                match interpolate(text, self.environment).map(|t| t.trim().parse::<f64>()) {
                    Ok(Ok(number)) => number,
                    _ => {
                        problems.add(&self.key(key), format!("expected a number, found {text:?}"));
                        return None;
                    }
                }
            }
            other => {
                problems.add(
                    &self.key(key),
                    format!("expected a number, found {}", other.type_str()),
                );
                return None;
            }
        };
        if !(number.is_finite() && number > 0.0) {
            problems.add(
                &self.key(key),
                format!("must be a positive number, found {number}"),
            );
            return None;
        }
        Some(number)
    }

    /// A list of strings (each interpolated).
    pub fn string_list(&mut self, key: &str, problems: &mut Problems) -> Option<Vec<String>> {
        let value = self.take(key)?;
        let Value::Array(items) = value else {
            problems.add(
                &self.key(key),
                format!("expected a list of strings, found {}", value.type_str()),
            );
            return None;
        };
        let mut strings = Vec::with_capacity(items.len());
        for (index, item) in items.iter().enumerate() {
            match item {
                Value::String(text) => match interpolate(text, self.environment) {
                    Ok(text) => strings.push(text),
                    Err(error) => problems.interpolation(
                        &format!("{}[{index}]", self.key(key)),
                        &error,
                        false,
                    ),
                },
                other => problems.add(
                    &format!("{}[{index}]", self.key(key)),
                    format!("expected a string, found {}", other.type_str()),
                ),
            }
        }
        Some(strings)
    }

    /// A sub-table of string values (headers), each interpolated.
    pub fn string_map(
        &mut self,
        key: &str,
        problems: &mut Problems,
    ) -> Option<Vec<(String, String)>> {
        let table = self.table(key, problems)?;
        let mut pairs = Vec::with_capacity(table.len());
        for (name, item) in table {
            let item_key = format!("{}.{name}", self.key(key));
            match item {
                Value::String(text) => match interpolate(text, self.environment) {
                    Ok(text) => pairs.push((name.clone(), text)),
                    Err(error) => {
                        problems.interpolation(&item_key, &error, SECRET_KEYS.contains(&key))
                    }
                },
                other => problems.add(
                    &item_key,
                    format!("expected a string, found {}", other.type_str()),
                ),
            }
        }
        Some(pairs)
    }

    /// A sub-table, to be read with its own [`Fields`].
    pub fn table(&mut self, key: &str, problems: &mut Problems) -> Option<&'a Table> {
        let value = self.take(key)?;
        match value {
            Value::Table(table) => Some(table),
            other => {
                problems.add(
                    &self.key(key),
                    format!("expected a table, found {}", other.type_str()),
                );
                None
            }
        }
    }

    /// Reports every key nobody asked for: a typo must not be silently ignored.
    pub fn finish(self, problems: &mut Problems) {
        for key in self.table.keys() {
            if !self.used.contains(key.as_str()) {
                let suggestion =
                    super::suggest::did_you_mean(key, self.asked.iter().map(String::as_str));
                problems.add(&self.key(key), format!("unknown key{suggestion}"));
            }
        }
    }

    /// The environment strings are interpolated from.
    pub fn environment(&self) -> &'a Environment {
        self.environment
    }
}

/// Reads `text` (one TOML table, found at `path`) with a component's reader, as
/// `config` would hand it over, then reports its unknown keys: what the reader made of
/// it and the problem lines. For the tests that sit beside each component's reader.
#[cfg(test)]
pub fn read_table<T>(
    path: &str,
    text: &str,
    read: impl FnOnce(&mut Fields<'_>, &mut Problems) -> T,
) -> (T, Vec<String>) {
    let table: Table = text.parse().expect("the test's table is TOML");
    let environment = Environment::fixed([]);
    let mut problems = Problems::default();
    let mut fields = Fields::new(path, &table, &environment);
    let read = read(&mut fields, &mut problems);
    fields.finish(&mut problems);
    (read, problems.lines())
}
