//! Tallyfy Analytics exports: per-process Parquet snapshots, every column stored as a string.
//!
//! - [`config`]: the connection and key-result settings;
//! - [`kind`]: Tallyfy as a [`crate::sources::SourceKind`];
//! - [`loader`]: lists the export files and registers them, with their file name and time,
//!   as the raw table the SQL in `sql/tallyfy_*.sql` deduplicates and types;
//! - [`query`]: checks and runs a key result's SQL with bound parameters;
//! - [`state`]: what the export files told earlier runs, kept under the output;
//! - [`snapshots`]: the layers that read the exports, with that state, and [`latest`] the
//!   typed rows of the chosen snapshots, in segments;
//! - [`check`]: plans every key result's SQL against the views over no exports;
//! - [`preview`]: the rows a key result's query aggregated, for `preview`;
//! - [`generate`]: the deterministic generator of the bundled sample exports.

pub mod check;
pub mod config;
pub mod generate;
pub mod kind;
pub mod latest;
pub mod loader;
pub mod preview;
pub mod query;
mod rows;
pub mod snapshots;
pub mod state;

use crate::engine::{self, EngineError, midnight, registry};
use crate::model::Location;
use crate::sources::{KeyResult, KrSource, Link};
use crate::sources::{KrValue, Measured, SourceError};
use chrono::NaiveDate;
use datafusion::arrow::array::TimestampNanosecondArray;
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::common::tree_node::TreeNodeRecursion;
use datafusion::logical_expr::LogicalPlan;
use datafusion::prelude::SessionContext;
use futures::StreamExt;
use query::QueryParams;
use snapshots::Built;
use state::StateDir;
use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;

pub use kind::Tallyfy;

/// Extracts the values of the key results of one Tallyfy connection. They share one session;
/// a connection that cannot be read fails each of them with that error. Views are registered
/// once per evaluation date (dates differ only between periods). For the key result `show`
/// (`preview`), also the rows its query aggregated, read from the same views while they
/// exist: the exports are scanned once.
///
/// With `output`, the connection's state is read from and saved under it
/// (`_okrflow/state/tallyfy/<connection>/`, [`state`]): unchanged export files are not read
/// again for what they told an earlier run.
pub async fn extract_showing(
    connection: &str,
    location: &Location,
    krs: &[&KeyResult],
    as_of: NaiveDate,
    show: Option<&str>,
    output: Option<&crate::storage::Opened>,
) -> Result<(Vec<KrValue>, Option<String>), EngineError> {
    let mut shown = None;
    // SQL that does not plan fails its key result before any export is read.
    let mut values = Vec::new();
    // The check needs a scratch folder too; when it cannot run, the queries still fail on
    // their own below, each with its key result.
    let unplanned = check::plan_queries(krs, as_of).await.unwrap_or_else(|e| {
        tracing::warn!(connection, error = %e, "Tallyfy SQL not checked before reading the exports");
        BTreeMap::new()
    });
    for (id, message) in &unplanned {
        let k = krs
            .iter()
            .find(|k| &k.id == id)
            .expect("a key result of the list");
        let e = SourceError::Plan {
            kr_id: id.clone(),
            line: k.source_line.unwrap_or(0),
            message: message.clone(),
        };
        tracing::warn!(kr = %id, error = %e, "key result failed");
        values.push(KrValue {
            kr_id: id.clone(),
            value: Err(e),
        });
    }
    let krs: Vec<&KeyResult> = krs
        .iter()
        .filter(|k| !unplanned.contains_key(&k.id))
        .copied()
        .collect();
    if krs.is_empty() {
        return Ok((values, shown));
    }
    let ctx = engine::new_session();
    let loaded = match loader::register(&ctx, connection, location).await {
        Ok(loaded) => loaded,
        Err(e) => {
            tracing::error!(connection, error = %e, "Tallyfy exports unreadable");
            values.extend(krs.iter().map(|k| KrValue {
                kr_id: k.id.clone(),
                value: Err(e.clone()),
            }));
            return Ok((values, shown));
        }
    };
    let mut by_date: BTreeMap<NaiveDate, Vec<&KeyResult>> = BTreeMap::new();
    for k in krs {
        by_date.entry(k.value_date(as_of)).or_default().push(k);
    }
    // Without a state (an unwritable output, or none) every export is read, as on a first run.
    let scratch_state = tempfile::tempdir();
    let mut state = match &scratch_state {
        Ok(dir) => StateDir::open(output, connection, dir.path()).await,
        Err(e) => Err(format!("cannot make a scratch folder: {e}")),
    };
    for (day, krs) in by_date {
        let queries: Vec<(&KeyResult, &str, QueryParams)> = krs
            .iter()
            .filter_map(|k| match &k.source {
                Some(KrSource {
                    link: Link::Tallyfy(sql),
                    ..
                }) => Some((
                    *k,
                    sql.as_str(),
                    QueryParams {
                        as_of: day,
                        period_start: k.period.start,
                        period_end: k.period.end,
                    },
                )),
                _ => None,
            })
            .collect();
        let planned: Vec<(&str, QueryParams)> = queries
            .iter()
            .map(|(_, sql, params)| (*sql, *params))
            .collect();
        // The views of the day could not be built (the scratch folder is full or unwritable):
        // the day's key results fail with that, the others go on.
        let scratch = tempfile::tempdir();
        let built = match (&scratch, &mut state) {
            (Ok(dir), Ok(state)) => {
                let mut built =
                    register_views(&ctx, &loaded, day, dir.path(), Some(&planned), state)
                        .await
                        .map_err(|e| e.to_string());
                // What the state holds could not be read: once more, reading every export.
                if let Err(e) = &built
                    && !state.is_empty()
                {
                    state.forget(e);
                    let again = dir.path().join("again");
                    built = register_views(&ctx, &loaded, day, &again, Some(&planned), state)
                        .await
                        .map_err(|e| e.to_string());
                }
                built
            }
            (Err(e), _) => Err(format!("cannot make a scratch folder: {e}")),
            (_, Err(e)) => Err(e.clone()),
        };
        if let Err(message) = built {
            let e = SourceError::Unreadable {
                connection: connection.to_string(),
                location: location.to_string(),
                message: format!("the views of {day}: {message}"),
            };
            tracing::error!(connection, error = %e, "Tallyfy views could not be built");
            values.extend(krs.iter().map(|k| KrValue {
                kr_id: k.id.clone(),
                value: Err(e.clone()),
            }));
            continue;
        }
        let showing = queries
            .iter()
            .find(|(k, _, _)| Some(k.id.as_str()) == show)
            .map(|(k, sql, params)| (k.id.clone(), *sql, *params));
        // A few queries at a time: while one is planned (one thread), another reads.
        let ctx = &ctx;
        let runs = queries
            .into_iter()
            .map(|(k, sql, params)| async move { (k, query::run(ctx, &k.id, sql, &params).await) });
        let mut runs = futures::stream::iter(runs).buffered(QUERY_CONCURRENCY);
        while let Some((k, value)) = runs.next().await {
            match &value {
                Ok(Measured::Value(v)) => tracing::info!(kr = %k.id, value = v, "key result value"),
                Ok(Measured::NoData(note)) => {
                    tracing::info!(kr = %k.id, note = %note, "key result has no data yet")
                }
                Ok(Measured::Traced { .. }) => unreachable!("Tallyfy values are not traced"),
                Err(e) => tracing::warn!(kr = %k.id, error = %e, "key result failed"),
            }
            values.push(KrValue {
                kr_id: k.id.clone(),
                value,
            });
        }
        if let Some((id, sql, params)) = showing
            && values.iter().any(|v| v.kr_id == id && v.value.is_ok())
        {
            shown = preview::aggregated_rows(ctx, sql, &params).await;
        }
    }
    if let Ok(state) = &state
        && let Err(e) = state.save().await
    {
        tracing::warn!(connection, state = %state.display(), error = %e, "Tallyfy state not saved: the next run reads more");
    }
    Ok((values, shown))
}

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
    let (latest, after) = registry::TALLYFY
        .iter()
        .position(|s| s.name == "tallyfy_latest")
        .map(|i| (&registry::TALLYFY[i], &registry::TALLYFY[i + 1..]))
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
        .map_err(|message| EngineError::Register {
            table: "tallyfy_latest".into(),
            message,
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

/// How many key results' queries run at once on one evaluation date.
const QUERY_CONCURRENCY: usize = 4;

/// The 49 columns of the newest process export, in the documented order. Older files have
/// 45 (no milestone columns, no `process_completed_at`) or 48 (no `process_completed_at`);
/// columns are matched by name and missing ones read as NULL.
pub const PROCESS_COLUMNS: [&str; 49] = [
    "blueprint_id",
    "blueprint_name",
    "blueprint_version",
    "process_id",
    "process_name",
    "process_tag",
    "process_owner",
    "process_owner_id",
    "total_tasks_in_process",
    "tasks_completed",
    "process_status",
    "process_last_modified",
    "process_completed_at",
    "type",
    "has_form_fields",
    "kick_off_task_id",
    "kick_off_task_name",
    "process_task_id",
    "process_task_status",
    "process_task_name",
    "process_task_alias",
    "process_task_data_id",
    "process_task_data_name",
    "process_task_comment_id",
    "process_task_comment_name",
    "milestone_id",
    "milestone_name",
    "milestone_position",
    "user_assigned",
    "assigned_user_id",
    "guest_assigned",
    "total_users_assigned",
    "total_guests_assigned",
    "total_assignees",
    "completed_by",
    "assigned_or_shown_on",
    "due_by",
    "completed_on",
    "no_of_form_fields",
    "form_field_type",
    "question_in_form_field",
    "answer_in_form_field",
    "issue_reported",
    "no_of_issue_reported",
    "issue_resolved",
    "no_of_issue_resolved",
    "total_comments",
    "comment",
    "last_modified",
];

/// Columns added in the 48-column version (milestones).
pub const SINCE_48: [&str; 3] = ["milestone_id", "milestone_name", "milestone_position"];
/// The column added in the 49-column version.
pub const SINCE_49: [&str; 1] = ["process_completed_at"];

/// The columns of the members export (`members/*.parquet`).
pub const MEMBER_COLUMNS: [&str; 13] = [
    "id",
    "email",
    "full_name",
    "first_name",
    "last_name",
    "job_title",
    "team",
    "is_active",
    "is_suspended",
    "created_at",
    "last_login_at",
    "timezone",
    "country_id",
];
