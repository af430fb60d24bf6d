//! A bounded read of the earlier snapshots. `<output>/_okrflow/state/history/` keeps the rows
//! of the `kr_snapshots` dates up to `through` that a later run can still use
//! (`sql/kr_history_kept.sql`: a few per key result, and the valued days of its window), with
//! the partition files they came from and the windows they were kept for. A run of a later
//! date reads those rows and only the partitions written since; a run of an earlier date, a
//! run whose key results' windows differ, or one after a kept partition was rewritten or
//! removed, reads every partition as before. Either way it then keeps the rows anew. Like the
//! Tallyfy state it is only a cache: when it cannot be read, every partition is. Either way
//! only partitions of runs recorded in `runs` are read (a run killed half-way through its
//! commit is not history).

use super::SinkError;
use super::history::{self, history_schema};
use crate::engine::{self, registry};
use crate::storage::Opened;
use chrono::NaiveDate;
use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::datatypes::{DataType, Field, Schema};
use datafusion::prelude::{ParquetReadOptions, SessionContext, col, lit};
use futures::TryStreamExt;
use object_store::ObjectStoreExt;
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::Arc;

/// The state's folder under the output.
const FOLDER: &str = "_okrflow/state/history";

/// A `kr_snapshots` partition file as a run saw it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct PartFile {
    /// Below `kr_snapshots/`: `as_of=DATE/part-….parquet`.
    key: String,
    size: u64,
    mtime_nanos: i64,
}

/// `manifest.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Manifest {
    /// A hash of `sql/kr_history_kept.sql`, which chose the rows, and of [`READS`].
    sql: String,
    /// The newest date whose rows are kept.
    through: NaiveDate,
    /// A hash of the key results' windows the rows were kept for ([`windows`]).
    windows: String,
    /// The Parquet file of the kept rows, in the folder.
    rows: String,
    /// The partition files of the dates up to `through`.
    files: Vec<PartFile>,
}

/// What else decides the kept rows beside the SQL: a state kept before it read only
/// committed runs may hold rows of a run killed half-way through its commit, and is not used.
const READS: &str = "rows of runs recorded in runs";

fn version() -> String {
    use sha2::Digest;
    let hash = sha2::Sha256::digest(format!("{}\n{READS}", registry::HISTORY_KEPT.sql).as_bytes());
    hash[..8].iter().map(|b| format!("{b:02x}")).collect()
}

/// A hash of every key result's window (id, start, due, period's end): the kept rows hold
/// the valued days of these windows, so a run with other windows reads every snapshot.
async fn windows(ctx: &SessionContext, output: &Opened) -> Result<String, SinkError> {
    use sha2::Digest;
    let e = |e: datafusion::error::DataFusionError| err(output, e.strip_backtrace());
    let batches = ctx
        .sql("SELECT kr_id, window_start, due, period_end FROM kr_definitions ORDER BY kr_id")
        .await
        .map_err(e)?
        .collect()
        .await
        .map_err(e)?;
    let text = datafusion::arrow::util::pretty::pretty_format_batches(&batches)
        .map_err(|x| err(output, x.to_string()))?
        .to_string();
    let hash = sha2::Sha256::digest(text.as_bytes());
    Ok(hash[..8].iter().map(|b| format!("{b:02x}")).collect())
}

fn err(output: &Opened, message: String) -> SinkError {
    SinkError::History {
        path: PathBuf::from(output.url(FOLDER)),
        message,
    }
}

/// Every partition file of `kr_snapshots`, with its date (one listing).
async fn partitions(output: &Opened) -> Result<Vec<(NaiveDate, PartFile)>, SinkError> {
    let root = output.path("kr_snapshots");
    let listed: Vec<_> = output
        .store
        .list(Some(&root))
        .try_collect()
        .await
        .map_err(|e| err(output, e.to_string()))?;
    let mut files: Vec<(NaiveDate, PartFile)> = listed
        .into_iter()
        .filter_map(|o| {
            let parts: Vec<String> = o
                .location
                .prefix_match(&root)?
                .map(|p| p.as_ref().to_string())
                .collect();
            let day = parts.first()?.strip_prefix("as_of=")?.parse().ok()?;
            parts.last()?.ends_with(".parquet").then(|| {
                (
                    day,
                    PartFile {
                        key: parts.join("/"),
                        size: o.size,
                        mtime_nanos: o.last_modified.timestamp_nanos_opt().unwrap_or(0),
                    },
                )
            })
        })
        .collect();
    files.sort();
    Ok(files)
}

async fn read_manifest(output: &Opened) -> Option<Manifest> {
    let got = output
        .store
        .get(&output.path(&format!("{FOLDER}/manifest.json")))
        .await
        .ok()?;
    let bytes = got.bytes().await.ok()?;
    serde_json::from_slice(&bytes).ok()
}

/// Registers `kr_history` for a run of `as_of`: from the kept rows and the partitions written
/// since when they are usable, else from every partition; then keeps the rows a later run
/// needs. Returns the rows registered.
pub async fn register(
    ctx: &SessionContext,
    output: &Opened,
    as_of: NaiveDate,
) -> Result<usize, SinkError> {
    let _one = crate::storage::in_process_lock(&output.url(FOLDER))
        .lock_owned()
        .await;
    let files = partitions(output).await?;
    let windows = windows(ctx, output).await?;
    let usable = read_manifest(output).await.filter(|m| {
        let up_to: BTreeSet<&PartFile> = files
            .iter()
            .filter(|(d, _)| *d <= m.through)
            .map(|(_, f)| f)
            .collect();
        m.sql == version()
            && m.windows == windows
            && as_of > m.through
            && up_to == m.files.iter().collect()
    });
    let rows = match &usable {
        Some(m) => match from_kept(ctx, output, m, &files, as_of).await {
            Ok(rows) => rows,
            Err(e) => {
                tracing::warn!(state = %output.url(FOLDER), error = %e, "kept history not usable: every snapshot is read");
                history::register(ctx, output).await?
            }
        },
        None => history::register(ctx, output).await?,
    };
    if let Err(e) = keep(ctx, output, &files, windows).await {
        tracing::warn!(state = %output.url(FOLDER), error = %e, "history not kept: the next run reads every snapshot");
    }
    Ok(rows)
}

/// `kr_history` from the kept rows and the partitions after `through` and before `as_of`.
async fn from_kept(
    ctx: &SessionContext,
    output: &Opened,
    m: &Manifest,
    files: &[(NaiveDate, PartFile)],
    as_of: NaiveDate,
) -> Result<usize, SinkError> {
    let e = |e: datafusion::error::DataFusionError| err(output, e.strip_backtrace());
    let schema = history_schema();
    output.register(ctx);
    let mut all = ctx
        .read_parquet(
            output.url(&format!("{FOLDER}/{}", m.rows)),
            ParquetReadOptions::default().schema(&schema),
        )
        .await
        .map_err(e)?;
    // A newer partition's columns, under the history's names (missing ones NULL), and the
    // run that wrote it: only a run recorded in `runs` is history.
    let columns = super::parquet::without(&schema, "as_of");
    let mut read = columns.fields().to_vec();
    read.push(Arc::new(Field::new("run_id", DataType::Utf8, true)));
    let read = Schema::new(read);
    for (day, f) in files.iter().filter(|(d, _)| *d > m.through && *d < as_of) {
        let recorded = history::recorded_runs(ctx, output, *day).await?;
        if recorded.is_empty() {
            tracing::debug!(%day, file = %f.key, "no run of the date is recorded in runs: not history");
            continue;
        }
        let part = ctx
            .read_parquet(
                output.url(&format!("kr_snapshots/{}", f.key)),
                ParquetReadOptions::default().schema(&read),
            )
            .await
            .map_err(e)?
            .filter(col("run_id").in_list(recorded.into_iter().map(lit).collect(), false))
            .map_err(e)?;
        let mut select = vec![lit(day.to_string()).alias("as_of")];
        select.extend(columns.fields().iter().map(|c| col(c.name())));
        all = all.union(part.select(select).map_err(e)?).map_err(e)?;
    }
    let batches = all.collect().await.map_err(e)?;
    let rows = batches.iter().map(RecordBatch::num_rows).sum();
    engine::register_batches(ctx, "kr_history", batches, schema)
        .map_err(|x| err(output, x.to_string()))?;
    Ok(rows)
}

/// Writes the rows of the registered `kr_history` a later run needs, and a manifest naming
/// them and the partitions they summarise; deletes the rows it replaces.
async fn keep(
    ctx: &SessionContext,
    output: &Opened,
    files: &[(NaiveDate, PartFile)],
    windows: String,
) -> Result<(), SinkError> {
    let (schema, rows) = engine::collect(ctx, &registry::HISTORY_KEPT)
        .await
        .map_err(|e| err(output, e.to_string()))?;
    let mut through = None;
    for b in &rows {
        let days = datafusion::arrow::compute::cast(
            b.column(0),
            &datafusion::arrow::datatypes::DataType::Utf8,
        )
        .map_err(|e| err(output, e.to_string()))?;
        for d in datafusion::arrow::array::AsArray::as_string::<i32>(&days)
            .iter()
            .flatten()
        {
            let d: NaiveDate = d.parse().map_err(|_| err(output, format!("as_of {d}")))?;
            through = through.max(Some(d));
        }
    }
    let Some(through) = through else {
        return Ok(());
    };
    let name = format!("kept-{}.parquet", uuid::Uuid::new_v4().simple());
    let bytes = super::parquet::encode(schema, &rows).map_err(|e| err(output, e))?;
    let put = |relative: String, bytes: Vec<u8>| async move {
        output
            .store
            .put(&output.path(&relative), bytes.into())
            .await
            .map_err(|e| err(output, e.to_string()))
    };
    put(format!("{FOLDER}/{name}"), bytes).await?;
    let manifest = Manifest {
        sql: version(),
        through,
        windows,
        rows: name.clone(),
        files: files
            .iter()
            .filter(|(d, _)| *d <= through)
            .map(|(_, f)| f.clone())
            .collect(),
    };
    let json = serde_json::to_vec_pretty(&manifest).map_err(|e| err(output, e.to_string()))?;
    put(format!("{FOLDER}/manifest.json"), json).await?;
    let root = output.path(FOLDER);
    let old: Vec<_> = output
        .store
        .list(Some(&root))
        .try_collect()
        .await
        .map_err(|e| err(output, e.to_string()))?;
    for o in old {
        let file = o.location.filename().unwrap_or_default();
        if file.starts_with("kept-") && file != name {
            let _ = output.store.delete(&o.location).await;
        }
    }
    Ok(())
}
