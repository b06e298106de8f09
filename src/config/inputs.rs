//! Sources and sinks seen together: what a sink's reader may know of the sources it
//! takes, and the check that every input names a source and every source is taken.

use super::{Problems, SinkConfig, SourceConfig};
use crate::sinks::config::Input;

/// What each valid source tells the sinks' readers (kind of log, directory
/// attributes), so that sinks never reach the source itself.
pub(super) fn of(sources: &[SourceConfig]) -> Vec<Input<'_>> {
    sources
        .iter()
        .map(|source| Input {
            name: &source.name,
            kind: source.kind,
            directory: source
                .directory
                .as_ref()
                .map(|directory| directory.attributes.as_slice()),
        })
        .collect()
}

/// Every input must name a source, and every source must feed at least one sink
/// (a source nobody takes would mark rows done without delivering them anywhere).
pub(super) fn check(sinks: &[SinkConfig], sources: &[String], problems: &mut Problems) {
    for sink in sinks {
        for (index, input) in sink.inputs.iter().enumerate() {
            if !sources.contains(input) {
                problems.add(
                    &format!("sinks.{}.inputs[{index}]", sink.name),
                    format!("{input:?} names no source (sources: {})", names(sources)),
                );
            }
        }
    }
    for source in sources {
        if !sinks.iter().any(|sink| sink.inputs.contains(source)) && !sinks.is_empty() {
            problems.add(
                &format!("sources.{source}"),
                "no sink takes this source in its inputs",
            );
        }
    }
}

fn names(sources: &[String]) -> String {
    if sources.is_empty() {
        "none".into()
    } else {
        sources.join(", ")
    }
}
