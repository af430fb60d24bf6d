//! Earlier results, read back: `kr_history` holds every earlier `kr_snapshots` row (with its
//! `as_of` partition) so the scoring SQL can keep a failing key result's last good value.

use super::SinkError;
use crate::engine::register_batches;
use crate::storage::Opened;
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::datasource::file_format::parquet::ParquetFormat;
use datafusion::datasource::listing::ListingOptions;
use datafusion::prelude::SessionContext;
use futures::StreamExt;
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
    ]))
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
    let url = output.url("kr_snapshots/");
    let dir = PathBuf::from(&url);
    let err = |e: datafusion::error::DataFusionError| SinkError::History {
        path: dir.clone(),
        message: e.strip_backtrace(),
    };
    output.register(ctx);
    let first = output
        .store
        .list(Some(&output.path("kr_snapshots")))
        .next()
        .await
        .transpose()
        .map_err(|e| SinkError::History {
            path: dir.clone(),
            message: e.to_string(),
        })?;
    ctx.deregister_table("kr_history").map_err(err)?;
    if first.is_none() {
        register_batches(ctx, "kr_history", vec![], history_schema()).map_err(|e| {
            SinkError::History {
                path: dir.clone(),
                message: e.to_string(),
            }
        })?;
        return Ok(0);
    }
    let options = ListingOptions::new(Arc::new(ParquetFormat::default()))
        .with_file_extension(".parquet")
        .with_table_partition_cols(vec![("as_of".to_string(), DataType::Utf8)]);
    ctx.register_listing_table("kr_history_files", &url, options, None, None)
        .await
        .map_err(err)?;
    let columns = history_schema()
        .fields()
        .iter()
        .map(|f| format!("\"{}\"", f.name()))
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
