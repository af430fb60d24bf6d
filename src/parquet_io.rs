//! Parquet encoding, as every file okrflow writes is encoded: Snappy, and no embedded Arrow
//! schema. A leaf below the engine, so that the sink (output tables) and the sources (the
//! state Tallyfy keeps under the output) write files the same way without one importing the
//! other.

use datafusion::arrow::datatypes::SchemaRef;
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::parquet::arrow::ArrowWriter;
use datafusion::parquet::arrow::arrow_writer::ArrowWriterOptions;
use datafusion::parquet::basic::Compression;
use datafusion::parquet::errors::ParquetError;
use datafusion::parquet::file::properties::WriterProperties;

/// Why batches could not be encoded: the Parquet writer's error, shown as it is.
#[derive(Debug, thiserror::Error)]
#[error(transparent)]
pub struct EncodeError(#[from] ParquetError);

/// The writer settings of every file: Snappy, Parquet 1.0 pages (the most widely read), and
/// no embedded Arrow schema so older readers see plain Parquet types.
pub fn writer_properties() -> WriterProperties {
    WriterProperties::builder()
        .set_compression(Compression::SNAPPY)
        .build()
}

/// Encodes `batches` as one Parquet file in memory.
pub fn encode(schema: SchemaRef, batches: &[RecordBatch]) -> Result<Vec<u8>, EncodeError> {
    write_to(Vec::new(), schema, batches)
}

/// Encodes `batches` as one Parquet file into `sink`, and gives `sink` back.
pub fn write_to<W: std::io::Write + Send>(
    sink: W,
    schema: SchemaRef,
    batches: &[RecordBatch],
) -> Result<W, EncodeError> {
    let options = ArrowWriterOptions::new()
        .with_properties(writer_properties())
        .with_skip_arrow_metadata(true);
    let mut writer = ArrowWriter::try_new_with_options(sink, schema, options)?;
    for b in batches {
        writer.write(b)?;
    }
    Ok(writer.into_inner()?)
}
