//! Why a row Graph sent cannot be delivered.

/// Why a row was skipped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum BadRow {
    /// Not a JSON object (or an object with duplicate keys).
    #[error("row is not a JSON object")]
    NotAnObject,
    /// The key (`id`) missing, null, empty or not a string, for a kind that needs it.
    #[error("row has no id")]
    MissingId,
    /// The kind's timestamp (`startDateTime`, `sentDateTime`, `blockDateTime`) missing
    /// or unreadable.
    #[error("row has no readable timestamp (startDateTime, sentDateTime or blockDateTime)")]
    BadStart,
    /// Nested deeper than [`MAX_ROW_DEPTH`]: no Graph row is; such a row could pass some
    /// sinks and never others (OTLP, redaction), so none gets it.
    #[error("row is nested more than {MAX_ROW_DEPTH} levels deep")]
    TooDeep,
}

/// The deepest nesting of objects and arrays a row may have. Graph's rows are three
/// levels deep at most (`administrativeUnitInfos: [{id}]`); every sink can take 64.
pub const MAX_ROW_DEPTH: usize = 64;

/// Whether `raw` (valid JSON) nests objects and arrays deeper than [`MAX_ROW_DEPTH`].
pub(crate) fn too_deep(raw: &str) -> bool {
    // Fast path, vectorised: a row cannot nest deeper than its count of openers.
    let openers = raw
        .as_bytes()
        .iter()
        .filter(|byte| matches!(byte, b'{' | b'['))
        .count();
    if openers <= MAX_ROW_DEPTH {
        return false;
    }
    let (mut depth, mut in_string, mut escaped) = (0usize, false, false);
    for &byte in raw.as_bytes() {
        if in_string {
            match byte {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'"' => in_string = false,
                _ => {}
            }
            continue;
        }
        match byte {
            b'"' => in_string = true,
            b'{' | b'[' => {
                depth += 1;
                if depth > MAX_ROW_DEPTH {
                    return true;
                }
            }
            b'}' | b']' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    false
}

impl BadRow {
    /// Every reason, for pre-registering one series each.
    pub const ALL: [BadRow; 4] = [
        BadRow::NotAnObject,
        BadRow::MissingId,
        BadRow::BadStart,
        BadRow::TooDeep,
    ];

    /// A bounded label value for metrics and logs.
    pub fn reason(self) -> &'static str {
        match self {
            BadRow::NotAnObject => "not_an_object",
            BadRow::MissingId => "missing_id",
            BadRow::BadStart => "bad_start",
            BadRow::TooDeep => "too_deep",
        }
    }
}
