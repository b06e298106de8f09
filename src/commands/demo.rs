//! `pstn-agent demo`: the library's demo (simulated tenant plus agent) from the
//! command line.

use crate::demo::{DemoOptions, demo};
use crate::signals::Signals;
use std::process::ExitCode;

/// Runs the demo until stopped.
pub(crate) async fn run(options: DemoOptions, signals: Signals) -> ExitCode {
    match demo(options, signals.shutdown).await {
        Ok(code) => ExitCode::from(code as u8),
        Err(error) => {
            eprintln!("{error}");
            ExitCode::FAILURE
        }
    }
}
