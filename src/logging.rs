//! The agent's own diagnostics: to stderr only (stdout carries events), as text or
//! JSON, with chatty dependencies held at warn.

use crate::cli::LogFormat;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

/// Colour only for a person at a terminal: not in a file or a pipe, and never when
/// `NO_COLOR` is set (https://no-color.org).
fn colour() -> bool {
    use std::io::IsTerminal;
    std::io::stderr().is_terminal()
        && std::env::var_os("NO_COLOR").is_none_or(|value| value.is_empty())
}

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
        .with_target("opentelemetry_sdk", tracing::Level::WARN);
    let registry = tracing_subscriber::registry().with(filter);
    let _ = match format {
        LogFormat::Text => registry
            .with(
                tracing_subscriber::fmt::layer()
                    .with_ansi(colour())
                    .with_writer(std::io::stderr),
            )
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
