//! One run, from a validated plan to committed output: extract a value per key result,
//! score everything with the registered SQL, write and commit the partitions. A stop
//! ([`crate::stop`]) is honoured until the commit begins: extraction is dropped and the
//! sources' cancel hooks stop what it started, staging is removed, the lock released; the
//! commit itself is never cut short.

use crate::engine::tables::{RunInfo, register_definitions, register_values};
use crate::engine::{self, EngineError, registry};
use crate::job::{KeyResult, Plan};
use crate::model::Location;
use crate::sink::commit::{Commit, TableOutput};
use crate::sink::lock::{LeaseTerms, RunLock};
use crate::sink::{self, SinkError};
use crate::sources::http::{Archive, replay_root};
use crate::sources::registry as kinds;
use crate::sources::{ApiOptions, Cause, Extracted};
use crate::stop::{Stop, Stopped};
use crate::storage::{self, Opened, StorageError};
use chrono::{NaiveDate, Utc};
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::arrow::record_batch::RecordBatch;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::path::PathBuf;

/// Why a run could not finish. A single key result's failure is not here: it is written
/// to its snapshot row instead.
#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    #[error(transparent)]
    Engine(#[from] EngineError),
    #[error(transparent)]
    Sink(#[from] SinkError),
    /// The output cannot be opened; the message is whole (no second `caused by` line).
    #[error("output {0}")]
    Output(StorageError),
    /// A signal stopped the run before its commit began: nothing of it was committed.
    #[error(transparent)]
    Stopped(#[from] Stopped),
}

impl From<StorageError> for PipelineError {
    fn from(e: StorageError) -> Self {
        PipelineError::Output(e)
    }
}

/// What a run is asked to do.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// The run date: the `as_of` partition, and the evaluation date of running periods.
    pub as_of: NaiveDate,
    /// Write here instead of the job's `[output]`.
    pub output: Option<Location>,
    /// Answer Looker and Jira requests from this raw archive instead of the network.
    pub replay: Option<PathBuf>,
    /// Stops the run when it fires ([`Stop::new`] for none).
    pub stop: Stop,
}

/// What a run did.
#[derive(Debug)]
pub struct RunReport {
    pub run_id: String,
    pub as_of: NaiveDate,
    pub output: Location,
    /// Key results whose extraction failed, with the error.
    pub failed: Vec<(String, String)>,
    /// Key results that cannot work as configured (their error's [`Cause`] is
    /// configuration): a subset of `failed`'s ids.
    pub misconfigured: Vec<String>,
    /// The output tables as written (partition columns included).
    pub tables: BTreeMap<String, Vec<RecordBatch>>,
    /// Partition folders switched in.
    pub partitions: Vec<PathBuf>,
}

/// The key results that read from connection `name`.
pub fn key_results_of<'a>(plan: &'a Plan, name: &str) -> Vec<&'a KeyResult> {
    plan.key_results
        .iter()
        .filter(|k| k.source.as_ref().is_some_and(|s| s.connection() == name))
        .collect()
}

/// Extracts every key result's raw value, and every check-in row; connections are read
/// concurrently.
pub async fn extract(
    plan: &Plan,
    as_of: NaiveDate,
    api: &ApiOptions,
) -> Result<Extracted, EngineError> {
    let api = &ApiOptions {
        as_of: Some(as_of),
        ..api.clone()
    };
    let per_connection = plan
        .connections
        .iter()
        .map(|(name, connection)| async move {
            let krs = key_results_of(plan, name);
            if krs.is_empty() && !connection.read_without_key_results() {
                return Ok(Extracted::default());
            }
            connection.extract(name, &krs, api).await
        });
    let mut all = Extracted::default();
    for e in futures::future::join_all(per_connection).await {
        all.merge(e?);
    }
    Ok(all)
}

/// `work` (an extraction of `plan`), unless `stop` fires first: then `work` is dropped and
/// every connection's cancel hook stops what it started outside this process (a running
/// Athena query), for up to 20 s in all.
pub async fn extracting<T>(
    plan: &Plan,
    stop: &Stop,
    work: impl Future<Output = T>,
) -> Result<T, Stopped> {
    let stopped = match stop.race(work).await {
        Ok(done) => return Ok(done),
        Err(stopped) => stopped,
    };
    let cancels = plan
        .connections
        .iter()
        .map(|(name, connection)| connection.cancel(name));
    let all = futures::future::join_all(cancels);
    if tokio::time::timeout(std::time::Duration::from_secs(20), all)
        .await
        .is_err()
    {
        tracing::warn!("the sources' cancel hooks did not finish within 20 s");
    }
    Err(stopped)
}

/// An output table: name, schema, rows.
pub type ScoredTable = (
    String,
    datafusion::arrow::datatypes::SchemaRef,
    Vec<RecordBatch>,
);

/// Scores the extracted values: registers the inputs and runs every scoring statement.
/// Returns the output tables in registry order.
pub async fn score(
    plan: &Plan,
    run: &RunInfo,
    extracted: &Extracted,
    output: Option<&Opened>,
) -> Result<Vec<ScoredTable>, PipelineError> {
    let ctx = engine::new_session();
    register_definitions(&ctx, plan, run)?;
    register_values(&ctx, &extracted.values)?;
    // One column per registered metric (0 when nothing counted it), for `runs`.
    let metrics = kinds::metrics()
        .map(|m| {
            let value = extracted.metrics.get(m.name).copied().unwrap_or(0);
            (m.name, engine::tables::Col::Int(vec![Some(value)]))
        })
        .collect();
    engine::tables::register(&ctx, "extraction_info", metrics)?;
    kinds::register_scoring_inputs(&ctx, extracted, plan, run.as_of).await?;
    let earlier = match output {
        Some(output) => sink::history_state::register(&ctx, output, run.as_of).await?,
        None => {
            sink::history::register_empty(&ctx)?;
            0
        }
    };
    tracing::debug!(rows = earlier, "earlier snapshots read");
    let mut outputs = Vec::new();
    for s in registry::SCORING {
        let started = std::time::Instant::now();
        match s.kind {
            // Each view is computed once, into memory (a row per key result or objective):
            // left as views, each output re-planned the whole chain beneath it, 0.5-1 s of
            // planning per output in the dev profile whatever the job's size (BENCHMARKS.md).
            registry::Kind::View => {
                engine::register_view(&ctx, s).await?;
                engine::materialise(&ctx, s, None).await?;
            }
            registry::Kind::Output => {
                let (schema, batches) = engine::collect(&ctx, s).await?;
                engine::register_batches(&ctx, s.name, batches.clone(), schema.clone())?;
                outputs.push((s.name.to_string(), schema, batches));
            }
        }
        tracing::debug!(
            statement = s.name,
            seconds = started.elapsed().as_secs_f64(),
            "scoring statement"
        );
    }
    if let Some((_, _, krs)) = outputs.iter().find(|(n, _, _)| n == "kr_snapshots") {
        warn_of_lost_values(krs);
    }
    Ok(outputs)
}

/// `(kr_id, error)` of every key result row with an error, in row order.
fn errors_of(krs: &[RecordBatch]) -> Vec<(String, String)> {
    use datafusion::arrow::array::{Array, AsArray};
    let mut out = Vec::new();
    for b in krs {
        let (Some(ids), Some(errors)) = (
            b.column_by_name("kr_id")
                .and_then(|c| c.as_string_opt::<i32>()),
            b.column_by_name("error")
                .and_then(|c| c.as_string_opt::<i32>()),
        ) else {
            continue;
        };
        for i in (0..b.num_rows()).filter(|&i| errors.is_valid(i)) {
            out.push((ids.value(i).to_string(), errors.value(i).to_string()));
        }
    }
    out
}

/// Logs a warning for every `no_data` key result that had a value on an earlier date: a
/// renamed epic or a changed filter looks exactly like that.
fn warn_of_lost_values(krs: &[RecordBatch]) {
    use datafusion::arrow::array::{Array, AsArray};
    use datafusion::arrow::datatypes::Date32Type;
    for b in krs {
        let (Some(ids), Some(on), Some(notes)) = (
            b.column_by_name("kr_id")
                .and_then(|c| c.as_string_opt::<i32>()),
            b.column_by_name("last_value_on")
                .and_then(|c| c.as_primitive_opt::<Date32Type>()),
            b.column_by_name("note")
                .and_then(|c| c.as_string_opt::<i32>()),
        ) else {
            continue;
        };
        for i in (0..b.num_rows()).filter(|&i| on.is_valid(i)) {
            let Some(last) = on.value_as_date(i) else {
                continue;
            };
            tracing::warn!(
                kr = ids.value(i),
                last_value_on = %last,
                note = notes.is_valid(i).then(|| notes.value(i)).unwrap_or(""),
                "key result had a value until {last} and has no data now: was its source renamed or its filter changed?"
            );
        }
    }
}

/// The output tables' schemas as a run writes them (partition column included), in commit
/// order: scored over no values and no history, so nothing is read or written.
pub async fn output_schemas(
    plan: &Plan,
) -> Result<Vec<(String, String, SchemaRef)>, PipelineError> {
    let now = Utc::now();
    let run = RunInfo {
        run_id: "schema".into(),
        as_of: now.date_naive(),
        started_at: now,
        computed_at: now,
        definition_hash: String::new(),
    };
    let outputs = score(plan, &run, &Extracted::default(), None).await?;
    Ok(sink::TABLES
        .iter()
        .filter_map(|(table, partition)| {
            let (_, schema, _) = outputs.iter().find(|(n, _, _)| n == table)?;
            Some((table.to_string(), partition.to_string(), schema.clone()))
        })
        .collect())
}

/// Runs a job once: extract, score, write, commit.
pub async fn run(plan: &Plan, options: &RunOptions) -> Result<RunReport, PipelineError> {
    let started_at = Utc::now();
    let run_id = new_run_id(options.as_of);
    let output = options
        .output
        .clone()
        .unwrap_or_else(|| plan.output.clone());
    tracing::info!(job = %plan.job_name, %run_id, as_of = %options.as_of, output = %output, "run started");

    let opened = storage::open(&output, true).await?;
    let lock = RunLock::acquire(&opened, &plan.job_name, &run_id, LeaseTerms::default()).await?;
    let result = run_locked(plan, options, run_id, started_at, output, &opened, &lock).await;
    lock.release().await;
    result
}

/// The part of a run done while holding the output's lock.
async fn run_locked(
    plan: &Plan,
    options: &RunOptions,
    run_id: String,
    started_at: chrono::DateTime<Utc>,
    output: Location,
    opened: &Opened,
    lock: &RunLock,
) -> Result<RunReport, PipelineError> {
    let api = ApiOptions {
        replay: options
            .replay
            .as_deref()
            .map(|d| replay_root(d, options.as_of)),
        archive: Some(Archive::of_output(opened, options.as_of)),
        as_of: Some(options.as_of),
        day_archive: None,
        state: Some(opened.clone()),
        slots: Default::default(),
    };
    let extracted = extracting(plan, &options.stop, extract(plan, options.as_of, &api)).await??;
    let run = RunInfo {
        run_id,
        as_of: options.as_of,
        started_at,
        computed_at: Utc::now(),
        definition_hash: definition_hash(plan),
    };
    write(plan, run, &extracted, output, opened, lock, &options.stop).await
}

/// SHA-256 of the job file's text, recorded with every snapshot.
pub fn definition_hash(plan: &Plan) -> String {
    sha256_hex(&plan.job_text)
}

/// A new run id for a run date: the date and a random suffix.
pub fn new_run_id(as_of: NaiveDate) -> String {
    format!(
        "{}-{}",
        as_of.format("%Y%m%d"),
        &uuid::Uuid::new_v4().simple().to_string()[..12]
    )
}

/// Scores extracted values and commits the run date's partitions, once `lock` is confirmed
/// still held: a run that lost its lease writes nothing. A stop before the commit begins drops
/// the staged files; once it has begun, it finishes.
pub async fn write(
    plan: &Plan,
    run: RunInfo,
    extracted: &Extracted,
    output: Location,
    opened: &Opened,
    lock: &RunLock,
    stop: &Stop,
) -> Result<RunReport, PipelineError> {
    let (outputs, failed, commit) = stop
        .race(stage(plan, &run, extracted, &output, opened))
        .await??;
    lock.confirm().await?;
    // Past this point a signal waits: a run half switched in is worse than a late exit.
    let partitions = commit.commit().await?;
    tracing::info!(run_id = %run.run_id, as_of = %run.as_of, partitions = partitions.len(), failed = failed.len(), "run committed");
    let misconfigured = extracted
        .values
        .iter()
        .filter(|v| matches!(&v.value, Err(e) if e.cause() == Cause::Configuration))
        .map(|v| v.kr_id.clone())
        .collect();
    Ok(RunReport {
        run_id: run.run_id,
        as_of: run.as_of,
        output,
        failed,
        misconfigured,
        tables: outputs.into_iter().map(|(n, _, b)| (n, b)).collect(),
        partitions,
    })
}

/// Key results that failed today, `(kr_id, error)`.
type Failed = Vec<(String, String)>;

/// Scores extracted values and stages every output partition, ready to commit.
async fn stage(
    plan: &Plan,
    run: &RunInfo,
    extracted: &Extracted,
    output: &Location,
    opened: &Opened,
) -> Result<(Vec<ScoredTable>, Failed, Commit), PipelineError> {
    let outputs = score(plan, run, extracted, Some(opened)).await?;
    // Failed today: an extraction error, or a bad check-in row (scoring adds those).
    let failed = outputs
        .iter()
        .find(|(n, _, _)| n == "kr_snapshots")
        .map(|(_, _, krs)| errors_of(krs))
        .unwrap_or_default();
    let mut commit = Commit::new(output, opened, &run.run_id);
    for (table, partition_column) in sink::TABLES {
        let (_, schema, batches) = outputs
            .iter()
            .find(|(n, _, _)| n == table)
            .expect("every output table is in the registry");
        let schema = schema.clone();
        sink::parquet::check_athena_types(table, &schema)?;
        let partitions = sink::parquet::split(table, partition_column, &schema, batches)?;
        let t = TableOutput {
            table: table.to_string(),
            partition_column: partition_column.to_string(),
            schema,
            partitions,
        };
        commit.stage(&t)?;
    }
    Ok((outputs, failed, commit))
}

/// SHA-256 of `text`, in lower-case hex, as the snapshots' definition hashes are written.
pub fn sha256_hex(text: &str) -> String {
    Sha256::digest(text.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}
