//! `[sources.NAME.directory]`: which directory attributes of the row's user go beside
//! each row (`user`), how often Graph's `/users/delta` is read again, and how many
//! distinct departments or cost centres the chargeback metrics label before `other`.

use crate::model::{DIRECTORY_ATTRIBUTES, DirectoryAttribute};
use crate::settings::{Fields, Problems, did_you_mean};
use std::time::Duration;

/// `refresh` when not set: an hour, as CONTRACT shows.
pub const DEFAULT_DIRECTORY_REFRESH: Duration = Duration::from_secs(3600);
/// `max_label_values` when not set.
pub const DEFAULT_MAX_LABEL_VALUES: usize = 200;
/// The largest `max_label_values` accepted: labels are for dashboards, not for
/// listing every team of a large company.
pub const MAX_MAX_LABEL_VALUES: usize = 10_000;

/// One validated `[sources.NAME.directory]` table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirectoryConfig {
    /// The attributes to read, in the order configured, each once.
    pub attributes: Vec<DirectoryAttribute>,
    /// How often `/users/delta` is read again from its deltaLink.
    pub refresh: Duration,
    /// Distinct values per chargeback label and source before `other`.
    pub max_label_values: usize,
}

impl Default for DirectoryConfig {
    fn default() -> Self {
        DirectoryConfig {
            attributes: DirectoryAttribute::defaults(),
            refresh: DEFAULT_DIRECTORY_REFRESH,
            max_label_values: DEFAULT_MAX_LABEL_VALUES,
        }
    }
}

/// Reads `directory` of a source table, when present (`Some(None)` when absent).
pub(in crate::source) fn read(
    fields: &mut Fields<'_>,
    problems: &mut Problems,
) -> Option<Option<DirectoryConfig>> {
    if !fields.has("directory") {
        return Some(None);
    }
    let table = fields.table("directory", problems)?;
    let mut directory = Fields::new(fields.key("directory"), table, fields.environment());
    let before = problems.len();
    let attributes = match directory.string_list("attributes", problems) {
        None if directory.has("attributes") => None,
        None => Some(DirectoryAttribute::defaults()),
        Some(names) => read_attributes(&directory.key("attributes"), &names, problems),
    };
    let refresh = directory
        .duration("refresh", DEFAULT_DIRECTORY_REFRESH, problems)
        .filter(|refresh| {
            let ok = *refresh >= Duration::from_secs(1);
            if !ok {
                problems.add(&directory.key("refresh"), "must be at least 1s");
            }
            ok
        });
    let max_label_values = directory
        .positive_number(
            "max_label_values",
            DEFAULT_MAX_LABEL_VALUES as f64,
            problems,
        )
        .filter(|number| {
            let ok = number.fract() == 0.0 && *number <= MAX_MAX_LABEL_VALUES as f64;
            if !ok {
                problems.add(
                    &directory.key("max_label_values"),
                    format!(
                        "expected a whole number from 1 to {MAX_MAX_LABEL_VALUES}, found {number}"
                    ),
                );
            }
            ok
        })
        .map(|number| number as usize);
    directory.finish(problems);
    if problems.len() != before {
        return None;
    }
    Some(Some(DirectoryConfig {
        attributes: attributes?,
        refresh: refresh?,
        max_label_values: max_label_values?,
    }))
}

/// "did you mean": a known path spelt nearly alike, or the path whose last segment
/// is the name given (`costCenter` → `employeeOrgData/costCenter`).
fn suggestion(name: &str) -> String {
    let by_key = DIRECTORY_ATTRIBUTES.iter().find(|known| {
        known
            .rsplit('/')
            .next()
            .is_some_and(|key| key.eq_ignore_ascii_case(name))
    });
    match by_key {
        Some(path) => format!("; did you mean {path:?}?"),
        None => did_you_mean(name, DIRECTORY_ATTRIBUTES.iter().copied()),
    }
}

/// Each name must be a known attribute, given once; an empty list reads nothing and
/// is refused.
fn read_attributes(
    key: &str,
    names: &[String],
    problems: &mut Problems,
) -> Option<Vec<DirectoryAttribute>> {
    if names.is_empty() {
        problems.add(
            key,
            "must name at least one attribute (leave it out for the default list)",
        );
        return None;
    }
    let mut attributes: Vec<DirectoryAttribute> = Vec::with_capacity(names.len());
    let mut ok = true;
    for (index, name) in names.iter().enumerate() {
        match DirectoryAttribute::parse(name) {
            Some(attribute) if attributes.iter().any(|seen| seen.key() == attribute.key()) => {
                problems.add(
                    &format!("{key}[{index}]"),
                    format!(
                        "{name:?} is listed twice (or two attributes share the key {:?})",
                        attribute.key()
                    ),
                );
                ok = false;
            }
            Some(attribute) => attributes.push(attribute),
            None => {
                problems.add(
                    &format!("{key}[{index}]"),
                    format!(
                        "{name:?} is not a directory attribute the agent reads{} (known: {})",
                        suggestion(name),
                        DIRECTORY_ATTRIBUTES.join(", ")
                    ),
                );
                ok = false;
            }
        }
    }
    ok.then_some(attributes)
}
