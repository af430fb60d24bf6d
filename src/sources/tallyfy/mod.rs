//! Tallyfy Analytics exports: per-process Parquet snapshots, every column stored as a string.
//!
//! - `config`: the connection and key-result settings, and `columns` the exports' columns;
//! - `kind`: Tallyfy as a [`crate::sources::SourceKind`], with its SQL statements;
//! - [`loader`]: lists the export files and registers them, with their file name and time,
//!   as the raw table the SQL in `sql/tallyfy_*.sql` deduplicates and types;
//! - `extract`: a connection's key results measured, one session for all of them;
//! - `views`: the views of one evaluation date over the registered exports;
//! - [`query`]: checks and runs a key result's SQL with bound parameters;
//! - [`state`]: what the export files told earlier runs, kept under the output, and
//!   `manifest` the record of it the state's `manifest.json` holds;
//! - `snapshots`: the layers that read the exports, with that state, and `latest` the
//!   typed rows of the chosen snapshots, in segments (`rows` reads and writes them);
//! - `check`: plans every key result's SQL against the views over no exports;
//! - `preview`: the rows a key result's query aggregated, for `preview`;
//! - [`athena`]: the external tables and views `athena ddl` adds for exports on S3;
//! - [`in_athena`]: key results computed in Athena (`engine = { athena = "…" }`), their SQL
//!   sent with the snapshot rule inlined, and [`trino`] what that SQL may call.

pub mod athena;
mod check;
mod columns;
mod config;
mod extract;
pub mod in_athena;
mod kind;
mod latest;
pub mod loader;
mod manifest;
mod preview;
pub mod query;
mod rows;
mod snapshots;
pub mod state;
pub mod trino;
mod views;

pub use columns::{MEMBER_COLUMNS, PROCESS_COLUMNS};
pub use config::{Engine, EngineConfig, Exports, TallyfyConnection, TallyfySource};
pub use extract::extract_showing;
pub use kind::Tallyfy;
pub use snapshots::Built;
pub use views::{register_views, register_views_once};
