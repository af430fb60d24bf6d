//! How `tallyfy_latest`'s rows are written: a view's rows, with only the columns the queries
//! read, to a folder of files per kind of row ([`write_rows`]); and a first run's rows, a part
//! of the export files at a time, with `tallyfy_processes` computed part by part
//! ([`read_in_parts`]). [`matching`] is the semi- and anti-join both modules use.

use super::loader::{ExportFile, Loaded};
use super::snapshots::statement;
use crate::engine::{self, EngineError, registry};
use datafusion::arrow::array::{AsArray, RecordBatch, UInt32Array};
use datafusion::arrow::compute::{filter_record_batch, kernels::cmp::eq};
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::common::JoinType;
use datafusion::prelude::{DataFrame, SessionContext, col, ident, lit, when};
use datafusion::scalar::ScalarValue;
use std::collections::{HashMap, HashSet};
use std::path::Path;

/// The kinds of rows an export holds (`type`, TALLYFY.md): each kind's rows go to files of
/// their own, so a query that reads one kind skips the others' files.
const ROW_TYPES: [&str; 4] = [
    "process_task",
    "process_task_data",
    "process_task_comment",
    "kick_off_task",
];

/// `df` with only the columns in `read` (the others NULL; all with `None`), and `row_kind`.
fn narrowed(df: DataFrame, read: Option<&HashSet<String>>) -> datafusion::error::Result<DataFrame> {
    let df = match read {
        None => df,
        Some(read) => {
            let columns: Vec<_> = df
                .schema()
                .fields()
                .iter()
                .map(|f| {
                    if read.contains(f.name()) {
                        ident(f.name())
                    } else {
                        let null =
                            ScalarValue::try_from(f.data_type()).unwrap_or(ScalarValue::Null);
                        lit(null).alias(f.name())
                    }
                })
                .collect();
            df.select(columns)?
        }
    };
    let kind = when(
        col("type").in_list(ROW_TYPES.map(lit).to_vec(), false),
        col("type"),
    )
    .otherwise(lit("other"))?;
    df.with_column("row_kind", kind)
}

/// `rows` without the rows whose `column` is in the first column of `of` (an anti join that
/// holds `of`, the small side, and streams `rows`), or with only those (`keep`).
pub(super) fn matching(
    of: DataFrame,
    rows: DataFrame,
    column: &str,
    keep: bool,
) -> datafusion::error::Result<DataFrame> {
    let key = of.schema().field(0).name().clone();
    let join = if keep {
        JoinType::RightSemi
    } else {
        JoinType::RightAnti
    };
    of.join(rows, join, &[key.as_str()], &[column], None)
}

/// Writes the rows of view `s` (only the columns in `read`) to `at`, a folder of files per
/// kind of row, and registers `s` as them.
pub(super) async fn write_rows(
    ctx: &SessionContext,
    s: &registry::Statement,
    at: &Path,
    read: Option<&HashSet<String>>,
) -> Result<(), EngineError> {
    engine::register_view(ctx, s).await?;
    let rows = ctx
        .table(s.name)
        .await
        .and_then(|df| narrowed(df, read))
        .map_err(|e| engine::statement_err(s, e))?;
    engine::materialise_as(ctx, s, rows, Some(at), Some("row_kind")).await
}

/// The files below `dir`, at any depth.
fn files_under(dir: &Path) -> HashSet<std::path::PathBuf> {
    let mut found = HashSet::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            found.extend(files_under(&path));
        } else {
            found.insert(path);
        }
    }
    found
}

/// A first run's `tallyfy_latest_read`, written to `at` a part of the files at a time: the
/// join holds only the part's chosen snapshots, not every process's, and `tallyfy_processes`
/// is computed over the part's rows, since a process's chosen rows are in one file. A process
/// two export ids share (`tallyfy_shared_processes`) is computed over all rows at the end.
/// Leaves `tallyfy_latest_read` and `tallyfy_latest` registered over all parts; returns
/// `tallyfy_processes`' schema and rows.
pub(super) async fn read_in_parts(
    ctx: &SessionContext,
    loaded: &Loaded,
    parts: &[&[&ExportFile]],
    at: &Path,
    read: Option<&HashSet<String>>,
    written: &SchemaRef,
) -> Result<(SchemaRef, Vec<RecordBatch>), EngineError> {
    let (to_read_s, shared_s, typed_s, latest_s, processes_s) = (
        statement("tallyfy_snapshots_to_read"),
        statement("tallyfy_shared_processes"),
        statement("tallyfy_latest_read"),
        statement("tallyfy_latest"),
        statement("tallyfy_processes"),
    );
    let err = |s, e| engine::statement_err(s, e);
    // With no segment every chosen snapshot is to be read: tallyfy_snapshots' rows, each
    // with the part of the files that holds it.
    let snapshots = ctx
        .table("tallyfy_snapshots")
        .await
        .map_err(|e| err(to_read_s, e))?;
    let schema = snapshots.schema().inner().clone();
    let snapshots = snapshots.collect().await.map_err(|e| err(to_read_s, e))?;
    let part_of: HashMap<&str, u32> = parts
        .iter()
        .enumerate()
        .flat_map(|(n, files)| files.iter().map(move |f| (f.key.as_str(), n as u32)))
        .collect();
    // A chosen snapshot's file is one of the parts' (they are the files that hold one).
    let numbers = snapshots
        .iter()
        .map(|b| {
            let files = b
                .column_by_name("src_file")
                .and_then(|c| c.as_string_opt::<i32>())
                .ok_or_else(|| EngineError::Register {
                    table: to_read_s.name.into(),
                    message: "tallyfy_snapshots has no text column src_file".into(),
                })?;
            Ok(files
                .iter()
                .map(|f| f.and_then(|f| part_of.get(f).copied()))
                .collect::<UInt32Array>())
        })
        .collect::<Result<Vec<_>, EngineError>>()?;
    engine::register_view(ctx, shared_s).await?;
    let (shared_schema, shared) = engine::collect(ctx, shared_s).await?;
    engine::register_batches(ctx, shared_s.name, shared, shared_schema)?;
    let dir = at.join(typed_s.name);
    let (mut processes_schema, mut processes) = (None, Vec::new());
    for (n, files) in parts.iter().enumerate() {
        loaded
            .register_scan(ctx, "tallyfy_raw_part", files)
            .map_err(|e| err(typed_s, e))?;
        let mut of_part = Vec::new();
        for (b, numbers) in snapshots.iter().zip(&numbers) {
            let rows = eq(numbers, &UInt32Array::new_scalar(n as u32))
                .and_then(|here| filter_record_batch(b, &here))
                .map_err(|e| err(to_read_s, e.into()))?;
            of_part.push(rows);
        }
        engine::register_batches(ctx, to_read_s.name, of_part, schema.clone())?;
        let before = files_under(&dir);
        write_rows(ctx, typed_s, at, read).await?;
        // This part's rows alone, for its processes.
        let mut new: Vec<String> = files_under(&dir)
            .difference(&before)
            .map(|p| p.display().to_string())
            .collect();
        new.sort();
        super::snapshots::register_parquet(ctx, typed_s.name, &new, written.clone())?;
        engine::register_view(ctx, latest_s).await?;
        engine::register_view(ctx, processes_s).await?;
        let shared = ctx.table(shared_s.name).await;
        let all = ctx.table(processes_s.name).await;
        let rows = shared
            .and_then(|shared| matching(shared, all?, "process_id", false))
            .map_err(|e| err(processes_s, e))?;
        processes_schema.get_or_insert_with(|| rows.schema().inner().clone());
        processes.extend(rows.collect().await.map_err(|e| err(processes_s, e))?);
    }
    // tallyfy_latest_read over every part, and the processes two export ids share.
    let all = vec![format!("{}/", dir.display())];
    let all = if dir.exists() { &all[..] } else { &[] };
    super::snapshots::register_parquet(ctx, typed_s.name, all, written.clone())?;
    engine::register_view(ctx, latest_s).await?;
    let every = ctx
        .table(latest_s.name)
        .await
        .map_err(|e| err(latest_s, e))?;
    let of_shared = ctx
        .table(shared_s.name)
        .await
        .and_then(|shared| matching(shared, every.clone(), "process_id", true))
        .map_err(|e| err(latest_s, e))?;
    ctx.deregister_table(latest_s.name)
        .and_then(|_| ctx.register_table(latest_s.name, of_shared.into_view()))
        .map_err(|e| err(latest_s, e))?;
    engine::register_view(ctx, processes_s).await?;
    let (schema, computed) = engine::collect(ctx, processes_s).await?;
    processes.extend(computed);
    ctx.deregister_table(latest_s.name)
        .and_then(|_| ctx.register_table(latest_s.name, every.into_view()))
        .map_err(|e| err(latest_s, e))?;
    engine::register_view(ctx, to_read_s).await?;
    Ok((processes_schema.unwrap_or(schema), processes))
}
