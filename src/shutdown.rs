//! The one signal every task watches to stop between batches.

use tokio::sync::watch;

/// Fires the shutdown (SIGTERM, SIGINT, or a test).
#[derive(Debug, Clone)]
pub struct ShutdownTrigger(watch::Sender<bool>);

/// Tells a task that it should stop at the next safe point.
#[derive(Debug, Clone)]
pub struct Shutdown(watch::Receiver<bool>);

/// A connected trigger and watcher.
pub fn shutdown_pair() -> (ShutdownTrigger, Shutdown) {
    let (sender, receiver) = watch::channel(false);
    (ShutdownTrigger(sender), Shutdown(receiver))
}

impl ShutdownTrigger {
    /// Asks every task to stop.
    pub fn trigger(&self) {
        self.0.send_replace(true);
    }
}

impl Shutdown {
    /// Whether shutdown was asked for.
    pub fn is_triggered(&self) -> bool {
        *self.0.borrow()
    }

    /// Resolves once shutdown is asked for (or the trigger is gone).
    pub async fn triggered(&mut self) {
        let _ = self.0.wait_for(|stop| *stop).await;
    }
}

/// How long the process may keep running after a stop signal: the contract promises an
/// exit within 10 s of SIGTERM, and this leaves a second for the runtime to wind down.
pub const STOP_DEADLINE: std::time::Duration = std::time::Duration::from_secs(9);

/// Asks every task to stop, then ends the process once `deadline` has passed if it is
/// still running: a stuck sink or request must not hold a SIGTERM past the contract's
/// 10 s. Whatever was acknowledged is already in state, so exiting 0 loses nothing.
pub async fn stop_within(trigger: &ShutdownTrigger, deadline: std::time::Duration) {
    trigger.trigger();
    tokio::time::sleep(deadline).await;
    tracing::warn!("shutdown took too long; exiting (state holds everything acknowledged)");
    std::process::exit(0);
}
