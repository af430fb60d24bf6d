//! okrflow: a nightly batch job that turns Tallyfy, Looker, Jira, Athena and check-in
//! numbers into scored OKR snapshots with DataFusion, and writes them as Athena-ready Parquet.
//!
//! The layers, lowest first; a module imports only its own layer and those below it
//! (`tests/layout.rs` checks it, and that no import circle exists; `docs/architecture.md`):
//! 1. [`model`] (OKR tree, job file -> plan), [`error`] and [`stop`] (how a run ends); leaves:
//!    storage, net, parquet_io, athena_client;
//! 2. [`engine`] (DataFusion, SQL registry) < [`sources`] (a folder per kind) < [`sink`] (output);
//! 3. [`pipeline`] and [`summary`] < [`backfill`], [`inspect`], [`report`], [`notify`] < [`cli`].

pub mod athena_client;
pub mod backfill;
pub mod cli;
pub mod demo_data;
pub mod engine;
pub mod error;
pub mod fuzzing;
pub mod inspect;
pub mod job;
pub mod model;
pub mod net;
pub mod notify;
pub mod parquet_io;
pub mod pipeline;
pub mod report;
pub mod secret;
pub mod sink;
pub mod sources;
pub mod stop;
pub mod storage;
pub mod summary;

pub use error::Outcome;
