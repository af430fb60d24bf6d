//! okrflow: a nightly batch job that turns Tallyfy, Looker and Jira numbers into scored OKR
//! snapshots with DataFusion, and writes them as Athena-ready Parquet.
//!
//! The layers, in the order a run goes through them:
//! - [`model`]: the OKR tree and the job file, validated into a plan without I/O;
//! - [`sources`]: extract one raw value per key result, one folder per source kind;
//! - [`job`]: the model measured by the registered sources: [`job::load`], [`job::Plan`];
//! - [`engine`]: the DataFusion session and the SQL registry that holds every business rule;
//! - [`sink`]: Parquet output, partitioned and committed atomically;
//! - [`pipeline`]: one run from plan to committed output.

pub mod athena_client;
pub mod backfill;
pub mod cli;
pub mod engine;
pub mod error;
pub mod fuzzing;
pub mod inspect;
pub mod job;
pub mod model;
pub mod pipeline;
pub mod report;
pub mod secret;
pub mod sink;
pub mod sources;
pub mod storage;
pub mod summary;

pub use error::Outcome;

/// The demo's sample Tallyfy exports generator, under the name the CLI calls it by.
// TEMP until the generator moves: another branch moves it to its own `demo_data` module.
pub mod demo_data {
    pub use crate::sources::tallyfy::generate::*;
}
