//! A job as okrflow runs it: the OKR tree of [`crate::model`] measured by the source kinds
//! registered in [`crate::sources::registry`]. Load job files here.

pub use crate::model::{JobError, Problem, Severity};
pub use crate::sources::registry::{Connection, KeyResult, KrSource, Link, Plan, Registry, parse};

/// Reads and validates a job file ([`crate::sources::registry::load`]), and sets the
/// process's DataFusion bounds from its `[job]` ([`crate::engine::limits`]): everything the
/// job then runs draws on them.
pub fn load(path: &std::path::Path) -> Result<Plan, JobError> {
    let plan = crate::sources::registry::load(path)?;
    crate::engine::limits::set(plan.bounds);
    Ok(plan)
}
