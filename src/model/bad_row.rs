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
}

impl BadRow {
    /// Every reason, for pre-registering one series each.
    pub const ALL: [BadRow; 3] = [BadRow::NotAnObject, BadRow::MissingId, BadRow::BadStart];

    /// A bounded label value for metrics and logs.
    pub fn reason(self) -> &'static str {
        match self {
            BadRow::NotAnObject => "not_an_object",
            BadRow::MissingId => "missing_id",
            BadRow::BadStart => "bad_start",
        }
    }
}
