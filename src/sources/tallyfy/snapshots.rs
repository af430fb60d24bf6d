//! The layers below a key result's SQL that read the exports, computed with the connection's
//! [`StateDir`] so that what a file told an earlier run is not read from it again
//! (BENCHMARKS.md):
//!
//! - [`index`]: `tallyfy_file_index`, indexing only the files the state has not indexed;
//! - [`newest`]: `tallyfy_snapshots`, each process's chosen snapshot as of the day, from the
//!   whole index;
//! - [`super::latest`]: `tallyfy_latest` and `tallyfy_processes`, from the state's segments and
//!   the files that hold the other chosen snapshots.

use super::Tallyfy;
use super::loader::Loaded;
use super::state::{FileId, IndexFile, StateDir};
use crate::engine::{self, EngineError, registry};
use crate::sources::SourceKind;
use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::common::JoinType;
use datafusion::datasource::MemTable;
use datafusion::datasource::file_format::parquet::ParquetFormat;
use datafusion::datasource::listing::{
    ListingOptions, ListingTable, ListingTableConfig, ListingTableUrl,
};
use datafusion::prelude::DataFrame;
use datafusion::prelude::SessionContext;
use std::collections::HashSet;
use std::sync::Arc;

/// What building a date's views did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Built {
    /// Export files indexed now (not indexed by an earlier run), and in how many parts.
    pub indexed_files: usize,
    pub index_parts: usize,
    /// Groups of index entries ranked one after the other (each with the newest so far).
    pub rank_groups: usize,
    /// Chosen snapshots whose typed rows came from the state.
    pub kept_snapshots: usize,
    /// Export files read for the rows of the other chosen snapshots.
    pub read_files: usize,
    /// Whether the index was ranked from an earlier day's newest snapshots on.
    pub ranked_since_chosen: bool,
}

/// Keeps the day's `tallyfy_snapshots` in the state as index entries (`end_nanos`: the end of
/// the evaluation day), for [`index`] on a later day. A write that fails leaves none kept.
pub(crate) async fn keep_chosen(
    ctx: &SessionContext,
    loaded: &Loaded,
    state: &mut StateDir,
    day: chrono::NaiveDate,
    end_nanos: i64,
) -> Result<(), EngineError> {
    if !state.is_kept() {
        return Ok(());
    }
    let s = statement("tallyfy_chosen_index");
    let (schema, rows) = engine::collect(ctx, s).await?;
    let name = state.new_name(&format!("chosen-index-{day}.parquet"));
    state.manifest.chosen = None;
    match state.put(&name, schema, &rows).await {
        Ok(()) => {
            state.manifest.chosen = Some(super::state::Chosen {
                name,
                end_nanos,
                files: loaded.processes.iter().map(FileId::from).collect(),
            })
        }
        Err(e) => {
            tracing::warn!(state = %state.display(), error = %e, "Tallyfy snapshots not kept")
        }
    }
    Ok(())
}

pub(super) fn statement(name: &str) -> &'static registry::Statement {
    Tallyfy::STATEMENTS
        .iter()
        .find(|s| s.name == name)
        .expect("a registered Tallyfy statement")
}

fn register_err<E: std::fmt::Display>(table: &str) -> impl Fn(E) -> EngineError + '_ {
    move |e| EngineError::Register {
        table: table.to_string(),
        message: e.to_string(),
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

/// More index files than this and they are merged into files of about a group's entries.
const MAX_INDEX_FILES: usize = 32;

/// The state's index files in consecutive groups of at most `max_rows` entries (a larger file
/// is a group of its own). [`newest`] ranks a group at a time, so its memory is bounded by a
/// group (and by the processes), not by the exports; on the benchmark data an entry stands
/// for about 8 export rows, and each group costs a pass (BENCHMARKS.md).
fn groups(index: &[IndexFile], max_rows: u64) -> Vec<std::ops::Range<usize>> {
    let mut out = Vec::new();
    let (mut start, mut rows) = (0, 0u64);
    for (i, f) in index.iter().enumerate() {
        if i > start && rows.saturating_add(f.rows) > max_rows {
            out.push(start..i);
            (start, rows) = (i, 0);
        }
        rows += f.rows;
    }
    if start < index.len() {
        out.push(start..index.len());
    }
    out
}

/// Indexes the export files the state has not (`sql/tallyfy_file_index.sql`, a part of files
/// of at most `loaded.part_rows` rows at a time) and writes each part's entries to the state;
/// merges the index files when there are many. Returns what [`newest`] ranks, in groups (of
/// at most as many entries) it ranks one at a time, and the index's schema. With the newest
/// snapshots of an earlier day of the same files (`end_nanos` is the evaluation day's end),
/// that is one group: those, the entries of their files from after that day, and the entries
/// of files indexed since.
pub(crate) async fn index(
    ctx: &SessionContext,
    loaded: &Loaded,
    state: &mut StateDir,
    end_nanos: i64,
    built: &mut Built,
) -> Result<(Vec<Vec<Entries>>, SchemaRef), EngineError> {
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
    // As many index entries are ranked at once as export rows are indexed.
    let group_rows = loaded.part_rows as u64;
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
            rows: batches.iter().map(|b| b.num_rows() as u64).sum(),
        });
    }
    built.indexed_files = new.len();
    built.index_parts = parts.len();
    ctx.deregister_table("tallyfy_raw_part")
        .map_err(|e| engine::statement_err(s, e))?;
    state.register(ctx);
    if state.manifest.index.len() > MAX_INDEX_FILES {
        merge(ctx, state, &schema, group_rows).await?;
    }
    let earlier = state
        .manifest
        .chosen
        .as_ref()
        .filter(|c| c.end_nanos <= end_nanos && c.files.iter().all(|f| current.contains(f)));
    if let Some(c) = earlier {
        built.ranked_since_chosen = true;
        let then: HashSet<&FileId> = c.files.iter().collect();
        let mut group = vec![Entries {
            url: state.url(&c.name),
            from_nanos: None,
            chosen: true,
        }];
        group.extend(state.manifest.index.iter().map(|f| {
            Entries {
                url: state.url(&f.name),
                // A file ranked then: only its entries from after that day.
                from_nanos: f
                    .files
                    .iter()
                    .all(|id| then.contains(id))
                    .then_some(c.end_nanos),
                chosen: false,
            }
        }));
        built.rank_groups = 1;
        return Ok((vec![group], schema));
    }
    let groups = groups(&state.manifest.index, group_rows);
    built.rank_groups = groups.len();
    let urls = groups
        .into_iter()
        .map(|g| {
            state.manifest.index[g]
                .iter()
                .map(|f| Entries {
                    url: state.url(&f.name),
                    from_nanos: None,
                    chosen: false,
                })
                .collect()
        })
        .collect();
    Ok((urls, schema))
}

/// A file of index entries to rank: all of them, or those from `from_nanos` on.
pub(crate) struct Entries {
    url: String,
    from_nanos: Option<i64>,
    /// An earlier day's newest snapshots: one entry per process.
    chosen: bool,
}

/// Registers `tallyfy_file_index` as the entries of `group`.
async fn register_entries(
    ctx: &SessionContext,
    group: &[&Entries],
    schema: &SchemaRef,
) -> Result<(), EngineError> {
    let s = statement("tallyfy_file_index");
    let err = |e| engine::statement_err(s, e);
    let mut all: Option<datafusion::prelude::DataFrame> = None;
    for e in group {
        let options = datafusion::prelude::ParquetReadOptions::default().schema(schema);
        let mut df = ctx
            .read_parquet(e.url.as_str(), options)
            .await
            .map_err(err)?;
        if let Some(from) = e.from_nanos {
            let from = datafusion::scalar::ScalarValue::TimestampNanosecond(Some(from), None);
            df = df
                .filter(
                    datafusion::prelude::col("snapshot_at").gt_eq(datafusion::prelude::lit(from)),
                )
                .map_err(err)?;
        }
        all = Some(match all {
            None => df,
            Some(all) => all.union(df).map_err(err)?,
        });
    }
    ctx.deregister_table(s.name).map_err(err)?;
    match all {
        Some(df) => ctx
            .register_table(s.name, df.into_view())
            .map(|_| ())
            .map_err(err),
        None => engine::register_batches(ctx, s.name, vec![], schema.clone()),
    }
}

/// `earlier`'s rows of the processes that have a row in `candidates`, and its other rows
/// with their schema. `earlier` is scanned twice (a semi- and an anti-join) rather than held
/// in memory twice.
async fn split_by_process(
    ctx: &SessionContext,
    candidates: &[RecordBatch],
    earlier: DataFrame,
) -> datafusion::error::Result<(Vec<RecordBatch>, (SchemaRef, Vec<RecordBatch>))> {
    // The candidates' ids first: the join holds them, not the earlier snapshots.
    let column = |b: &RecordBatch| {
        b.column_by_name("process_id").cloned().ok_or_else(|| {
            datafusion::error::DataFusionError::Plan("no process_id among the candidates".into())
        })
    };
    let kind = match candidates.first() {
        Some(b) => column(b)?.data_type().clone(),
        None => DataType::Utf8,
    };
    let id = Arc::new(Schema::new(vec![Field::new("candidate_id", kind, true)]));
    let ids = candidates
        .iter()
        .map(|b| Ok(RecordBatch::try_new(id.clone(), vec![column(b)?])?))
        .collect::<datafusion::error::Result<Vec<_>>>()?;
    let ids = ctx.read_table(Arc::new(MemTable::try_new(id, vec![ids])?))?;
    let of = |join| {
        ids.clone().join(
            earlier.clone(),
            join,
            &["candidate_id"],
            &["process_id"],
            None,
        )
    };
    let ranked = of(JoinType::RightSemi)?.collect().await?;
    let others = of(JoinType::RightAnti)?;
    let schema = others.schema().inner().clone();
    let rows = others.collect().await?;
    let schema = rows.first().map_or(schema, |b| b.schema());
    Ok((ranked, (schema, rows)))
}

/// `a` with each field nullable where it is in `a` or in `b` (the same fields).
fn nullable_where_either(a: &SchemaRef, b: &SchemaRef) -> SchemaRef {
    let fields: Vec<Field> = a
        .fields()
        .iter()
        .zip(b.fields())
        .map(|(x, y)| {
            x.as_ref()
                .clone()
                .with_nullable(x.is_nullable() || y.is_nullable())
        })
        .collect();
    Arc::new(Schema::new(fields))
}

/// Rewrites each group of index files as one file.
async fn merge(
    ctx: &SessionContext,
    state: &mut StateDir,
    schema: &SchemaRef,
    group_rows: u64,
) -> Result<(), EngineError> {
    let s = statement("tallyfy_file_index");
    let mut merged = Vec::new();
    for (n, g) in groups(&state.manifest.index, group_rows)
        .into_iter()
        .enumerate()
    {
        let files = &state.manifest.index[g];
        if files.len() == 1 {
            merged.push(files[0].clone());
            continue;
        }
        let urls: Vec<String> = files.iter().map(|f| state.url(&f.name)).collect();
        register_parquet(ctx, s.name, &urls, schema.clone())?;
        let rows = ctx
            .table(s.name)
            .await
            .map_err(|e| engine::statement_err(s, e))?
            .collect()
            .await
            .map_err(|e| engine::statement_err(s, e))?;
        let name = state.new_name(&format!("index-merged-{n}.parquet"));
        state
            .put(&name, schema.clone(), &rows)
            .await
            .map_err(register_err(s.name))?;
        merged.push(IndexFile {
            name,
            files: files.iter().flat_map(|f| f.files.clone()).collect(),
            rows: files.iter().map(|f| f.rows).sum(),
        });
    }
    state.manifest.index = merged;
    Ok(())
}

/// Registers `tallyfy_snapshots` in memory (one row per process): the newest snapshot of each
/// process in the index as of the day (`tallyfy_params`). The index is ranked a group of files
/// at a time, each group's snapshots with the newest so far of the processes it has entries
/// of (the others' are kept as they are): `tallyfy_snapshots` keeps `tallyfy_file_snapshots`'
/// columns, so the newest of those is again the newest.
pub(crate) async fn newest(
    ctx: &SessionContext,
    groups: &[Vec<Entries>],
    index_schema: SchemaRef,
) -> Result<(), EngineError> {
    let (index, files, newest) = (
        statement("tallyfy_file_index"),
        statement("tallyfy_file_snapshots"),
        statement("tallyfy_snapshots"),
    );
    // No index file: one pass over an empty index, for the columns.
    let none = [Vec::new()];
    let groups = if groups.is_empty() { &none[..] } else { groups };
    let (mut schema, mut kept): (Option<SchemaRef>, Vec<RecordBatch>) = (None, Vec::new());
    for group in groups {
        let (before, entries): (Vec<&Entries>, Vec<&Entries>) =
            group.iter().partition(|e| e.chosen);
        register_entries(ctx, &entries, &index_schema).await?;
        let (found, mut candidates) = engine::collect(ctx, files).await?;
        // The newest so far (of the groups before, or an earlier day's) of a process with no
        // entry here is still its newest: only the processes with entries here are ranked
        // again (on a nightly run a few, against a sort of every process).
        let earlier = match (schema.take(), before.is_empty()) {
            (Some(so_far), _) => Some(
                MemTable::try_new(so_far, vec![std::mem::take(&mut kept)])
                    .and_then(|t| ctx.read_table(Arc::new(t)))
                    .map_err(|e| engine::statement_err(newest, e))?,
            ),
            (None, false) => {
                register_entries(ctx, &before, &index_schema).await?;
                Some(engine::plan(ctx, files).await?)
            }
            (None, true) => None,
        };
        let unranked = match earlier {
            None => None,
            Some(earlier) => {
                let (ranked, unranked) = split_by_process(ctx, &candidates, earlier)
                    .await
                    .map_err(|e| engine::statement_err(files, e))?;
                candidates.extend(ranked);
                Some(unranked)
            }
        };
        engine::register_batches(ctx, files.name, candidates, found)?;
        let (mut chosen, mut rows) = engine::collect(ctx, newest).await?;
        if let Some((unranked_schema, unranked)) = unranked {
            chosen = nullable_where_either(&chosen, &unranked_schema);
            rows.extend(unranked);
        }
        (schema, kept) = (Some(chosen), rows);
    }
    let schema = schema.expect("one pass at least");
    engine::register_batches(ctx, newest.name, kept, schema)?;
    // The entries per (process, file) would only mislead a key result's SQL.
    for name in [index.name, files.name] {
        ctx.deregister_table(name)
            .map_err(|e| engine::statement_err(files, e))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::array::{AsArray, StringArray};

    /// An earlier day's snapshots are ranked again only where their process has a candidate;
    /// the others are kept as they are.
    #[tokio::test]
    async fn earlier_snapshots_are_ranked_again_only_where_a_process_has_a_candidate() {
        let ctx = SessionContext::new();
        let schema = Arc::new(Schema::new(vec![
            Field::new("process_id", DataType::Utf8, true),
            Field::new("src_file", DataType::Utf8, true),
        ]));
        let batch = |ids: &[&str], file: &str| {
            RecordBatch::try_new(
                schema.clone(),
                vec![
                    Arc::new(StringArray::from(ids.to_vec())),
                    Arc::new(StringArray::from(vec![file; ids.len()])),
                ],
            )
            .unwrap()
        };
        let ids = |batches: &[RecordBatch]| {
            let mut ids: Vec<String> = batches
                .iter()
                .flat_map(|b| {
                    let c = b.column_by_name("process_id").unwrap().as_string::<i32>();
                    c.iter().map(|s| s.unwrap().to_string()).collect::<Vec<_>>()
                })
                .collect();
            ids.sort();
            ids
        };
        let earlier = ctx.read_batch(batch(&["a", "c", "d"], "old")).unwrap();
        let candidates = [batch(&["a", "b"], "new")];
        let (ranked, unranked) = split_by_process(&ctx, &candidates, earlier).await.unwrap();
        assert_eq!(ids(&ranked), ["a"]);
        // The earlier snapshot itself, to be ranked with the candidates.
        let files = ranked[0].column_by_name("src_file").unwrap();
        assert_eq!(files.as_string::<i32>().value(0), "old");
        assert_eq!(ids(&unranked.1), ["c", "d"]);
        // No candidates: every earlier snapshot is kept as it is.
        let earlier = ctx.read_batch(batch(&["a", "c"], "old")).unwrap();
        let (ranked, unranked) = split_by_process(&ctx, &[], earlier).await.unwrap();
        assert!(ranked.iter().all(|b| b.num_rows() == 0));
        assert_eq!(ids(&unranked.1), ["a", "c"]);
    }
}
