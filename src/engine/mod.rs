//! The DataFusion session and the SQL registry: every business rule is a statement in
//! `sql/`, run here over tables the pipeline registers.

pub mod functions;
pub mod limits;
pub mod registry;
pub mod tables;

use chrono::{NaiveDate, NaiveDateTime, NaiveTime};
use datafusion::arrow::datatypes::{Schema, SchemaRef};
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::execution::context::SQLOptions;
use datafusion::prelude::{DataFrame, SessionConfig, SessionContext};
use datafusion::scalar::ScalarValue;
use registry::{Kind, Statement};
use std::sync::Arc;

/// Why a registered statement failed. These are okrflow's own SQL, so a failure here is a
/// bug or a broken input table, never one key result's problem.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error("sql/{statement}.sql failed: {message}")]
    Statement {
        statement: &'static str,
        message: String,
    },
    #[error("cannot register table {table}: {message}")]
    Register { table: String, message: String },
    #[error("query `{sql}` failed: {message}")]
    Query { sql: String, message: String },
}

/// Days since 1970-01-01: Arrow's `Date32`.
pub fn date32(day: NaiveDate) -> i32 {
    (day - NaiveDate::from_ymd_opt(1970, 1, 1).expect("valid date")).num_days() as i32
}

/// The day an Arrow `Date32` (days since 1970-01-01) stands for.
pub fn from_date32(days: i32) -> NaiveDate {
    NaiveDate::from_ymd_opt(1970, 1, 1).expect("valid date") + chrono::TimeDelta::days(days.into())
}

/// Midnight UTC at the start of `day`, as the zone-less nanosecond timestamps the Tallyfy
/// views compare with.
pub fn midnight(day: NaiveDate) -> ScalarValue {
    let nanos = NaiveDateTime::new(day, NaiveTime::MIN)
        .and_utc()
        .timestamp_nanos_opt();
    ScalarValue::TimestampNanosecond(nanos, None)
}

/// A session configured the way okrflow needs it: UTC, strings read as plain `Utf8`,
/// identifiers kept as written, joins in the order the SQL writes them, and the process's
/// memory budget ([`limits`]).
pub fn new_session() -> SessionContext {
    let mut config = SessionConfig::new()
        .with_information_schema(true)
        .with_target_partitions(std::thread::available_parallelism().map_or(2, |n| n.get()));
    let options = config.options_mut();
    options.execution.time_zone = Some("UTC".into());
    options.execution.parquet.schema_force_view_types = false;
    options.sql_parser.map_string_types_to_utf8view = false;
    options.execution.parquet.pushdown_filters = true;
    // Joins build on the side the SQL puts first. The statistics-based swap would build on
    // the export rows in tallyfy_latest (their row count is known, the chosen snapshots'
    // is not): every row held in memory instead of streamed (BENCHMARKS.md).
    options.optimizer.join_reordering = false;
    // A join whose first side is a computed table of up to a few million rows (one row per
    // process, per key result, per tile) builds one hash table that every partition of the
    // other side probes, rather than hash-splitting both sides (BENCHMARKS.md).
    options.optimizer.hash_join_single_partition_threshold = 512 << 20;
    options.optimizer.hash_join_single_partition_threshold_rows = 4 << 20;
    let ctx = SessionContext::new_with_config_rt(config, limits::session_runtime());
    ctx.register_udf(functions::EmptyAsNull::udf());
    ctx.register_udf(functions::TryTimestamp::udf());
    ctx.register_udf(functions::round_significant());
    ctx
}

pub fn statement_err(s: &Statement, e: datafusion::error::DataFusionError) -> EngineError {
    EngineError::Statement {
        statement: s.name,
        message: e.strip_backtrace().trim().to_string(),
    }
}

/// Plans a registered statement; okrflow's own SQL may not define or change tables.
pub async fn plan(ctx: &SessionContext, s: &Statement) -> Result<DataFrame, EngineError> {
    let options = SQLOptions::new()
        .with_allow_ddl(false)
        .with_allow_dml(false);
    ctx.sql_with_options(s.sql, options)
        .await
        .map_err(|e| statement_err(s, e))
}

/// Registers a view statement under its name, replacing an earlier one.
pub async fn register_view(ctx: &SessionContext, s: &Statement) -> Result<(), EngineError> {
    debug_assert_eq!(s.kind, Kind::View);
    let df = plan(ctx, s).await?;
    ctx.deregister_table(s.name)
        .map_err(|e| statement_err(s, e))?;
    ctx.register_table(s.name, df.into_view())
        .map_err(|e| statement_err(s, e))?;
    Ok(())
}

/// Computes a registered view once and replaces it by its rows: in memory, or (with
/// `scratch`) in Parquet files there, from which later queries read only the columns they
/// need while the rows stream rather than stay in memory.
pub async fn materialise(
    ctx: &SessionContext,
    s: &Statement,
    scratch: Option<&std::path::Path>,
) -> Result<(), EngineError> {
    let df = ctx.table(s.name).await.map_err(|e| statement_err(s, e))?;
    materialise_as(ctx, s, df, scratch, None).await
}

/// [`materialise`] with `df`, a narrower form of the view, in its place. With `group_by`, the
/// scratch rows are written to one folder of files per value of that column (which is then
/// dropped), so each file's statistics let a query skip the groups it filters out.
pub async fn materialise_as(
    ctx: &SessionContext,
    s: &Statement,
    df: DataFrame,
    scratch: Option<&std::path::Path>,
    group_by: Option<&str>,
) -> Result<(), EngineError> {
    let Some(scratch) = scratch else {
        let schema = df.schema().inner().clone();
        let batches = df.collect().await.map_err(|e| statement_err(s, e))?;
        let schema = batches.first().map_or(schema, |b| b.schema());
        return register_batches(ctx, s.name, batches, schema);
    };
    let dir = scratch.join(s.name);
    let path = format!("{}/", dir.display());
    let mut written = df.schema().inner().as_ref().clone();
    if let Some(column) = group_by {
        written = Schema::new(
            written
                .fields()
                .iter()
                .filter(|f| f.name() != column)
                .cloned()
                .collect::<Vec<_>>(),
        );
    }
    // Scratch is read back within seconds and then deleted: LZ4 writes and reads faster than
    // the default zstd, and the files stay small next to uncompressed ones.
    let mut parquet = datafusion::config::TableParquetOptions::default();
    parquet.global.compression = Some("lz4_raw".into());
    let options = datafusion::dataframe::DataFrameWriteOptions::new()
        .with_partition_by(group_by.iter().map(|c| c.to_string()).collect());
    df.write_parquet(&path, options, Some(parquet))
        .await
        .map_err(|e| statement_err(s, e))?;
    ctx.deregister_table(s.name)
        .map_err(|e| statement_err(s, e))?;
    if !has_file(&dir) {
        // No rows, so no file: an empty table with the columns.
        return register_batches(ctx, s.name, vec![], Arc::new(written));
    }
    ctx.register_parquet(
        s.name,
        &path,
        datafusion::prelude::ParquetReadOptions::default().schema(&written),
    )
    .await
    .map_err(|e| statement_err(s, e))
}

/// Whether `dir` or a folder below it holds a file.
fn has_file(dir: &std::path::Path) -> bool {
    std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .any(|e| {
            let path = e.path();
            if path.is_dir() { has_file(&path) } else { true }
        })
}

/// Runs a statement (an output, or a view once) and collects its rows, with the statement's
/// schema (which an empty result has too).
pub async fn collect(
    ctx: &SessionContext,
    s: &Statement,
) -> Result<(SchemaRef, Vec<RecordBatch>), EngineError> {
    let df = plan(ctx, s).await?;
    let schema = df.schema().inner().clone();
    let batches = df.collect().await.map_err(|e| statement_err(s, e))?;
    // Collected batches may differ from the plan's schema in nullability; theirs is the truth.
    let schema = batches.first().map_or(schema, |b| b.schema());
    Ok((schema, batches))
}

/// Runs one of okrflow's own fixed queries over registered tables and views.
pub async fn query(ctx: &SessionContext, sql: &str) -> Result<Vec<RecordBatch>, EngineError> {
    let err = |e: datafusion::error::DataFusionError| EngineError::Query {
        sql: sql.to_string(),
        message: e.strip_backtrace(),
    };
    ctx.sql(sql)
        .await
        .map_err(err)?
        .collect()
        .await
        .map_err(err)
}

/// Registers collected rows as an in-memory table, replacing an earlier one.
pub fn register_batches(
    ctx: &SessionContext,
    name: &str,
    batches: Vec<RecordBatch>,
    schema: SchemaRef,
) -> Result<(), EngineError> {
    let err = |e: datafusion::error::DataFusionError| EngineError::Register {
        table: name.to_string(),
        message: e.strip_backtrace(),
    };
    let table = datafusion::datasource::MemTable::try_new(schema, vec![batches]).map_err(err)?;
    ctx.deregister_table(name).map_err(err)?;
    ctx.register_table(name, std::sync::Arc::new(table))
        .map_err(err)?;
    Ok(())
}
