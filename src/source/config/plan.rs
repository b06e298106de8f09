//! The keys of a source's late-row plan (`max_delay`, its pace) and the plan's checks
//! against that pace: a report reads days, every other log the sweep ladder.

use super::budget;
use crate::model::LogKind;
use crate::settings::{Fields, Problems, format_duration};
use std::time::Duration;

/// What the source's plan is read from, for the checks against its pace.
pub(super) struct Plan {
    pub(super) kind: Option<LogKind>,
    pub(super) poll_interval: Option<Duration>,
    pub(super) late_window: Option<Duration>,
    pub(super) max_delay: Option<Option<Duration>>,
    pub(super) requests_per_minute: Option<f64>,
    /// Whether the table has a `directory`.
    pub(super) directory: bool,
}

impl Plan {
    /// A report reads one request per day inside late_window each poll, not the sweep
    /// ladder: each has its own budget against the pace.
    pub(super) fn check(&self, fields: &Fields<'_>, problems: &mut Problems) {
        if let Some(kind) = self.kind.filter(|kind| kind.is_report()) {
            let has_max_delay = self.max_delay.flatten().is_some();
            refuse_for_report(kind, fields, has_max_delay, self.directory, problems);
            if let (Some(poll_interval), Some(late_window), Some(pace)) = (
                self.poll_interval,
                self.late_window,
                self.requests_per_minute,
            ) {
                budget::check_report(fields, poll_interval, late_window, pace, problems);
            }
        } else if let (Some(poll_interval), Some(late_window), Some(max_delay), Some(pace)) = (
            self.poll_interval,
            self.late_window,
            self.max_delay,
            self.requests_per_minute,
        ) {
            budget::check(
                fields,
                poll_interval,
                late_window,
                max_delay,
                pace,
                problems,
            );
        }
    }
}

/// A report is read whole, per UTC day, every poll: the sweep ladder's `max_delay` and
/// a directory (not offered for report rows) do not apply, and are refused rather than
/// silently ignored.
fn refuse_for_report(
    kind: LogKind,
    fields: &Fields<'_>,
    max_delay: bool,
    directory: bool,
    problems: &mut Problems,
) {
    if max_delay {
        problems.add(
            &fields.key("max_delay"),
            format!(
                "does not apply to type {:?}: it reads today and every day inside late_window each poll",
                kind.source_type()
            ),
        );
    }
    if directory {
        problems.add(
            &fields.key("directory"),
            format!("is not offered for type {:?}", kind.source_type()),
        );
    }
}

/// `requests_per_minute`, or `requests_per_second` (the same pace × 60), not both;
/// default Graph's published limit per collection.
pub(super) fn read_pace(fields: &mut Fields<'_>, problems: &mut Problems) -> Option<f64> {
    let default = f64::from(crate::model::graph_limits::COLLECTION_PER_MINUTE);
    match (
        fields.has("requests_per_minute"),
        fields.has("requests_per_second"),
    ) {
        (true, true) => {
            let _ = fields.positive_number("requests_per_minute", default, problems);
            let _ = fields.positive_number("requests_per_second", default, problems);
            problems.add(
                &fields.key("requests_per_second"),
                "give requests_per_minute or requests_per_second, not both (they set the same pace)",
            );
            None
        }
        (false, true) => fields
            .positive_number("requests_per_second", default / 60.0, problems)
            .map(|per_second| per_second * 60.0),
        _ => fields.positive_number("requests_per_minute", default, problems),
    }
}

/// `max_delay`: absent (`Some(None)`), or longer than zero and at most `late_window`.
pub(super) fn read_max_delay(
    fields: &mut Fields<'_>,
    late_window: Option<Duration>,
    problems: &mut Problems,
) -> Option<Option<Duration>> {
    if !fields.has("max_delay") {
        return Some(None);
    }
    let max_delay = fields.duration("max_delay", Duration::ZERO, problems)?;
    let problem = if max_delay.is_zero() {
        Some("must be longer than zero".to_owned())
    } else {
        late_window
            .filter(|late_window| max_delay > *late_window)
            .map(|late_window| {
                format!(
                    "must be at most late_window ({}): rows later than that are not caught at all",
                    format_duration(late_window)
                )
            })
    };
    match problem {
        Some(problem) => {
            problems.add(&fields.key("max_delay"), problem);
            None
        }
        None => Some(Some(max_delay)),
    }
}
