//! The agent's own diagnostics: to stderr only (stdout carries events), as text or
//! JSON, with chatty dependencies held at warn.

use crate::cli::LogFormat;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

/// Installs the global subscriber; a second call keeps the first.
pub(crate) fn init(format: LogFormat, level: tracing::Level) {
    let filter = tracing_subscriber::filter::Targets::new()
        .with_default(level)
        .with_target("hyper", tracing::Level::WARN)
        .with_target("reqwest", tracing::Level::WARN)
        .with_target("rustls", tracing::Level::WARN)
        .with_target("h2", tracing::Level::WARN)
        .with_target("tonic", tracing::Level::WARN)
        .with_target("tower", tracing::Level::WARN)
        .with_target("opentelemetry", tracing::Level::WARN)
        .with_target("opentelemetry_sdk", tracing::Level::WARN)
        .with_target("opentelemetry_otlp", tracing::Level::WARN);
    let registry = tracing_subscriber::registry().with(filter);
    let _ = match format {
        LogFormat::Text => registry
            .with(tracing_subscriber::fmt::layer().with_writer(std::io::stderr))
            .try_init(),
        LogFormat::Json => registry
            .with(
                tracing_subscriber::fmt::layer()
                    .json()
                    .with_writer(std::io::stderr),
            )
            .try_init(),
    };
}
