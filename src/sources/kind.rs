//! What a source kind is: one folder under `src/sources/` implementing [`SourceKind`] — its
//! job-file config, validation, extraction, preview and checks — and one line in
//! [`super::registry`].

use super::{ApiOptions, KeyResult, KrValue, Measured, SourceError};
use crate::engine::EngineError;
use crate::model::{Measure, Problem, Resolved};
use chrono::NaiveDate;
use serde::de::DeserializeOwned;
use std::fmt::Debug;
use std::path::Path;

/// What `preview` shows of one key result.
#[derive(Debug)]
pub struct Preview {
    pub kr_id: String,
    /// The source, as a reader would name it (`looker_prod: dashboard `Sales` tile `Demos``).
    pub source: String,
    /// The value, "nothing to measure yet" (with why), or why the source could not answer.
    pub value: Result<Measured, SourceError>,
    /// The rows the value came from, as a table, for sources that have them.
    pub rows: Option<String>,
}

/// What extraction gave: one value per key result, the check-in rows read (every key
/// result's health comes from them, whatever its source), and what Athena scanned.
#[derive(Debug, Clone, Default)]
pub struct Extracted {
    pub values: Vec<KrValue>,
    pub checkins: Vec<super::checkins::read::CheckinRow>,
    /// Bytes Athena scanned for the queries run (not those answered from an archive).
    pub athena_bytes_scanned: i64,
}

impl From<Vec<KrValue>> for Extracted {
    fn from(values: Vec<KrValue>) -> Self {
        Extracted {
            values,
            ..Extracted::default()
        }
    }
}

/// Everything okrflow knows about one source kind. The methods take the connection's name
/// (for messages, logs and the raw archive) and the key results that read from it.
#[allow(async_fn_in_trait)] // called with concrete kinds only, from the registry
pub trait SourceKind {
    /// `kind = "…"` of its connections, and the key of `source = { … }`.
    const NAME: &'static str;
    /// The kind's SQL statements (files in `sql/`), in the order they are registered.
    const STATEMENTS: &'static [crate::engine::registry::Statement] = &[];
    /// Extract even when no key result reads from the connection (check-ins give every key
    /// result its health).
    const READ_WITHOUT_KEY_RESULTS: bool = false;
    /// `[connections.NAME]` as written.
    type ConnectionConfig: DeserializeOwned + Debug + Clone + PartialEq;
    /// `source = { KIND = {...} }` as written.
    type SourceConfig: DeserializeOwned + Debug + Clone + PartialEq;
    /// A validated connection.
    type Connection: Debug + Clone + PartialEq + Send + Sync;
    /// A validated `source` of one key result.
    type Link: Debug + Clone + PartialEq + Send + Sync;

    /// Validates a connection (no I/O); `base_dir` is the job file's folder.
    fn connection(
        config: &Self::ConnectionConfig,
        base_dir: &Path,
    ) -> Result<Resolved<Self::Connection>, Vec<String>>;

    /// The `connection = "…"` a key result's source names.
    fn source_connection(config: &Self::SourceConfig) -> Option<&str>;

    /// Validates a key result's source for its measure (no I/O).
    fn link(config: &Self::SourceConfig, measure: &Measure) -> Result<Self::Link, Vec<String>>;

    /// True when the connection answers from a replay archive rather than the network (its
    /// own `replay`, or `replay_given` on the command line for the kinds that archive).
    fn replayed(_connection: &Self::Connection, _replay_given: bool) -> bool {
        false
    }

    /// One value per key result of `krs` (all of this connection), as of `api.as_of()`.
    async fn extract(
        name: &str,
        connection: &Self::Connection,
        krs: &[&KeyResult],
        api: &ApiOptions,
    ) -> Result<Extracted, EngineError>;

    /// The value `kr` would get, and the rows it came from; nothing is archived or written.
    async fn preview(
        name: &str,
        connection: &Self::Connection,
        kr: &KeyResult,
        link: &Self::Link,
        api: &ApiOptions,
    ) -> Result<Preview, EngineError>;

    /// The job's problems found without the network (`validate`): `plan` names the job file
    /// and every key result; `krs` are this connection's.
    async fn check_offline(
        _name: &str,
        _connection: &Self::Connection,
        _plan: &super::Plan,
        _krs: &[&KeyResult],
        _as_of: NaiveDate,
    ) -> Result<Vec<Problem>, EngineError> {
        Ok(Vec::new())
    }

    /// Reaches the connection and checks every key result's source (`validate --online`):
    /// `(subject, problem)` pairs, empty when everything resolves.
    async fn check_online(
        name: &str,
        connection: &Self::Connection,
        krs: &[&KeyResult],
        api: &ApiOptions,
    ) -> Vec<(String, String)>;
}

/// Warnings for the environment variables a live connection reads that are not set.
pub fn unset_variables(vars: &[&str]) -> Vec<String> {
    vars.iter()
        .filter(|v| std::env::var_os(v).is_none())
        .map(|var| {
            format!(
                "environment variable {var} is not set: this connection's key results will fail"
            )
        })
        .collect()
}

/// A registered table's rows for one key result, as text, for a preview; `None` when it
/// cannot be read or has no row for it (a failed fetch).
pub async fn rows_of(
    ctx: &datafusion::prelude::SessionContext,
    table: &str,
    kr_id: &str,
    columns: &[&str],
) -> Option<String> {
    use datafusion::prelude::{col, lit};
    let df = ctx
        .table(table)
        .await
        .ok()?
        .filter(col("kr_id").eq(lit(kr_id)))
        .ok()?
        .select_columns(columns)
        .ok()?;
    shown(df).await
}

/// A data frame's rows as a table; `None` when it fails or has none.
pub async fn shown(df: datafusion::prelude::DataFrame) -> Option<String> {
    let batches = df.collect().await.ok()?;
    if batches.iter().all(|b| b.num_rows() == 0) {
        return None;
    }
    datafusion::arrow::util::pretty::pretty_format_batches(&batches)
        .ok()
        .map(|t| t.to_string())
}
