//! How one holding of a unit's lease ends: the source built afresh and read under the
//! fence, and what `--once` says of it.

use super::Shared;
use crate::lease::{Fence, LossCause, Unit};
use crate::shutdown::Shutdown;
use crate::sinks::SinkHandle;
use crate::source::{PollSummary, SourceConfig};

/// How one holding of the lease ended.
pub(super) enum Holding {
    /// The source ended as its mode asks (one poll done, or shutdown).
    Ended(PollSummary),
    /// The lease went (lost, given back, taken over), as the keeper says.
    Lost,
    /// The keeper wanted the unit back (an even share): the batch in flight was
    /// delivered and committed, then the source stopped.
    Drained,
    /// A write was refused by the fence: the lease moved on or ran out (a fence that
    /// PostgreSQL could not check is a failed poll like any other, `FenceUnchecked`).
    Refused,
    /// The source could not be built (state unreachable, or for good: a credential,
    /// state recorded as another kind).
    NotBuilt {
        /// Why, for the log.
        error: String,
        /// Whether trying again here cannot help (`BuildError::is_permanent`).
        permanent: bool,
    },
    /// The source stopped on an error (a permanent one, or `--once`'s poll failed).
    Failed(String),
}

/// What `--once` ends with after one holding: the summary, or why the unit was not
/// read to the end here.
pub(super) fn once_outcome(
    holding: Holding,
    unit: &Unit,
    cause: Option<LossCause>,
) -> Result<PollSummary, String> {
    match holding {
        Holding::Ended(summary) => Ok(summary),
        Holding::Failed(error) | Holding::NotBuilt { error, .. } => Err(error),
        Holding::Refused => Err(format!(
            "the lease on {unit} moved on to another replica during the read: nothing more of it was committed here"
        )),
        Holding::Lost => Err(format!(
            "the lease on {unit} was lost during the read ({}): nothing more of it was committed here",
            cause.map_or_else(
                || "the keeper stopped".to_owned(),
                |cause| cause.to_string()
            )
        )),
        Holding::Drained => Err(format!(
            "the lease on {unit} was given back during the read to even out the share with a replica that joined: the batch in flight was committed, the rest is read there"
        )),
    }
}

/// Builds the source afresh (its cursors as committed, by whichever replica) and runs
/// it under `fence`, stopping between batches when `stop` fires.
pub(super) async fn read_under(
    config: &SourceConfig,
    sinks: &[SinkHandle],
    shared: &Shared,
    fence: &Fence,
    stop: Shutdown,
) -> Holding {
    let cx = shared.context(Some(fence.clone()), stop);
    let source = match crate::source::build(config, sinks.to_vec(), &cx).await {
        Ok(source) => source,
        Err(error) => {
            return Holding::NotBuilt {
                permanent: error.is_permanent(),
                error: error.to_string(),
            };
        }
    };
    match source.run().await {
        Ok(summary) => Holding::Ended(summary),
        Err(error) if error.is_fenced() => Holding::Refused,
        Err(error) => Holding::Failed(error.to_string()),
    }
}
