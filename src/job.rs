//! A job as okrflow runs it: the OKR tree of [`crate::model`] measured by the source kinds
//! registered in [`crate::sources::registry`]. Load job files here.

pub use crate::model::{JobError, Problem, Severity};
pub use crate::sources::registry::{
    Connection, KeyResult, KrSource, Link, Plan, Registry, load, parse,
};
