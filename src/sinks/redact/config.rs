//! The `redact` table every sink may carry: which fields of the call are hashed,
//! dropped or kept, the hash key, and the checks of those names against the rows (and
//! the directory attributes) of the sources the sink takes.

use super::OTHER_PARTY_COUNTRY;
use crate::model::Secret;
use crate::settings::{Fields, Problems, bare_reference, did_you_mean};
use crate::sinks::config::Input;

/// Privacy controls over the call's fields, per sink.
#[derive(Debug, Clone)]
pub struct RedactConfig {
    /// Call fields replaced by a keyed hash (HMAC-SHA256), so calls of one number
    /// still correlate without the number.
    pub hash: Vec<String>,
    /// Call fields removed.
    pub drop: Vec<String>,
    /// `keep`: when given, the only call fields that pass (hashed ones included);
    /// every other field of the row is removed, one Graph adds later too.
    pub keep: Option<Vec<String>>,
    /// The hash key (required when `hash` names fields).
    pub key: Option<Secret>,
}

/// A hash key shorter than this (HMAC-SHA256's block is 64 bytes, its output 32) makes
/// hashed phone numbers guessable by trying every number.
const MIN_REDACT_KEY_BYTES: usize = 32;

fn strong_enough(key: &str) -> bool {
    let mut bytes = key.bytes();
    let first = bytes.next();
    key.len() >= MIN_REDACT_KEY_BYTES && bytes.any(|byte| Some(byte) != first)
}

/// Reads `redact` of a sink table, when present.
pub(in crate::sinks) fn read(
    fields: &mut Fields<'_>,
    problems: &mut Problems,
) -> Option<RedactConfig> {
    let table = fields.table("redact", problems)?;
    let mut redact = Fields::new(fields.key("redact"), table, fields.environment());
    let hash = redact.string_list("hash", problems).unwrap_or_default();
    let drop = redact.string_list("drop", problems).unwrap_or_default();
    let keep = redact
        .has("keep")
        .then(|| redact.string_list("keep", problems).unwrap_or_default());
    if keep.as_ref().is_some_and(Vec::is_empty) {
        problems.add(
            &redact.key("keep"),
            "an empty list would remove every field of the call: name the fields to keep, or leave keep out",
        );
    }
    let key = redact.string("key", problems).map(Secret::new);
    if let Some(variable) = key.as_ref().and_then(|key| bare_reference(key.expose())) {
        problems.add(
            &redact.key("key"),
            format!("${variable} is taken literally, not from the environment: write \"${{{variable}}}\""),
        );
    }
    if !hash.is_empty() && key.as_ref().is_none_or(|key| !strong_enough(key.expose())) {
        problems.add(&redact.key("key"), format!("required when hash names fields: at least {MIN_REDACT_KEY_BYTES} bytes, not one character repeated, from the environment (key = \"${{PSTN_REDACT_KEY}}\"; make one with `openssl rand -hex 32`)"));
    }
    for name in hash.iter().chain(&drop).chain(keep.iter().flatten()) {
        // `user.department`: a field of the event's `user` (directory attributes).
        let field = name.strip_prefix("user.").unwrap_or(name);
        if field.is_empty() || field.contains('.') {
            problems.add(
                &redact.key("hash"),
                format!("{name:?}: name a field of the call, like \"callerNumber\", or of the user, like \"user.department\""),
            );
        }
    }
    redact.finish(problems);
    Some(RedactConfig {
        hash,
        drop,
        keep,
        key,
    })
}

/// Each field a sink's `redact` names must be a documented field of the rows its
/// inputs read: a misspelt name (`CallerNumber`) would otherwise ship every number raw.
pub(in crate::sinks) fn check(
    sink: &str,
    redact: &RedactConfig,
    fed: &[Input<'_>],
    problems: &mut Problems,
) {
    let mut known: Vec<&str> = fed
        .iter()
        .flat_map(|input| input.kind.row_fields().iter().copied())
        .collect();
    known.sort_unstable();
    known.dedup();
    if known.is_empty() {
        return;
    }
    // `user` and `user.KEY` name the directory attributes beside the call.
    let user_keys: Vec<String> = fed
        .iter()
        .filter_map(|input| input.directory)
        .flatten()
        .map(|attribute| format!("user.{}", attribute.key()))
        .collect();
    for (list, names) in [("hash", &redact.hash), ("drop", &redact.drop)] {
        for (index, name) in names.iter().enumerate() {
            let key = format!("sinks.{sink}.redact.{list}[{index}]");
            if name == OTHER_PARTY_COUNTRY {
                continue;
            }
            if name == "user" || name.starts_with("user.") {
                if user_keys.is_empty() {
                    problems.add(&key, format!("{name:?}: no source of this sink has a [sources.NAME.directory], so events carry no user"));
                } else if name == "user" && list == "hash" {
                    problems.add(&key, "\"user\" is an object: hash its fields (\"user.department\") or drop it whole");
                } else if name != "user" && !user_keys.contains(name) {
                    problems.add(
                        &key,
                        format!(
                            "{name:?} is not an attribute the directory of this sink's sources reads{}",
                            did_you_mean(name, user_keys.iter().map(String::as_str))
                        ),
                    );
                }
                continue;
            }
            if !known.contains(&name.as_str()) {
                problems.add(
                    &key,
                    format!(
                        "{name:?} is not a field of the rows this sink takes{}",
                        did_you_mean(name, known.iter().copied())
                    ),
                );
            }
        }
    }
    check_keep(sink, redact, &known, problems);
}

/// `keep` names fields of the rows (enrichment is kept unless `hash` or `drop` names
/// it), and agrees with the other lists: a field hashed must be kept, one kept must
/// not be dropped.
fn check_keep(sink: &str, redact: &RedactConfig, known: &[&str], problems: &mut Problems) {
    let Some(keep) = &redact.keep else {
        return;
    };
    for (index, name) in keep.iter().enumerate() {
        let key = format!("sinks.{sink}.redact.keep[{index}]");
        if name == OTHER_PARTY_COUNTRY || name == "user" || name.starts_with("user.") {
            problems.add(&key, format!("{name:?}: keep names fields of the call; enrichment beside it stays unless hash or drop names it"));
        } else if !known.contains(&name.as_str()) {
            problems.add(
                &key,
                format!(
                    "{name:?} is not a field of the rows this sink takes{}",
                    did_you_mean(name, known.iter().copied())
                ),
            );
        } else if let Some(at) = redact.drop.iter().position(|dropped| dropped == name) {
            problems.add(
                &format!("sinks.{sink}.redact.drop[{at}]"),
                format!("{name:?} is also in keep: a field is kept or dropped, not both"),
            );
        }
    }
    for (index, name) in redact.hash.iter().enumerate() {
        let row_field = known.contains(&name.as_str());
        if row_field && !keep.contains(name) {
            problems.add(
                &format!("sinks.{sink}.redact.hash[{index}]"),
                format!(
                    "{name:?} is not in keep, so it would be removed, not hashed: add it to keep"
                ),
            );
        }
    }
}
