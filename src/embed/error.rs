//! Why an embedded source could not start, or why it stopped: each error keeps its
//! cause (`std::error::Error::source`), and says what it said before.

use crate::config::ConfigError;
use crate::http_client::ClientError;
use crate::metrics::MetricsError;
use crate::source::{BuildError, SourceError};
use crate::state::StateError;

/// Why an embedded source could not start, or why it stopped.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EmbedError {
    /// The configuration is not valid: one problem per line, each naming its key.
    #[error(transparent)]
    Config(#[from] ConfigTextError),
    /// The configuration names no source by that name.
    #[error("the configuration has no source named {0:?}")]
    UnknownSource(String),
    /// The source reads several tenants (`tenants`, `tenants_file`); an embedded
    /// source reads one: give it `tenant_id`, or embed one source per tenant.
    #[error(
        "source {0:?} reads several tenants (tenants, tenants_file); an embedded source reads one: give it tenant_id"
    )]
    SeveralTenants(String),
    /// Something the source needs could not be set up (state, HTTP client, credentials).
    #[error("cannot start the source: {0}")]
    Setup(#[from] SetupError),
    /// The source stopped: a poll failed (with
    /// [`EmbeddedSourceBuilder::once`](super::EmbeddedSourceBuilder::once)), or a
    /// permanent error such as wrong credentials.
    #[error(transparent)]
    Source(#[from] SourceError),
    /// The source's task ended abnormally.
    #[error("the source's task ended abnormally: {0}")]
    Internal(#[source] tokio::task::JoinError),
}

impl EmbedError {
    /// The source could not be built: loading its progress failed as a source does
    /// ([`EmbedError::Source`]); anything else is set-up.
    pub(super) fn from_build(error: BuildError) -> EmbedError {
        match error {
            BuildError::Load(error) => EmbedError::Source(error),
            other => EmbedError::Setup(SetupError::Source(other)),
        }
    }
}

/// Configuration text that does not give a valid source.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigTextError {
    /// The text is not TOML.
    #[error("{}", .0.message())]
    Toml(#[source] toml::de::Error),
    /// The file's problems, one line each, naming its key.
    #[error(transparent)]
    Invalid(ConfigError),
}

/// What the source needs that could not be set up.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SetupError {
    /// Its metrics could not be registered.
    #[error(transparent)]
    Metrics(MetricsError),
    /// The HTTP client could not be built.
    #[error(transparent)]
    Client(ClientError),
    /// The state under `data_dir` could not be opened.
    #[error(transparent)]
    State(StateError),
    /// The source itself (its own client, credential, state).
    #[error(transparent)]
    Source(BuildError),
}
