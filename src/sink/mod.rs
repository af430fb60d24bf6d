//! Output: Athena-safe Parquet under Hive partitions, committed so that a reader never sees
//! half a run.
//!
//! - [`parquet`]: splits a table into partitions and writes each as one Snappy file;
//! - [`commit`]: stages a run's files and switches each partition over at once;
//! - [`history`]: reads earlier `kr_snapshots` back for stale values, and [`history_state`]
//!   keeps what of them a later run needs, so that it does not read every day's;
//! - [`lock`]: one run at a time per output;
//! - [`athena`] and [`lookml`]: what makes the tables queryable from Athena and Looker.

pub mod athena;
pub mod commit;
pub mod history;
pub mod history_state;
pub mod lock;
pub mod lookml;
pub mod parquet;

use std::path::PathBuf;

/// The output tables, their partition column, in commit order (`runs` last: a run is only
/// listed once its results are in place, and readers take only rows of runs listed there).
/// Every table is partitioned by the run date, so Athena's date projection covers any
/// period with no new DDL (older outputs have `quarter_scores/period=…`: docs/outputs.md).
pub const TABLES: [(&str, &str); 4] = [
    ("kr_snapshots", "as_of"),
    ("objective_snapshots", "as_of"),
    ("quarter_scores", "as_of"),
    ("runs", "as_of"),
];

/// Why output could not be written or read.
#[derive(Debug, thiserror::Error)]
pub enum SinkError {
    #[error(
        "table {table}: column `{column}` has type {data_type}, which Athena cannot read from Parquet{hint}"
    )]
    UnsafeType {
        table: String,
        column: String,
        data_type: String,
        hint: &'static str,
    },
    #[error("table {table}: partition column `{column}` is missing or not text")]
    Partition { table: String, column: String },
    #[error("cannot write {}: {message}", path.display())]
    Write { path: PathBuf, message: String },
    #[error("cannot commit {}: {message}", path.display())]
    Commit { path: PathBuf, message: String },
    #[error("cannot read earlier results under {}: {message}", path.display())]
    History { path: PathBuf, message: String },
    #[error("run lock {}: {message}", path.display())]
    Lock { path: PathBuf, message: String },
    #[error(
        "the output is being written by run {} of job {} (pid {} on {}) since {}; its lock {} is renewed while it runs and expires at {} otherwise. If that run died, its lease runs out by then",
        holder.run_id, holder.job, holder.pid, holder.host, holder.started_at, path.display(), holder.expires_at
    )]
    Locked {
        path: PathBuf,
        holder: Box<lock::LockInfo>,
    },
}
