//! What a source kind is: one folder under `src/sources/` implementing [`SourceKind`] — its
//! job-file config, validation, extraction, preview and checks — and one line in
//! [`super::registry`].

use super::{ApiOptions, KeyResult, KrValue, Measured, SourceError};
use crate::engine::EngineError;
use crate::model::{Measure, Problem, Resolved};
use chrono::NaiveDate;
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::prelude::SessionContext;
use serde::de::DeserializeOwned;
use std::collections::BTreeMap;
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

/// What extraction gave: one value per key result, the rows a kind adds to scoring, and
/// what the kinds measured of their own work.
#[derive(Debug, Clone, Default)]
pub struct Extracted {
    pub values: Vec<KrValue>,
    /// Rows a kind contributes to the scoring SQL, by table name (check-ins: every row read,
    /// which gives every key result its health); its [`SourceKind::register_scoring_inputs`]
    /// registers them.
    pub inputs: BTreeMap<&'static str, Vec<RecordBatch>>,
    /// A kind's counters by metric name (one of its [`SourceKind::METRICS`]), recorded in
    /// `runs`: Athena's bytes scanned, for the queries run (not those answered from an archive).
    pub metrics: BTreeMap<&'static str, i64>,
}

impl Extracted {
    /// Adds another connection's extraction to this one: values and input rows appended,
    /// metrics summed.
    pub fn merge(&mut self, other: Extracted) {
        self.values.extend(other.values);
        for (table, batches) in other.inputs {
            self.inputs.entry(table).or_default().extend(batches);
        }
        for (name, value) in other.metrics {
            *self.metrics.entry(name).or_default() += value;
        }
    }
}

impl From<Vec<KrValue>> for Extracted {
    fn from(values: Vec<KrValue>) -> Self {
        Extracted {
            values,
            ..Extracted::default()
        }
    }
}

/// A counter a kind reports for a run: a column of `runs` (`sql/runs.sql` reads it from
/// `extraction_info`, where every registered metric has a column, 0 when nothing counted).
#[derive(Debug, Clone, Copy)]
pub struct Metric {
    /// The column name, e.g. `athena_bytes_scanned`.
    pub name: &'static str,
    /// What it counts, for logs and docs.
    pub about: &'static str,
}

/// Everything okrflow knows about one source kind. The methods take the connection's name
/// (for messages, logs and the raw archive) and the key results that read from it.
#[allow(async_fn_in_trait)] // called with concrete kinds only, from the registry
pub trait SourceKind {
    /// `kind = "…"` of its connections, and the key of `source = { … }`.
    const NAME: &'static str;
    /// The kind's SQL statements (files in `sql/`), in the order they are registered.
    const STATEMENTS: &'static [crate::engine::registry::Statement] = &[];
    /// The counters this kind reports in [`Extracted::metrics`].
    const METRICS: &'static [Metric] = &[];
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

    /// Links the connection to another it names (a Tallyfy connection's
    /// `engine = { athena = "lake" }`), once every connection of the job is resolved; `all`
    /// holds them as resolved. The default names none.
    fn bind(
        _connection: &mut Self::Connection,
        _all: &BTreeMap<String, super::Connection>,
    ) -> Result<(), String> {
        Ok(())
    }

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
    /// `krs` are the connection's key results (`kr` among them), for a kind whose requests
    /// serve several (Jira's search of one JQL): a preview sends the request a run would.
    async fn preview(
        name: &str,
        connection: &Self::Connection,
        kr: &KeyResult,
        link: &Self::Link,
        krs: &[&KeyResult],
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

    /// Registers the tables this kind adds to the scoring SQL, from the rows its connections
    /// put in [`Extracted::inputs`] (all of them, concatenated; none when the job has no
    /// connection of this kind, so the tables exist whatever the job). Called once per run
    /// date for every registered kind, with the whole plan.
    async fn register_scoring_inputs(
        _ctx: &SessionContext,
        _inputs: &BTreeMap<&'static str, Vec<RecordBatch>>,
        _plan: &super::Plan,
        _as_of: NaiveDate,
    ) -> Result<(), EngineError> {
        Ok(())
    }

    /// The run is being stopped while [`SourceKind::extract`] runs: stop what the kind
    /// started outside this process (an Athena query still running). Dropping the
    /// extraction's future already ends its requests; the default does nothing more.
    async fn cancel(_name: &str, _connection: &Self::Connection) {}

    /// Statements this kind adds to `athena ddl` for one connection (views over its data
    /// where the data lives); none by default.
    fn ddl(_name: &str, _connection: &Self::Connection) -> Vec<String> {
        Vec::new()
    }

    /// What `validate --online` warns of without it being an error (a Tallyfy folder on S3
    /// with no export): `(subject, warning)` pairs; none by default.
    async fn warn_online(
        _name: &str,
        _connection: &Self::Connection,
        _krs: &[&KeyResult],
    ) -> Vec<(String, String)> {
        Vec::new()
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
