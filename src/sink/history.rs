//! Earlier results, read back: `kr_history` holds every earlier `kr_snapshots` row (with its
//! `as_of` partition) so the scoring SQL can keep a failing key result's last good value;
//! backfills read which dates are committed, and with which definitions.
//!
//! Only rows of committed runs are history: a run is committed once its row is in `runs`
//! (switched in last). A run killed half-way through its commit leaves partitions switched in
//! with no `runs` row; [`register_committed`] and [`recorded_runs`] leave those out.

use super::SinkError;
use crate::engine::register_batches;
use crate::storage::Opened;
use chrono::NaiveDate;
use datafusion::arrow::array::{Array, AsArray};
use datafusion::arrow::datatypes::Float64Type;
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::datasource::file_format::parquet::ParquetFormat;
use datafusion::datasource::listing::ListingOptions;
use datafusion::prelude::SessionContext;
use futures::StreamExt;
use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::Arc;

/// The columns of earlier snapshots the scoring SQL reads.
pub fn history_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("as_of", DataType::Utf8, false),
        Field::new("kr_id", DataType::Utf8, true),
        Field::new("value", DataType::Float64, true),
        Field::new("status", DataType::Utf8, true),
        Field::new("stale", DataType::Boolean, true),
        Field::new("stale_since", DataType::Date32, true),
        Field::new("error", DataType::Utf8, true),
        Field::new("note", DataType::Utf8, true),
        Field::new("kr_definition_hash", DataType::Utf8, true),
    ]))
}

/// The SQL name of a history column's type.
fn sql_type(t: &DataType) -> &'static str {
    match t {
        DataType::Float64 => "DOUBLE",
        DataType::Boolean => "BOOLEAN",
        DataType::Date32 => "DATE",
        _ => "VARCHAR",
    }
}

/// Registers an empty `kr_history` (no earlier results).
pub fn register_empty(ctx: &SessionContext) -> Result<(), SinkError> {
    register_batches(ctx, "kr_history", vec![], history_schema()).map_err(|e| SinkError::History {
        path: PathBuf::new(),
        message: e.to_string(),
    })
}

/// Registers `kr_history` from `<output>/kr_snapshots/`, or empty when there is none yet.
pub async fn register(ctx: &SessionContext, output: &Opened) -> Result<usize, SinkError> {
    let dir = PathBuf::from(output.url("kr_snapshots/"));
    let err = |e: datafusion::error::DataFusionError| SinkError::History {
        path: dir.clone(),
        message: e.strip_backtrace(),
    };
    ctx.deregister_table("kr_history").map_err(err)?;
    if !register_committed(ctx, output, "kr_snapshots", "kr_history_files").await? {
        register_batches(ctx, "kr_history", vec![], history_schema()).map_err(|e| {
            SinkError::History {
                path: dir.clone(),
                message: e.to_string(),
            }
        })?;
        return Ok(0);
    }
    // Snapshots written before a column existed read it as null.
    let present = ctx
        .table_provider("kr_history_files")
        .await
        .map_err(err)?
        .schema();
    let columns = history_schema()
        .fields()
        .iter()
        .map(|f| match present.field_with_name(f.name()) {
            Ok(_) => format!("\"{}\"", f.name()),
            Err(_) => format!(
                "CAST(NULL AS {}) AS \"{}\"",
                sql_type(f.data_type()),
                f.name()
            ),
        })
        .collect::<Vec<_>>()
        .join(", ");
    let df = ctx
        .sql(&format!("SELECT {columns} FROM kr_history_files"))
        .await
        .map_err(err)?;
    let batches = df.collect().await.map_err(err)?;
    let rows = batches.iter().map(|b| b.num_rows()).sum();
    ctx.deregister_table("kr_history_files").map_err(err)?;
    let schema = batches
        .first()
        .map(|b| b.schema())
        .unwrap_or_else(history_schema);
    register_batches(ctx, "kr_history", batches, schema).map_err(|e| SinkError::History {
        path: dir.clone(),
        message: e.to_string(),
    })?;
    Ok(rows)
}

/// Registers the Parquet files of output table `table` (its `as_of` partitions) as `name`.
/// False, and nothing registered, when the table has no file yet.
pub async fn register_files(
    ctx: &SessionContext,
    output: &Opened,
    table: &str,
    name: &str,
) -> Result<bool, SinkError> {
    let url = output.url(&format!("{table}/"));
    let err = |message: String| SinkError::History {
        path: PathBuf::from(&url),
        message,
    };
    output.register(ctx);
    let first = output
        .store
        .list(Some(&output.path(table)))
        .next()
        .await
        .transpose()
        .map_err(|e| err(e.to_string()))?;
    if first.is_none() {
        return Ok(false);
    }
    let options = ListingOptions::new(Arc::new(ParquetFormat::default()))
        .with_file_extension(".parquet")
        .with_table_partition_cols(vec![("as_of".to_string(), DataType::Utf8)]);
    ctx.deregister_table(name)
        .map_err(|e| err(e.strip_backtrace()))?;
    ctx.register_listing_table(name, &url, options, None, None)
        .await
        .map_err(|e| err(e.strip_backtrace()))?;
    Ok(true)
}

/// Registers as `name` the rows of output table `table` whose run is recorded in `runs` (a
/// semi-join on `run_id`): the partitions a run killed half-way through its commit switched
/// in are left out. False, and nothing registered, when the table has no file yet.
pub async fn register_committed(
    ctx: &SessionContext,
    output: &Opened,
    table: &str,
    name: &str,
) -> Result<bool, SinkError> {
    use datafusion::logical_expr::JoinType;
    use datafusion::prelude::{col, lit};
    let err = |e: datafusion::error::DataFusionError| SinkError::History {
        path: PathBuf::from(output.url(&format!("{table}/"))),
        message: e.strip_backtrace(),
    };
    let files = format!("{name}_all");
    if !register_files(ctx, output, table, &files).await? {
        return Ok(false);
    }
    let rows = ctx.table(&files).await.map_err(err)?;
    let runs = format!("{name}_runs");
    let committed = if register_files(ctx, output, "runs", &runs).await? {
        let recorded = ctx
            .table(&runs)
            .await
            .map_err(err)?
            .select(vec![col("run_id").alias("recorded_run_id")])
            .map_err(err)?;
        rows.join(
            recorded,
            JoinType::LeftSemi,
            &["run_id"],
            &["recorded_run_id"],
            None,
        )
        .map_err(err)?
    } else {
        // No run has finished a commit: nothing is history yet.
        rows.filter(lit(false)).map_err(err)?
    };
    ctx.deregister_table(name).map_err(err)?;
    ctx.register_table(name, committed.into_view())
        .map_err(err)?;
    Ok(true)
}

/// The run ids `runs/as_of=<day>/` records: the run whose partitions of that date are
/// committed, none when no run of the date finished its commit.
pub async fn recorded_runs(
    ctx: &SessionContext,
    output: &Opened,
    day: NaiveDate,
) -> Result<Vec<String>, SinkError> {
    use futures::TryStreamExt;
    let dir = format!("runs/as_of={day}");
    let err = |message: String| SinkError::History {
        path: PathBuf::from(output.url(&format!("{dir}/"))),
        message,
    };
    let listed: Vec<_> = output
        .store
        .list(Some(&output.path(&dir)))
        .try_collect()
        .await
        .map_err(|e| err(e.to_string()))?;
    let schema = Schema::new(vec![Field::new("run_id", DataType::Utf8, true)]);
    let mut ids = Vec::new();
    for file in listed.iter().filter_map(|o| o.location.filename()) {
        if !file.ends_with(".parquet") {
            continue;
        }
        let batches = ctx
            .read_parquet(
                output.url(&format!("{dir}/{file}")),
                datafusion::prelude::ParquetReadOptions::default().schema(&schema),
            )
            .await
            .map_err(|e| err(e.strip_backtrace()))?
            .collect()
            .await
            .map_err(|e| err(e.strip_backtrace()))?;
        for b in &batches {
            let column = datafusion::arrow::compute::cast(b.column(0), &DataType::Utf8)
                .map_err(|e| err(e.to_string()))?;
            ids.extend(column.as_string::<i32>().iter().flatten().map(String::from));
        }
    }
    Ok(ids)
}

/// What a committed snapshot says of one key result on one date.
#[derive(Debug, Clone, PartialEq)]
pub struct Committed {
    /// The key result's definition hash then (`None` in snapshots older than the column).
    pub definition_hash: Option<String>,
    pub value: Option<f64>,
    pub error: Option<String>,
    /// Why there was no value, for a `no_data` row.
    pub note: Option<String>,
}

/// Makes sure table `name` has every column of `wanted`: snapshots written before a column
/// existed read it as NULL, so readers of older outputs (the report) keep working. The table
/// is registered again, as a view over the original, when a column is missing.
pub async fn pad_columns(
    ctx: &SessionContext,
    name: &str,
    wanted: &[(&str, DataType)],
) -> Result<(), SinkError> {
    use datafusion::prelude::{cast, ident, lit};
    let err = |e: datafusion::error::DataFusionError| SinkError::History {
        path: PathBuf::from(name),
        message: e.strip_backtrace(),
    };
    let df = ctx.table(name).await.map_err(err)?;
    let present = df.schema().clone();
    let missing: Vec<_> = wanted
        .iter()
        .filter(|(c, _)| !present.fields().iter().any(|f| f.name() == c))
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    let mut columns: Vec<_> = present.fields().iter().map(|f| ident(f.name())).collect();
    for (column, t) in missing {
        columns.push(cast(lit(datafusion::scalar::ScalarValue::Null), t.clone()).alias(*column));
    }
    let view = df.select(columns).map_err(err)?.into_view();
    ctx.deregister_table(name).map_err(err)?;
    ctx.register_table(name, view).map_err(err)?;
    Ok(())
}

/// The run dates whose commit finished: their `runs` partition, written last, exists.
pub async fn committed_dates(output: &Opened) -> Result<BTreeSet<NaiveDate>, SinkError> {
    let listed = output
        .store
        .list_with_delimiter(Some(&output.path("runs")))
        .await;
    let listed = match listed {
        Ok(l) => l,
        Err(object_store::Error::NotFound { .. }) => return Ok(BTreeSet::new()),
        Err(e) => {
            return Err(SinkError::History {
                path: PathBuf::from(output.url("runs/")),
                message: e.to_string(),
            });
        }
    };
    Ok(listed
        .common_prefixes
        .iter()
        .filter_map(|p| p.filename()?.strip_prefix("as_of=")?.parse().ok())
        .collect())
}

/// Each date's committed key-result rows between `from` and `to`, read from the
/// `kr_history` that [`register`] set up in `ctx`.
pub async fn committed_rows(
    ctx: &SessionContext,
    from: NaiveDate,
    to: NaiveDate,
) -> Result<BTreeMap<NaiveDate, BTreeMap<String, Committed>>, SinkError> {
    let err = |e: datafusion::error::DataFusionError| SinkError::History {
        path: PathBuf::from("kr_snapshots"),
        message: e.strip_backtrace(),
    };
    let batches = ctx
        .sql(&format!(
            "SELECT arrow_cast(as_of, 'Utf8'), arrow_cast(kr_id, 'Utf8'), \
             arrow_cast(kr_definition_hash, 'Utf8'), value, arrow_cast(error, 'Utf8'), \
             arrow_cast(note, 'Utf8') \
             FROM kr_history WHERE as_of >= '{from}' AND as_of <= '{to}'"
        ))
        .await
        .map_err(err)?
        .collect()
        .await
        .map_err(err)?;
    let mut out: BTreeMap<NaiveDate, BTreeMap<String, Committed>> = BTreeMap::new();
    for b in &batches {
        let text = |i: usize| b.column(i).as_string_opt::<i32>();
        let (Some(dates), Some(ids), Some(hashes), Some(errors), Some(notes)) =
            (text(0), text(1), text(2), text(4), text(5))
        else {
            continue;
        };
        let values = b.column(3).as_primitive::<Float64Type>();
        for i in 0..b.num_rows() {
            let Ok(date) = dates.value(i).parse::<NaiveDate>() else {
                continue;
            };
            let get = |a: &datafusion::arrow::array::StringArray| {
                a.is_valid(i).then(|| a.value(i).to_string())
            };
            out.entry(date).or_default().insert(
                ids.value(i).to_string(),
                Committed {
                    definition_hash: get(hashes),
                    value: values.is_valid(i).then(|| values.value(i)),
                    error: get(errors),
                    note: get(notes),
                },
            );
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn columns_an_older_output_lacks_read_as_null() {
        let ctx = SessionContext::new();
        ctx.sql("CREATE TABLE t AS SELECT 'O1' AS objective_id, 'Old title' AS title")
            .await
            .unwrap();
        pad_columns(
            &ctx,
            "t",
            &[
                ("objective_title", DataType::Utf8),
                ("title", DataType::Utf8),
                ("krs_no_data", DataType::Int64),
            ],
        )
        .await
        .unwrap();
        let batches = ctx
            .sql("SELECT coalesce(objective_title, title) AS shown, krs_no_data FROM t")
            .await
            .unwrap()
            .collect()
            .await
            .unwrap();
        let shown = batches[0].column(0).as_string::<i32>().value(0).to_string();
        assert_eq!(shown, "Old title");
        assert!(batches[0].column(1).is_null(0));
        assert_eq!(batches[0].schema().field(1).data_type(), &DataType::Int64);
    }
}
