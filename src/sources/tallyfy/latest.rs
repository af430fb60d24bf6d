//! `tallyfy_latest` and `tallyfy_processes` of an evaluation date, made of segments. A
//! segment of the connection's state holds the typed rows, and the process rows, of snapshots
//! an earlier run chose; it is used without the snapshots not chosen any more
//! (`sql/tallyfy_dropped_snapshots.sql`). The rows of the other chosen snapshots are read from
//! the exports now and become a new segment, so a night with a few new exports types and
//! writes only their rows (BENCHMARKS.md). With [`MAX_SEGMENTS`] segments, or one that drops
//! more than [`MAX_DROPPED`] snapshots, all rows are written anew as one segment. A first run
//! over more than a part of the exports reads them a part at a time (`rows.rs`).

use super::loader::Loaded;
use super::rows::{matching, read_in_parts, write_rows};
use super::snapshots::{Built, schema_of, statement};
use super::state::{FileId, LatestRows, Segment, StateDir};
use crate::engine::{self, EngineError, registry};
use chrono::NaiveDate;
use datafusion::arrow::array::{AsArray, RecordBatch};
use datafusion::arrow::datatypes::{DataType, Field, Int64Type, Schema, SchemaRef};
use datafusion::prelude::{DataFrame, ParquetReadOptions, SessionContext, col, lit};
use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::sync::Arc;

/// At most this many segments; the run that would add one more writes all rows as one.
pub(crate) const MAX_SEGMENTS: usize = 8;
/// A segment that drops more snapshots than this is not used: its rows are read again.
pub(crate) const MAX_DROPPED: usize = 20_000;

/// The key of a segment's chosen snapshots.
fn chosen_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("process_id", DataType::Utf8, true),
        Field::new("src_file", DataType::Utf8, true),
    ]))
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

/// Builds the day's `tallyfy_latest` (in `scratch`, or in the state's folder on disk) and
/// `tallyfy_processes` (in memory) from the state's segments and the exports, and records the
/// new segment in `state`. `read` are the columns the queries read (`None`: all, and the state
/// is neither used nor changed). `tallyfy_snapshots` must be registered.
pub(crate) async fn build(
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
            message: e.to_string(),
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
        write_rows(ctx, segment_s, &at, read).await?;
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
            message: e.to_string(),
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
                .collect::<Result<_, _>>()?;
            state.put(&segment.chosen, chosen_schema(), &chosen).await?;
            state
                .put(&segment.processes, processes_schema.clone(), &new_processes)
                .await?;
            if state.local_dir().is_none() {
                state
                    .put_folder(&segment.folder, &at.join(segment_s.name))
                    .await?;
            }
            Ok::<(), Box<dyn std::error::Error + Send + Sync>>(())
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
