//! The kit every component reads its part of the configuration file with: a table
//! read field by field ([`Fields`]), every problem kept with its key ([`Problems`]),
//! `${VAR}` from the environment, durations like `5m`, "did you mean", and the Entra
//! application a source or a sink signs in as.
//!
//! `config` (the file, its `[sources.x]` and `[sinks.y]`, the checks across them)
//! calls the readers that live beside each component (`source::config`,
//! `sinks::config`, ...); they all read with this kit, which reaches none of them.

mod application;
mod base_url;
mod duration;
mod fields;
mod interpolate;
mod problems;
mod suggest;

pub use application::{Credential, DEFAULT_AUTHORITY_URL, check_tenant, is_guid, read_credential};
pub use base_url::read_url;
pub use duration::format_duration;
#[cfg(any(test, feature = "__internals", feature = "simulator"))]
pub use duration::parse_duration;
pub use fields::Fields;
#[cfg(test)]
pub use fields::read_table;
pub use interpolate::{Environment, bare_reference};
#[cfg(any(test, feature = "__internals"))]
pub use interpolate::{InterpolationError, interpolate};
pub use problems::{Problem, Problems};
pub use suggest::did_you_mean;

use std::path::{Path, PathBuf};

/// A path of the file, taken from `base` (the file's directory) when relative.
pub fn resolve(base: &Path, path: &str) -> PathBuf {
    let path = Path::new(path);
    if path.is_absolute() {
        path.to_owned()
    } else {
        base.join(path)
    }
}
