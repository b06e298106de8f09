//! Microsoft's published limits for the PSTN call-log functions ("PSTN call records
//! limits" on Graph's throttling page): what the agent paces itself to, what the
//! planner budgets for and what the simulator enforces.

/// Requests per 60 s per collection: one function of one tenant.
pub const COLLECTION_PER_MINUTE: u32 = 50;
/// Requests per 60 s per application in one tenant, over all its collections.
pub const APPLICATION_PER_MINUTE: u32 = 200;
/// Requests per 60 s per tenant, over all applications.
pub const TENANT_PER_MINUTE: u32 = 1000;
