//! The Tallyfy views of one evaluation date over the registered exports: `tallyfy_params`,
//! the snapshot index and the chosen snapshots ([`super::snapshots`]), `tallyfy_latest`
//! narrowed to the columns the day's queries read ([`super::latest`]), and the views of
//! `sql/` over them.

use super::query::{self, QueryParams};
use super::snapshots::{self, Built};
use super::state::StateDir;
use super::{Tallyfy, latest, loader};
use crate::engine::{self, EngineError, midnight, registry};
use crate::sources::SourceKind;
use chrono::NaiveDate;
use datafusion::arrow::array::TimestampNanosecondArray;
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::common::tree_node::TreeNodeRecursion;
use datafusion::logical_expr::LogicalPlan;
use datafusion::prelude::SessionContext;
use std::collections::HashSet;
use std::sync::Arc;

/// Registers `tallyfy_params` (the end of the evaluation day) and the Tallyfy views of
/// `sql/` over the exports `loaded` registered. `scratch` is a folder that must outlive the
/// queries: `tallyfy_latest` is written there. `state` is the connection's state
/// ([`StateDir::open`]; a scratch one reads every export): what it holds is used, and the
/// day's new index entries and rows are added to it.
///
/// `queries` are the SQL (with parameters) that will run on the views: `tallyfy_latest` is
/// computed with only the columns they read, the others NULL. `None` computes every column,
/// for queries not known in advance (and keeps no rows in the state).
pub async fn register_views(
    ctx: &SessionContext,
    loaded: &loader::Loaded,
    day: NaiveDate,
    scratch: &std::path::Path,
    queries: Option<&[(&str, QueryParams)]>,
    state: &mut StateDir,
) -> Result<Built, EngineError> {
    let err = |message: String| EngineError::Register {
        table: "tallyfy_params".into(),
        message,
    };
    let end = midnight(day.succ_opt().unwrap_or(day))
        .to_array()
        .map_err(|e| err(e.to_string()))?;
    let end_nanos = match end.as_any().downcast_ref::<TimestampNanosecondArray>() {
        Some(a) if a.len() == 1 => a.value(0),
        _ => return Err(err("the end of the day is not a timestamp".into())),
    };
    let batch =
        RecordBatch::try_from_iter(vec![("as_of_end", end)]).map_err(|e| err(e.to_string()))?;
    engine::register_batches(ctx, "tallyfy_params", vec![batch.clone()], batch.schema())?;
    let mut built = Built::default();
    let started = std::time::Instant::now();
    let (groups, index_schema) =
        snapshots::index(ctx, loaded, state, end_nanos, &mut built).await?;
    // One row per process: small, and tallyfy_latest's joins build on it.
    snapshots::newest(ctx, &groups, index_schema).await?;
    snapshots::keep_chosen(ctx, loaded, state, day, end_nanos).await?;
    tracing::debug!(%day, ?built, ms = started.elapsed().as_millis(), "tallyfy_snapshots computed");
    // Computed once per evaluation date, since every key result's SQL reads them: the rows of
    // each process's chosen snapshot, written to `scratch` (they grow with the exports), and
    // one row per process, kept in memory (BENCHMARKS.md has the measurements). Reading and
    // typing every column of every export row cost more than all the queries together.
    let statements = Tallyfy::STATEMENTS;
    let (latest, after) = statements
        .iter()
        .position(|s| s.name == "tallyfy_latest")
        .map(|i| (&statements[i], &statements[i + 1..]))
        .expect("tallyfy_latest is registered");
    let started = std::time::Instant::now();
    let read = match queries {
        None => None,
        Some(queries) => {
            let mut read = read_columns(ctx, loaded, latest, after, queries).await?;
            // What tells a row's snapshot, for the state.
            read.extend(["snapshot_process_id", "snapshot_file"].map(String::from));
            let mut names: Vec<&String> = read.iter().collect();
            names.sort();
            tracing::debug!(
                %day,
                columns = ?names,
                ms = started.elapsed().as_millis(),
                "tallyfy_latest columns read"
            );
            Some(read)
        }
    };
    latest::build(ctx, loaded, state, day, scratch, read.as_ref(), &mut built).await?;
    tracing::debug!(%day, ?built, ms = started.elapsed().as_millis(), "tallyfy_latest and tallyfy_processes computed");
    // The views over them (tallyfy_processes is already computed).
    for s in after.iter().filter(|s| s.name != "tallyfy_processes") {
        engine::register_view(ctx, s).await?;
    }
    Ok(built)
}

/// [`register_views`] with a state of its own in `scratch`, kept nowhere: every export is read.
pub async fn register_views_once(
    ctx: &SessionContext,
    loaded: &loader::Loaded,
    day: NaiveDate,
    scratch: &std::path::Path,
    queries: Option<&[(&str, QueryParams)]>,
) -> Result<Built, EngineError> {
    let mut state = StateDir::open(None, "scratch", &scratch.join("state"))
        .await
        .map_err(|e| EngineError::Register {
            table: "tallyfy_latest".into(),
            message: e.to_string(),
        })?;
    register_views(ctx, loaded, day, scratch, queries, &mut state).await
}

/// The columns of `tallyfy_latest` that `queries` read, directly or through the `views` over
/// it, plus those `tallyfy_processes` reads (it is computed whole). Found by planning each
/// query against an empty stand-in with `latest`'s columns, so DataFusion's own projection
/// pruning decides. A query that does not plan adds nothing: it fails with its own error
/// when it runs.
async fn read_columns(
    ctx: &SessionContext,
    loaded: &loader::Loaded,
    latest: &registry::Statement,
    views: &[registry::Statement],
    queries: &[(&str, QueryParams)],
) -> Result<HashSet<String>, EngineError> {
    // tallyfy_latest's columns are tallyfy_latest_read's: planned over no rows.
    let err = |e| engine::statement_err(latest, e);
    let snapshots = ctx.table("tallyfy_snapshots").await.map_err(err)?;
    let snapshots = Arc::new(snapshots.schema().as_arrow().clone());
    engine::register_batches(ctx, "tallyfy_snapshots_to_read", vec![], snapshots)?;
    loaded
        .register_scan(ctx, "tallyfy_raw_part", &[])
        .map_err(err)?;
    let typed = snapshots::statement("tallyfy_latest_read");
    let schema = snapshots::schema_of(ctx, typed).await?;
    engine::register_batches(ctx, latest.name, vec![], schema)?;
    for s in views {
        engine::register_view(ctx, s).await?;
    }
    let mut read = HashSet::new();
    let processes = ("SELECT * FROM tallyfy_processes", None);
    let planned = queries.iter().map(|(sql, params)| (*sql, Some(params)));
    // The same text reads the same columns whatever its parameters: planned once.
    let mut seen = HashSet::new();
    for (sql, params) in std::iter::once(processes).chain(planned) {
        if !seen.insert(sql) {
            continue;
        }
        let Ok(Ok(plan)) = query::plan(ctx, sql, params)
            .await
            .map(|df| df.into_optimized_plan())
        else {
            continue;
        };
        let _ = plan.apply_with_subqueries(|node| {
            if let LogicalPlan::TableScan(scan) = node
                && scan.table_name.table() == "tallyfy_latest"
            {
                let fields = scan.source.schema().fields().clone();
                let indices: Vec<usize> = match &scan.projection {
                    Some(p) => p.clone(),
                    None => (0..fields.len()).collect(),
                };
                read.extend(indices.into_iter().map(|i| fields[i].name().clone()));
            }
            Ok(TreeNodeRecursion::Continue)
        });
    }
    Ok(read)
}
