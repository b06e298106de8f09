//! The sinks of a configuration, each opened, wrapped in its redaction and given its
//! own task.

use super::StartError;
use crate::config::{Config, SinkKind};
use crate::metrics::Metrics;
use crate::sinks::{
    AzureLogsSink, ConsoleSink, DeadLetters, FileSink, OtlpSink, RedactingSink, ReopenSignal, Sink,
    SinkError, SinkHandle, SinkTaskOptions,
};
use std::collections::HashMap;

/// The sink `name` could not be opened, and why.
fn opening(name: &str, source: SinkError) -> StartError {
    StartError::Sink {
        sink: name.to_owned(),
        source: Box::new(source),
    }
}

/// Each sink's handle by name, and the tasks to await at the end.
pub(super) type BuiltSinks = (
    HashMap<String, SinkHandle>,
    Vec<tokio::task::JoinHandle<()>>,
);

/// Opens every sink of `config` and spawns its task.
pub(super) fn build_sinks(
    config: &Config,
    reopen: &ReopenSignal,
    metrics: &Metrics,
    http: &reqwest::Client,
) -> Result<BuiltSinks, StartError> {
    let mut handles = HashMap::new();
    let mut tasks = Vec::new();
    for sink in &config.sinks {
        // One set of handles per sink: the task reports batches, OTLP also rejections.
        let telemetry = metrics.sink(&sink.name);
        let built: Box<dyn Sink> = match &sink.kind {
            SinkKind::Console => Box::new(ConsoleSink::new(&sink.name)),
            SinkKind::File { path } => Box::new(
                FileSink::new(&sink.name, path.clone(), reopen.clone())
                    .map_err(|source| opening(&sink.name, source))?,
            ),
            SinkKind::Otlp(otlp) => {
                let mut tenants: Vec<String> = config
                    .sources
                    .iter()
                    .filter(|source| sink.inputs.contains(&source.name))
                    .flat_map(|source| source.tenants.iter().cloned())
                    .collect();
                tenants.sort();
                tenants.dedup();
                Box::new(
                    OtlpSink::new(&sink.name, otlp, &tenants, telemetry.clone())
                        .map_err(|source| opening(&sink.name, source))?,
                )
            }
            SinkKind::AzureLogsIngestion(azure) => Box::new(
                AzureLogsSink::new(&sink.name, azure, http.clone())
                    .map_err(|source| opening(&sink.name, source))?,
            ),
        };
        let built: Box<dyn Sink> = match &sink.redact {
            Some(redact) => Box::new(RedactingSink::new(&sink.name, built, redact)),
            None => built,
        };
        let options = SinkTaskOptions {
            telemetry,
            dead_letters: DeadLetters::new(
                &config.data_dir,
                &sink.name,
                metrics.dead_letters(&sink.name),
            ),
            retry_max_duration: sink.retry_max_duration,
        };
        let (handle, task) = SinkHandle::spawn(&sink.name, built, options);
        handles.insert(sink.name.clone(), handle);
        tasks.push(task);
    }
    Ok((handles, tasks))
}
