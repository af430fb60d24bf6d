//! `tallyfy_latest` and `tallyfy_processes` of an evaluation date, made of segments. A
//! segment of the connection's state holds the typed rows, and the process rows, of snapshots
//! an earlier run chose; it is used without the snapshots not chosen any more
//! (`sql/tallyfy_dropped_snapshots.sql`). The rows of the other chosen snapshots are read from
//! the exports now and become a new segment, so a night with a few new exports types and
//! writes only their rows (BENCHMARKS.md). With [`MAX_SEGMENTS`] segments, or one that drops
//! more than [`MAX_DROPPED`] snapshots, all rows are written anew as one segment.

use super::loader::{ExportFile, Loaded};
use super::snapshots::{Built, schema_of, statement};
use super::state::{FileId, LatestRows, Segment, StateDir};
use crate::engine::{self, EngineError, registry};
use chrono::NaiveDate;
use datafusion::arrow::array::{AsArray, RecordBatch, UInt32Array};
use datafusion::arrow::compute::{filter_record_batch, kernels::cmp::eq};
use datafusion::arrow::datatypes::{DataType, Field, Int64Type, Schema, SchemaRef};
use datafusion::common::JoinType;
use datafusion::prelude::{DataFrame, ParquetReadOptions, SessionContext, col, ident, lit, when};
use datafusion::scalar::ScalarValue;
use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::sync::Arc;

/// At most this many segments; the run that would add one more writes all rows as one.
pub const MAX_SEGMENTS: usize = 8;
/// A segment that drops more snapshots than this is not used: its rows are read again.
pub const MAX_DROPPED: usize = 20_000;

/// The kinds of rows an export holds (`type`, TALLYFY.md): each kind's rows go to files of
/// their own, so a query that reads one kind skips the others' files.
const ROW_TYPES: [&str; 4] = [
    "process_task",
    "process_task_data",
    "process_task_comment",
    "kick_off_task",
];

/// The key of a segment's chosen snapshots.
fn chosen_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("process_id", DataType::Utf8, true),
        Field::new("src_file", DataType::Utf8, true),
    ]))
}

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

/// Registers `tallyfy_state_chosen` (each segment's snapshots, with the segment's number)
/// and `tallyfy_state_files` (each segment's export files that are unchanged now).
async fn register_segments(
    ctx: &SessionContext,
    state: &StateDir,
    segments: &[Segment],
    current: &HashSet<FileId>,
) -> Result<(), EngineError> {
    let err = |table: &str, e: datafusion::error::DataFusionError| EngineError::Register {
        table: table.into(),
        message: e.strip_backtrace(),
    };
    let mut chosen: Option<DataFrame> = None;
    let (mut numbers, mut keys) = (Vec::new(), Vec::new());
    let schema = chosen_schema();
    for (n, seg) in segments.iter().enumerate() {
        let options = ParquetReadOptions::default().schema(&schema);
        let df = ctx
            .read_parquet(state.url(&seg.chosen), options)
            .await
            .and_then(|df| {
                df.select(vec![
                    lit(n as i64).alias("segment"),
                    col("process_id"),
                    col("src_file"),
                ])
            })
            .map_err(|e| err("tallyfy_state_chosen", e))?;
        chosen = Some(match chosen {
            None => df,
            Some(all) => all.union(df).map_err(|e| err("tallyfy_state_chosen", e))?,
        });
        for f in seg.files.iter().filter(|f| current.contains(*f)) {
            numbers.push(n as i64);
            keys.push(f.key.clone());
        }
    }
    let files = RecordBatch::try_from_iter(vec![
        (
            "segment",
            Arc::new(datafusion::arrow::array::Int64Array::from(numbers)) as _,
        ),
        (
            "src_file",
            Arc::new(datafusion::arrow::array::StringArray::from(keys)) as _,
        ),
    ])
    .map_err(|e| err("tallyfy_state_files", e.into()))?;
    engine::register_batches(
        ctx,
        "tallyfy_state_files",
        vec![files.clone()],
        files.schema(),
    )?;
    ctx.deregister_table("tallyfy_state_chosen")
        .map_err(|e| err("tallyfy_state_chosen", e))?;
    match chosen {
        Some(df) => ctx.register_table("tallyfy_state_chosen", df.into_view()),
        None => {
            let mut fields = vec![Field::new("segment", DataType::Int64, false)];
            fields.extend(chosen_schema().fields().iter().map(|f| f.as_ref().clone()));
            let schema = Arc::new(Schema::new(fields));
            return engine::register_batches(ctx, "tallyfy_state_chosen", vec![], schema);
        }
    }
    .map_err(|e| err("tallyfy_state_chosen", e))?;
    Ok(())
}

/// How many rows of `batches` each value of the Int64 column `segment` has.
fn per_segment(batches: &[RecordBatch]) -> HashMap<i64, usize> {
    let mut counts = HashMap::new();
    for b in batches {
        if let Some(c) = b
            .column_by_name("segment")
            .and_then(|c| c.as_primitive_opt::<Int64Type>())
        {
            for v in c.iter().flatten() {
                *counts.entry(v).or_insert(0) += 1;
            }
        }
    }
    counts
}

/// `rows` without the rows whose `column` is in the first column of `of` (an anti join that
/// holds `of`, the small side, and streams `rows`), or with only those (`keep`).
fn matching(
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

/// `column` of the rows of segment `n` in the registered table of `s` (kept or dropped
/// snapshots).
async fn of_segment(
    ctx: &SessionContext,
    s: &registry::Statement,
    column: &str,
    n: usize,
) -> Result<DataFrame, EngineError> {
    ctx.table(s.name)
        .await
        .and_then(|d| d.filter(col("segment").eq(lit(n as i64))))
        .and_then(|d| d.select(vec![col(column)]))
        .map_err(|e| engine::statement_err(s, e))
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
async fn read_in_parts(
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
    let numbers: Vec<UInt32Array> = snapshots
        .iter()
        .map(|b| {
            let files = b
                .column_by_name("src_file")
                .and_then(|c| c.as_string_opt::<i32>());
            files
                .map(|c| {
                    c.iter()
                        .map(|f| f.and_then(|f| part_of.get(f).copied()))
                        .collect()
                })
                .unwrap_or_else(|| UInt32Array::new_null(b.num_rows()))
        })
        .collect();
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
            let mask = eq(numbers, &UInt32Array::new_scalar(n as u32))
                .and_then(|mask| filter_record_batch(b, &mask))
                .map_err(|e| err(to_read_s, e.into()))?;
            of_part.push(mask);
        }
        engine::register_batches(ctx, to_read_s.name, of_part, schema.clone())?;
        let before = files_under(&dir);
        engine::register_view(ctx, typed_s).await?;
        let rows = ctx
            .table(typed_s.name)
            .await
            .and_then(|df| narrowed(df, read))
            .map_err(|e| err(typed_s, e))?;
        engine::materialise_as(ctx, typed_s, rows, Some(at), Some("row_kind")).await?;
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

/// Builds the day's `tallyfy_latest` (in `scratch`, or in the state's folder on disk) and
/// `tallyfy_processes` (in memory) from the state's segments and the exports, and records the
/// new segment in `state`. `read` are the columns the queries read (`None`: all, and the state
/// is neither used nor changed). `tallyfy_snapshots` must be registered.
pub async fn build(
    ctx: &SessionContext,
    loaded: &Loaded,
    state: &mut StateDir,
    day: NaiveDate,
    scratch: &Path,
    read: Option<&HashSet<String>>,
    built: &mut Built,
) -> Result<(), EngineError> {
    let (kept_s, dropped_s, to_read_s, changed_s, typed_s, latest_s, processes_s) = (
        statement("tallyfy_kept_snapshots"),
        statement("tallyfy_dropped_snapshots"),
        statement("tallyfy_snapshots_to_read"),
        statement("tallyfy_changed_processes"),
        statement("tallyfy_latest_read"),
        statement("tallyfy_latest"),
        statement("tallyfy_processes"),
    );
    let current: HashSet<FileId> = loaded.processes.iter().map(FileId::from).collect();
    let mut segments: Vec<Segment> = match (&state.manifest.latest, read) {
        (Some(l), Some(read)) if read.iter().all(|c| l.columns.contains(c)) => l.segments.clone(),
        _ => Vec::new(),
    };
    // Which snapshots each segment still has, and which it drops; a segment that drops too
    // many (or keeps none) is left out, and the counts taken again.
    let kept = loop {
        register_segments(ctx, state, &segments, &current).await?;
        let (schema, kept) = engine::collect(ctx, kept_s).await?;
        engine::register_batches(ctx, kept_s.name, kept.clone(), schema)?;
        let (schema, dropped) = engine::collect(ctx, dropped_s).await?;
        engine::register_batches(ctx, dropped_s.name, dropped.clone(), schema)?;
        let (keeps, drops) = (per_segment(&kept), per_segment(&dropped));
        let before = segments.len();
        let mut n = 0;
        segments.retain(|_| {
            let (k, d) = (
                keeps.get(&n).copied().unwrap_or(0),
                drops.get(&n).copied().unwrap_or(0),
            );
            n += 1;
            k > 0 && d <= MAX_DROPPED
        });
        if segments.len() == before {
            break kept;
        }
    };
    built.kept_snapshots = kept.iter().map(RecordBatch::num_rows).sum();
    // With no segment every chosen snapshot is read: a view over tallyfy_snapshots, rather
    // than a copy of it held to the end (a row per process).
    if segments.is_empty() {
        engine::register_view(ctx, to_read_s).await?;
    } else {
        let (schema, to_read) = engine::collect(ctx, to_read_s).await?;
        engine::register_batches(ctx, to_read_s.name, to_read, schema)?;
    }
    // The files that hold them (none: no snapshot to read).
    let wanted: HashSet<String> = ctx
        .table(to_read_s.name)
        .await
        .and_then(|df| df.aggregate(vec![col("src_file")], vec![]))
        .map_err(|e| engine::statement_err(to_read_s, e))?
        .collect()
        .await
        .map_err(|e| engine::statement_err(to_read_s, e))?
        .iter()
        .filter_map(|b| b.column(0).as_string_opt::<i32>())
        .flat_map(|c| c.iter().flatten().map(str::to_string).collect::<Vec<_>>())
        .collect();
    // Only the files that hold a snapshot to read are scanned.
    let scanned: Vec<_> = loaded
        .processes
        .iter()
        .filter(|f| wanted.contains(&f.key))
        .collect();
    built.read_files = scanned.len();
    loaded
        .register_scan(ctx, "tallyfy_raw_part", &scanned)
        .map_err(|e| engine::statement_err(typed_s, e))?;
    let full = schema_of(ctx, typed_s).await?;
    let written = Arc::new(Schema::new(
        full.fields()
            .iter()
            .map(|f| f.as_ref().clone().with_nullable(true))
            .collect::<Vec<_>>(),
    ));

    // The kept segments' rows without their dropped snapshots, read where they are.
    let statement_err = |s, e| engine::statement_err(s, e);
    let mut local = Vec::new();
    for seg in &segments {
        let folder = state.local(&seg.folder, scratch).await;
        let processes = state.local(&seg.processes, scratch).await;
        local.push((folder, processes));
    }
    let mut kept_rows: Option<DataFrame> = None;
    for (n, (folder, _)) in local.iter().enumerate() {
        let folder = folder.as_ref().map_err(|e| EngineError::Register {
            table: "tallyfy_state_latest".into(),
            message: e.clone(),
        })?;
        let path = format!("{}/", folder.display());
        let rows = ctx
            .read_parquet(path, ParquetReadOptions::default().schema(&written))
            .await
            .map_err(|e| statement_err(latest_s, e))?;
        let drops = of_segment(ctx, dropped_s, "process_id", n).await?;
        let rows = matching(drops, rows, "snapshot_process_id", false)
            .map_err(|e| statement_err(latest_s, e))?;
        kept_rows = Some(match kept_rows {
            None => rows,
            Some(all) => all.union(rows).map_err(|e| statement_err(latest_s, e))?,
        });
    }
    ctx.deregister_table("tallyfy_state_latest")
        .map_err(|e| statement_err(latest_s, e))?;
    match kept_rows {
        Some(rows) => ctx
            .register_table("tallyfy_state_latest", rows.into_view())
            .map(|_| ())
            .map_err(|e| statement_err(latest_s, e))?,
        None => engine::register_batches(ctx, "tallyfy_state_latest", vec![], written.clone())?,
    }

    // The new segment: the rows read now, or (compacting) all rows.
    let compact = !segments.is_empty() && segments.len() >= MAX_SEGMENTS;
    let name = state.new_name(&format!("latest-{day}"));
    let at = match (state.is_kept(), state.local_dir()) {
        (true, Some(dir)) => dir.join(&name),
        _ => scratch.join(&name),
    };
    let segment_s = if compact { latest_s } else { typed_s };
    let parts = super::loader::parts(&scanned, loaded.part_rows);
    // A first run of more than a part: tallyfy_processes is computed part by part.
    let mut in_parts = None;
    if segments.is_empty() && parts.len() > 1 {
        in_parts = Some(read_in_parts(ctx, loaded, &parts, &at, read, &written).await?);
    } else {
        engine::register_view(ctx, segment_s).await?;
        let rows = ctx
            .table(segment_s.name)
            .await
            .and_then(|df| narrowed(df, read))
            .map_err(|e| statement_err(segment_s, e))?;
        engine::materialise_as(ctx, segment_s, rows, Some(&at), Some("row_kind")).await?;
    }
    if compact {
        segments.clear();
        local.clear();
    } else {
        engine::register_view(ctx, latest_s).await?;
    }

    // tallyfy_processes: the kept segments' rows of processes unchanged since, and the rows
    // of the others computed now.
    if !segments.is_empty() {
        engine::register_view(ctx, statement("tallyfy_shared_processes")).await?;
        let (schema, changed) = engine::collect(ctx, changed_s).await?;
        engine::register_batches(ctx, changed_s.name, changed, schema)?;
    }
    engine::register_view(ctx, processes_s).await?;
    let all_latest = ctx
        .table(latest_s.name)
        .await
        .map_err(|e| statement_err(latest_s, e))?;
    let new_processes = if let Some(computed) = in_parts {
        computed
    } else if segments.is_empty() {
        engine::collect(ctx, processes_s).await?
    } else {
        // Over the rows of the changed processes only.
        let changed = ctx
            .table(changed_s.name)
            .await
            .map_err(|e| statement_err(changed_s, e))?;
        let some = matching(changed, all_latest.clone(), "process_id", true)
            .map_err(|e| statement_err(latest_s, e))?;
        ctx.deregister_table(latest_s.name)
            .and_then(|_| ctx.register_table(latest_s.name, some.into_view()))
            .map_err(|e| statement_err(latest_s, e))?;
        let computed = engine::collect(ctx, processes_s).await;
        ctx.deregister_table(latest_s.name)
            .and_then(|_| ctx.register_table(latest_s.name, all_latest.into_view()))
            .map_err(|e| statement_err(latest_s, e))?;
        computed?
    };
    let (processes_schema, new_processes) = new_processes;
    let mut all_processes = new_processes.clone();
    for (n, (_, file)) in local.iter().enumerate() {
        let file = file.as_ref().map_err(|e| EngineError::Register {
            table: processes_s.name.into(),
            message: e.clone(),
        })?;
        let options = ParquetReadOptions::default().schema(&processes_schema);
        let rows = ctx
            .read_parquet(file.display().to_string(), options)
            .await
            .map_err(|e| statement_err(processes_s, e))?;
        // Processes of the segment's kept snapshots, and not changed.
        let kept_here = of_segment(ctx, kept_s, "latest_process_id", n).await?;
        let changed = ctx
            .table(changed_s.name)
            .await
            .map_err(|e| statement_err(changed_s, e))?;
        let rows = matching(kept_here, rows, "process_id", true)
            .and_then(|rows| matching(changed, rows, "process_id", false))
            .map_err(|e| statement_err(processes_s, e))?;
        all_processes.extend(
            rows.collect()
                .await
                .map_err(|e| statement_err(processes_s, e))?,
        );
    }
    engine::register_batches(
        ctx,
        processes_s.name,
        all_processes,
        processes_schema.clone(),
    )?;

    // The state, for the next run (a segment of no rows is not kept).
    let nothing_new = !compact && wanted.is_empty();
    if let Some(read) = read.filter(|_| state.is_kept()) {
        // The new segment's snapshots: all chosen ones when compacting.
        let of = if compact {
            "tallyfy_snapshots"
        } else {
            to_read_s.name
        };
        let chosen = ctx
            .table(of)
            .await
            .and_then(|df| df.select_columns(&["process_id", "src_file"]))
            .map_err(|e| statement_err(to_read_s, e))?
            .collect()
            .await
            .map_err(|e| statement_err(to_read_s, e))?;
        let segment = Segment {
            folder: format!("{name}/{}", segment_s.name),
            chosen: state.new_name(&format!("chosen-{day}.parquet")),
            processes: state.new_name(&format!("processes-{day}.parquet")),
            files: loaded.processes.iter().map(FileId::from).collect(),
        };
        let saved = async {
            if nothing_new {
                return Ok(());
            }
            let chosen: Vec<RecordBatch> = chosen
                .into_iter()
                .map(|b| RecordBatch::try_new(chosen_schema(), b.columns().to_vec()))
                .collect::<Result<_, _>>()
                .map_err(|e| e.to_string())?;
            state.put(&segment.chosen, chosen_schema(), &chosen).await?;
            state
                .put(&segment.processes, processes_schema.clone(), &new_processes)
                .await?;
            if state.local_dir().is_none() {
                state
                    .put_folder(&segment.folder, &at.join(segment_s.name))
                    .await?;
            }
            Ok::<(), String>(())
        };
        match saved.await {
            Ok(()) => {
                let mut columns: Vec<String> = read.iter().cloned().collect();
                columns.sort();
                if !nothing_new {
                    segments.push(segment);
                }
                state.manifest.latest = Some(LatestRows { columns, segments });
            }
            Err(e) => {
                tracing::warn!(state = %state.display(), error = %e, "Tallyfy rows not kept for the next run")
            }
        }
    }
    for name in [
        "tallyfy_raw_part",
        "tallyfy_state_latest",
        "tallyfy_state_chosen",
        "tallyfy_state_files",
    ] {
        ctx.deregister_table(name)
            .map_err(|e| statement_err(latest_s, e))?;
    }
    Ok(())
}
