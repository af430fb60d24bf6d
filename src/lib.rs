//! okrflow: a nightly batch job that turns Tallyfy, Looker, Jira, Athena and check-in
//! numbers into scored OKR snapshots with DataFusion, and writes them as Athena-ready Parquet.
//!
//! The layers, lowest first; a module imports only its own layer and those below it
//! (`tests/layout.rs` checks it, with no import circle):
//! 1. [`model`] (the OKR tree, job file -> plan, no I/O) and the leaves: storage, net, parquet_io;
//! 2. [`engine`] (DataFusion, the SQL registry), then [`sources`] (one folder per kind, one
//!    registry line each), then [`sink`] (Parquet, commit, history, Athena DDL, LookML);
//! 3. [`pipeline`], [`backfill`], [`report`], [`summary`], [`inspect`], then [`cli`].

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
pub mod parquet_io;
pub mod pipeline;
pub mod report;
pub mod secret;
pub mod sink;
pub mod sources;
pub mod storage;
pub mod summary;

pub use error::Outcome;
