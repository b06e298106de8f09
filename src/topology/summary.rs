//! The one line a `--once` run ends with.

use super::RunReport;
use crate::config::Config;
use crate::source::PollSummary;

/// The one line a `--once` run ends with: rows per source and per sink (those a sink
/// dead-lettered counted apart from those it delivered), duplicates skipped, time taken.
pub(super) fn summarise_once(
    config: &Config,
    delivered: &[(String, PollSummary)],
    report: &RunReport,
    started: std::time::Instant,
) {
    let dead_of = |sink: &str| {
        report
            .dead_lettered
            .iter()
            .find(|(name, _)| name == sink)
            .map_or(0, |(_, rows)| *rows)
    };
    // A source with several tenants ran as `NAME/TENANT` tasks: its rows are theirs.
    let rows_of = |source: &str| -> u64 {
        delivered
            .iter()
            .filter(|(name, _)| {
                name == source
                    || name
                        .strip_prefix(source)
                        .is_some_and(|rest| rest.starts_with('/'))
            })
            .map(|(_, summary)| summary.rows_new)
            .sum()
    };
    let per_source: Vec<String> = config
        .sources
        .iter()
        .map(|source| format!("{}={}", source.name, rows_of(&source.name)))
        .collect();
    let per_sink: Vec<String> = config
        .sinks
        .iter()
        .map(|sink| {
            let rows: u64 = sink.inputs.iter().map(|input| rows_of(input)).sum();
            format!("{}={}", sink.name, rows.saturating_sub(dead_of(&sink.name)))
        })
        .collect();
    let dead_lettered: Vec<String> = report
        .dead_lettered
        .iter()
        .filter(|(_, rows)| *rows > 0)
        .map(|(sink, rows)| format!("{sink}={rows}"))
        .collect();
    let (rows, duplicates) = delivered.iter().fold((0, 0), |(rows, duplicates), (_, s)| {
        (rows + s.rows_new, duplicates + s.duplicates)
    });
    tracing::info!(
        rows_delivered = rows,
        duplicates_skipped = duplicates,
        sources = per_source.join(" "),
        sinks = per_sink.join(" "),
        rows_dead_lettered = report
            .dead_lettered
            .iter()
            .map(|(_, rows)| rows)
            .sum::<u64>(),
        dead_lettered = dead_lettered.join(" "),
        sources_failed = report.failed.len(),
        seconds = format!("{:.1}", started.elapsed().as_secs_f64()),
        "once: done"
    );
}
