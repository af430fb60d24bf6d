//! The layers below a key result's SQL that read the exports, computed with the connection's
//! [`StateDir`] so that what a file told an earlier run is not read from it again
//! (BENCHMARKS.md):
//!
//! - [`index`]: `tallyfy_file_index`, indexing only the files the state has not indexed;
//! - [`newest`]: `tallyfy_snapshots`, each process's chosen snapshot as of the day, from the
//!   whole index;
//! - [`inputs_of_latest`]: what `tallyfy_latest` is made of: the state's rows of the snapshots
//!   chosen again, and a scan of only the files that hold the others;
//! - [`keep_latest`]: the day's `tallyfy_latest` written to the state for the next run.

use super::loader::Loaded;
use super::state::{FileId, IndexFile, LatestRows, StateDir};
use crate::engine::{self, EngineError, registry};
use datafusion::arrow::array::{AsArray, RecordBatch, StringArray};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::datasource::file_format::parquet::ParquetFormat;
use datafusion::datasource::listing::{
    ListingOptions, ListingTable, ListingTableConfig, ListingTableUrl,
};
use datafusion::prelude::SessionContext;
use std::collections::HashSet;
use std::sync::Arc;

/// What building a date's views did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Built {
    /// Export files indexed now (not indexed by an earlier run), and in how many parts.
    pub indexed_files: usize,
    pub index_parts: usize,
    /// Chosen snapshots whose typed rows came from the state.
    pub kept_snapshots: usize,
    /// Export files read for the rows of the other chosen snapshots.
    pub read_files: usize,
}

fn statement(name: &str) -> &'static registry::Statement {
    registry::TALLYFY
        .iter()
        .find(|s| s.name == name)
        .expect("a registered Tallyfy statement")
}

fn register_err(table: &str) -> impl Fn(String) -> EngineError + '_ {
    move |message| EngineError::Register {
        table: table.to_string(),
        message,
    }
}

/// The schema `s` has over the tables registered now.
async fn schema_of(
    ctx: &SessionContext,
    s: &registry::Statement,
) -> Result<SchemaRef, EngineError> {
    engine::register_view(ctx, s).await?;
    let df = ctx
        .table(s.name)
        .await
        .map_err(|e| engine::statement_err(s, e))?;
    Ok(Arc::new(df.schema().as_arrow().clone()))
}

/// The columns of the state's chosen snapshots: `tallyfy_snapshots`' key.
fn chosen_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("process_id", DataType::Utf8, true),
        Field::new("src_file", DataType::Utf8, true),
    ]))
}

/// Registers `name` as one scan of the Parquet files (or folders) at `urls`, read with
/// `schema`; an empty table when there are none.
fn register_parquet(
    ctx: &SessionContext,
    name: &str,
    urls: &[String],
    schema: SchemaRef,
) -> Result<(), EngineError> {
    let err = register_err(name);
    if urls.is_empty() {
        return engine::register_batches(ctx, name, vec![], schema);
    }
    let urls = urls
        .iter()
        .map(|u| ListingTableUrl::parse(u))
        .collect::<datafusion::error::Result<Vec<_>>>()
        .map_err(|e| err(e.to_string()))?;
    let options =
        ListingOptions::new(Arc::new(ParquetFormat::default())).with_file_extension(".parquet");
    let config = ListingTableConfig::new_with_multi_paths(urls)
        .with_listing_options(options)
        .with_schema(schema);
    let table = ListingTable::try_new(config).map_err(|e| err(e.to_string()))?;
    ctx.deregister_table(name).map_err(|e| err(e.to_string()))?;
    ctx.register_table(name, Arc::new(table))
        .map_err(|e| err(e.to_string()))?;
    Ok(())
}

/// Indexes the export files the state has not (`sql/tallyfy_file_index.sql`, a part of files
/// of at most `loaded.part_rows` rows at a time), writes each part's entries to the state,
/// and registers `tallyfy_file_index` over the state's entries of the files as they are now.
pub async fn index(
    ctx: &SessionContext,
    loaded: &Loaded,
    state: &mut StateDir,
    built: &mut Built,
) -> Result<(), EngineError> {
    let s = statement("tallyfy_file_index");
    let current: HashSet<FileId> = loaded.processes.iter().map(FileId::from).collect();
    // An index file none of whose export files is still there as it was is of no more use.
    state
        .manifest
        .index
        .retain(|f| f.files.iter().any(|id| current.contains(id)));
    let indexed: HashSet<&FileId> = state.manifest.index.iter().flat_map(|f| &f.files).collect();
    let new: Vec<_> = loaded
        .processes
        .iter()
        .filter(|f| !indexed.contains(&FileId::from(*f)))
        .collect();
    let parts = super::loader::parts(&new, loaded.part_rows);
    let scan = |files: &[&super::loader::ExportFile]| {
        loaded
            .register_scan(ctx, "tallyfy_raw_part", files)
            .map_err(|e| engine::statement_err(s, e))
    };
    scan(&[])?;
    let schema = schema_of(ctx, s).await?;
    for (n, files) in parts.iter().enumerate() {
        scan(files)?;
        let (_, batches) = engine::collect(ctx, s).await?;
        let name = state.new_name(&format!("index-{n}.parquet"));
        state
            .put(&name, schema.clone(), &batches)
            .await
            .map_err(register_err(s.name))?;
        state.manifest.index.push(IndexFile {
            name,
            files: files.iter().map(|f| FileId::from(*f)).collect(),
        });
    }
    built.indexed_files = new.len();
    built.index_parts = parts.len();
    state.register(ctx);
    let urls: Vec<String> = state
        .manifest
        .index
        .iter()
        .map(|f| state.url(&f.name))
        .collect();
    register_parquet(ctx, s.name, &urls, schema)?;
    ctx.deregister_table("tallyfy_raw_part")
        .map_err(|e| engine::statement_err(s, e))?;
    Ok(())
}

/// Registers `tallyfy_snapshots` in memory (one row per process): the newest snapshot of each
/// process in the index as of the day (`tallyfy_params`). Returns its rows.
pub async fn newest(ctx: &SessionContext) -> Result<Vec<RecordBatch>, EngineError> {
    let (files, newest) = (
        statement("tallyfy_file_snapshots"),
        statement("tallyfy_snapshots"),
    );
    engine::register_view(ctx, files).await?;
    let (schema, rows) = engine::collect(ctx, newest).await?;
    engine::register_batches(ctx, newest.name, rows.clone(), schema)?;
    // The entry per (process, file) would only mislead a key result's SQL.
    ctx.deregister_table(files.name)
        .map_err(|e| engine::statement_err(files, e))?;
    Ok(rows)
}

/// Registers what `sql/tallyfy_latest.sql` is made of: the state's typed rows and chosen
/// snapshots (when they hold every column in `read`, or all columns when `read` is `None`),
/// `tallyfy_kept_snapshots` and `tallyfy_snapshots_to_read` (in memory), and
/// `tallyfy_raw_part`, a scan of the files that hold the snapshots to read.
pub async fn inputs_of_latest(
    ctx: &SessionContext,
    loaded: &Loaded,
    state: &StateDir,
    read: Option<&HashSet<String>>,
    built: &mut Built,
) -> Result<(), EngineError> {
    let (kept, to_read, typed) = (
        statement("tallyfy_kept_snapshots"),
        statement("tallyfy_snapshots_to_read"),
        statement("tallyfy_latest_read"),
    );
    let current: HashSet<FileId> = loaded.processes.iter().map(FileId::from).collect();
    let usable = state.manifest.latest.as_ref().filter(|l| {
        let held: HashSet<&String> = l.columns.iter().collect();
        read.is_some_and(|read| read.iter().all(|c| held.contains(c)))
    });
    let unchanged: Vec<&str> = usable
        .map(|l| {
            l.files
                .iter()
                .filter(|f| current.contains(*f))
                .map(|f| f.key.as_str())
                .collect()
        })
        .unwrap_or_default();
    let files = RecordBatch::try_from_iter(vec![(
        "src_file",
        Arc::new(StringArray::from(unchanged)) as _,
    )])
    .map_err(|e| register_err("tallyfy_state_files")(e.to_string()))?;
    engine::register_batches(
        ctx,
        "tallyfy_state_files",
        vec![files.clone()],
        files.schema(),
    )?;
    let chosen: Vec<String> = usable.map(|l| state.url(&l.chosen)).into_iter().collect();
    register_parquet(ctx, "tallyfy_state_chosen", &chosen, chosen_schema())?;
    let (schema, kept_rows) = engine::collect(ctx, kept).await?;
    built.kept_snapshots = kept_rows.iter().map(RecordBatch::num_rows).sum();
    engine::register_batches(ctx, kept.name, kept_rows, schema)?;
    let (schema, to_read_rows) = engine::collect(ctx, to_read).await?;
    // Only the files that hold a snapshot to read are scanned.
    let mut wanted = HashSet::new();
    for b in &to_read_rows {
        if let Some(c) = b
            .column_by_name("src_file")
            .and_then(|c| c.as_string_opt::<i32>())
        {
            wanted.extend(c.iter().flatten().map(str::to_string));
        }
    }
    let scanned: Vec<_> = loaded
        .processes
        .iter()
        .filter(|f| wanted.contains(&f.key))
        .collect();
    built.read_files = scanned.len();
    engine::register_batches(ctx, to_read.name, to_read_rows, schema)?;
    loaded
        .register_scan(ctx, "tallyfy_raw_part", &scanned)
        .map_err(|e| engine::statement_err(typed, e))?;
    let latest_schema = schema_of(ctx, typed).await?;
    let rows: Vec<String> = usable
        .map(|l| state.url(&format!("{}/", l.folder)))
        .into_iter()
        .collect();
    register_parquet(ctx, "tallyfy_state_latest", &rows, latest_schema)
}

/// Writes the day's `tallyfy_latest` (the folder `written`, computed with the columns `read`)
/// and its chosen snapshots `chosen` (`tallyfy_snapshots`' rows) to the state, for the next
/// run; does nothing to a state that is not kept. A write that fails leaves the state as it
/// was, and the run goes on: the state is only a cache.
pub async fn keep_latest(
    loaded: &Loaded,
    state: &mut StateDir,
    day: chrono::NaiveDate,
    written: &std::path::Path,
    read: Option<&HashSet<String>>,
    chosen: &[RecordBatch],
) {
    let Some(read) = read.filter(|_| state.is_kept()) else {
        return;
    };
    let folder = state.new_name(&format!("latest-{day}"));
    let chosen_name = state.new_name(&format!("chosen-{day}.parquet"));
    let saved = async {
        let schema = chosen_schema();
        let picked = chosen
            .iter()
            .map(|b| {
                let column = |name: &str| {
                    b.column_by_name(name)
                        .cloned()
                        .ok_or_else(|| format!("tallyfy_snapshots has no {name}"))
                };
                RecordBatch::try_new(
                    schema.clone(),
                    vec![column("process_id")?, column("src_file")?],
                )
                .map_err(|e| e.to_string())
            })
            .collect::<Result<Vec<_>, String>>()?;
        state.put(&chosen_name, schema, &picked).await?;
        state.put_folder(&folder, written).await
    };
    match saved.await {
        Ok(()) => {
            let mut columns: Vec<String> = read.iter().cloned().collect();
            columns.sort();
            state.manifest.latest = Some(LatestRows {
                folder,
                chosen: chosen_name,
                columns,
                files: loaded.processes.iter().map(FileId::from).collect(),
            });
        }
        Err(e) => {
            tracing::warn!(state = %state.display(), error = %e, "Tallyfy rows not kept for the next run")
        }
    }
}
