//! What Unix signals mean to the agent: SIGTERM and SIGINT stop it (within the
//! library's deadline), SIGHUP reopens file sinks for logrotate and re-reads each
//! source's `tenants_file`.

use crate::shutdown::{STOP_DEADLINE, Shutdown, ShutdownTrigger, shutdown_pair, stop_within};
use crate::sinks::ReopenSignal;
use tokio::signal::unix::{SignalKind, signal};

/// What a command watches: the stop request and the reopen request.
#[derive(Debug, Clone)]
pub(crate) struct Signals {
    /// Fires on SIGTERM or SIGINT.
    pub shutdown: Shutdown,
    /// Fires on SIGHUP.
    pub reopen: ReopenSignal,
}

/// Installs the handlers in the current runtime and returns what they fire.
pub(crate) fn watch() -> Signals {
    let (trigger, shutdown) = shutdown_pair();
    let reopen = ReopenSignal::default();
    tokio::spawn(watch_until_stop(trigger, reopen.clone()));
    Signals { shutdown, reopen }
}

async fn watch_until_stop(trigger: ShutdownTrigger, reopen: ReopenSignal) {
    let (Ok(mut term), Ok(mut int), Ok(mut hup)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
        signal(SignalKind::hangup()),
    ) else {
        tracing::error!("cannot install signal handlers");
        return;
    };
    loop {
        tokio::select! {
            _ = term.recv() => break,
            _ = int.recv() => break,
            _ = hup.recv() => { tracing::info!("SIGHUP: reopening file sinks, re-reading tenants_file"); reopen.trigger(); }
        }
    }
    tracing::info!("stopping");
    stop_within(&trigger, STOP_DEADLINE).await;
}
