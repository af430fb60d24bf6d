//! Writing one output table: check its types against Athena's Parquet rules, split it by
//! its partition column (which stays out of the files), and write one Snappy file per
//! partition (encoded by [`crate::parquet_io`]).

use super::SinkError;
use crate::parquet_io;
use datafusion::arrow::array::{Array, AsArray};
use datafusion::arrow::array::{Scalar, StringArray};
use datafusion::arrow::compute::filter_record_batch;
use datafusion::arrow::compute::kernels::cmp::eq;
use datafusion::arrow::datatypes::{DataType, Schema, SchemaRef, TimeUnit};
use datafusion::arrow::record_batch::RecordBatch;
use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;
use std::sync::Arc;

/// Checks that every column has a type Athena reads as declared: no unsigned integers,
/// timestamps in milliseconds without a zone (holding UTC), plain strings.
pub fn check_athena_types(table: &str, schema: &Schema) -> Result<(), SinkError> {
    for f in schema.fields() {
        let hint = match f.data_type() {
            DataType::Utf8
            | DataType::Boolean
            | DataType::Int32
            | DataType::Int64
            | DataType::Float64
            | DataType::Date32 => continue,
            DataType::Decimal128(p, _) if *p <= 38 => continue,
            DataType::Timestamp(TimeUnit::Millisecond, None) => continue,
            DataType::Timestamp(_, _) => " (write timestamp(3): milliseconds, no zone)",
            DataType::UInt8 | DataType::UInt16 | DataType::UInt32 | DataType::UInt64 => {
                " (no unsigned integers)"
            }
            DataType::Utf8View | DataType::LargeUtf8 => " (cast to plain Utf8)",
            _ => "",
        };
        return Err(SinkError::UnsafeType {
            table: table.to_string(),
            column: f.name().clone(),
            data_type: f.data_type().to_string(),
            hint,
        });
    }
    Ok(())
}

/// Splits batches by the text column `partition`, dropping it: partition value → rows.
pub fn split(
    table: &str,
    partition: &str,
    schema: &SchemaRef,
    batches: &[RecordBatch],
) -> Result<BTreeMap<String, Vec<RecordBatch>>, SinkError> {
    let bad = || SinkError::Partition {
        table: table.to_string(),
        column: partition.to_string(),
    };
    let idx = schema.index_of(partition).map_err(|_| bad())?;
    if schema.field(idx).data_type() != &DataType::Utf8 {
        return Err(bad());
    }
    let mut out: BTreeMap<String, Vec<RecordBatch>> = BTreeMap::new();
    for batch in batches {
        let col = batch.column(idx).as_string::<i32>();
        let mut values: Vec<&str> = (0..col.len())
            .filter(|i| col.is_valid(*i))
            .map(|i| col.value(i))
            .collect();
        if col.null_count() > 0 {
            return Err(bad());
        }
        values.sort_unstable();
        values.dedup();
        for v in values {
            let mask = eq(col, &Scalar::new(StringArray::from(vec![v]))).map_err(|_| bad())?;
            let mut rows = filter_record_batch(batch, &mask).map_err(|_| bad())?;
            rows.remove_column(idx);
            out.entry(v.to_string()).or_default().push(rows);
        }
    }
    Ok(out)
}

/// Writes `batches` (already without the partition column) to `path` and syncs it to disk.
pub fn write_file(
    path: &Path,
    schema: SchemaRef,
    batches: &[RecordBatch],
) -> Result<(), SinkError> {
    let err = |message: String| SinkError::Write {
        path: path.to_path_buf(),
        message,
    };
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(|e| err(e.to_string()))?;
    }
    let file = std::fs::File::create(path).map_err(|e| err(e.to_string()))?;
    let mut file = parquet_io::write_to(file, schema, batches).map_err(|e| err(e.to_string()))?;
    file.flush().map_err(|e| err(e.to_string()))?;
    file.sync_all().map_err(|e| err(e.to_string()))?;
    Ok(())
}

/// Encodes `batches` (already without the partition column) as one Parquet file in memory,
/// with the error as the sink's messages show it.
pub(crate) fn encode(schema: SchemaRef, batches: &[RecordBatch]) -> Result<Vec<u8>, String> {
    parquet_io::encode(schema, batches).map_err(|e| e.to_string())
}

/// The schema of a table without its partition column.
pub fn without(schema: &SchemaRef, column: &str) -> SchemaRef {
    Arc::new(Schema::new(
        schema
            .fields()
            .iter()
            .filter(|f| f.name() != column)
            .map(|f| f.as_ref().clone())
            .collect::<Vec<_>>(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::datatypes::Field;

    #[test]
    fn unsafe_types_are_refused_with_a_hint() {
        let ok = Schema::new(vec![
            Field::new("a", DataType::Utf8, true),
            Field::new("t", DataType::Timestamp(TimeUnit::Millisecond, None), true),
        ]);
        check_athena_types("t", &ok).unwrap();
        let ns = Schema::new(vec![Field::new(
            "t",
            DataType::Timestamp(TimeUnit::Nanosecond, None),
            true,
        )]);
        let e = check_athena_types("kr_snapshots", &ns)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("column `t`") && e.contains("milliseconds"),
            "{e}"
        );
        let u = Schema::new(vec![Field::new("n", DataType::UInt32, true)]);
        assert!(
            check_athena_types("x", &u)
                .unwrap_err()
                .to_string()
                .contains("no unsigned")
        );
    }

    #[test]
    fn split_drops_the_partition_column() {
        let schema: SchemaRef = Arc::new(Schema::new(vec![
            Field::new("period", DataType::Utf8, false),
            Field::new("id", DataType::Utf8, false),
        ]));
        let batch = RecordBatch::try_new(
            schema.clone(),
            vec![
                Arc::new(StringArray::from(vec!["FY27-Q1", "FY26-Q4", "FY27-Q1"])),
                Arc::new(StringArray::from(vec!["a", "b", "c"])),
            ],
        )
        .unwrap();
        let parts = split("quarter_scores", "period", &schema, &[batch]).unwrap();
        assert_eq!(parts.keys().collect::<Vec<_>>(), ["FY26-Q4", "FY27-Q1"]);
        let q1 = &parts["FY27-Q1"][0];
        assert_eq!(q1.num_columns(), 1);
        assert_eq!(
            q1.column(0).as_string::<i32>().iter().collect::<Vec<_>>(),
            [Some("a"), Some("c")]
        );
    }
}
