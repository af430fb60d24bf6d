//! The layers below a key result's SQL that read the exports, computed with the connection's
//! [`StateDir`] so that what a file told an earlier run is not read from it again
//! (BENCHMARKS.md):
//!
//! - [`index`]: `tallyfy_file_index`, indexing only the files the state has not indexed;
//! - [`newest`]: `tallyfy_snapshots`, each process's chosen snapshot as of the day, from the
//!   whole index;
//! - [`super::latest`]: `tallyfy_latest` and `tallyfy_processes`, from the state's segments and
//!   the files that hold the other chosen snapshots.

use super::loader::Loaded;
use super::state::{FileId, IndexFile, StateDir};
use crate::engine::{self, EngineError, registry};
use datafusion::arrow::datatypes::SchemaRef;
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

pub(super) fn statement(name: &str) -> &'static registry::Statement {
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
pub(super) async fn schema_of(
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

/// Registers `name` as one scan of the Parquet files (or folders) at `urls`, read with
/// `schema`; an empty table when there are none.
pub(super) fn register_parquet(
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
/// process in the index as of the day (`tallyfy_params`).
pub async fn newest(ctx: &SessionContext) -> Result<(), EngineError> {
    let (files, newest) = (
        statement("tallyfy_file_snapshots"),
        statement("tallyfy_snapshots"),
    );
    engine::register_view(ctx, files).await?;
    let (schema, rows) = engine::collect(ctx, newest).await?;
    engine::register_batches(ctx, newest.name, rows, schema)?;
    // The entry per (process, file) would only mislead a key result's SQL.
    ctx.deregister_table(files.name)
        .map_err(|e| engine::statement_err(files, e))?;
    Ok(())
}
