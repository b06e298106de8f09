//! The smallest valid configuration, and a parse that returns its problems: what the
//! tests of one key at a time start from.

use super::{Config, Environment};
use std::path::Path;

/// One PSTN source and one console sink.
pub(super) const MINIMAL: &str = r#"
data_dir = "/tmp/pstn"
[sources.contoso_pstn]
type = "pstn_calls"
tenant_id = "00000000-0000-0000-0000-000000000000"
client_id = "11111111-1111-1111-1111-111111111111"
client_secret = "s"
[sinks.stdout]
type = "console"
inputs = ["contoso_pstn"]
"#;

/// `text` parsed with no environment variables: the config, or its problem lines.
pub(super) fn parse(text: &str) -> Result<Config, Vec<String>> {
    Config::parse(text, Path::new("/etc"), &Environment::fixed([]))
        .map_err(|problems| problems.lines())
}
