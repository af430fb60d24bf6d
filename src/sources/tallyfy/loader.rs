//! Finds a connection's export files and registers them in a DataFusion session as
//! `tallyfy_raw` (process exports) and `tallyfy_members_raw` (member lists), every column a
//! nullable string plus `src_path`, the file a row came from; and `tallyfy_files`, one row
//! per file with its `src_file` name and `src_mtime`, which the dedup SQL orders snapshots
//! by. Files are listed here (to check each footer and to know each file's time and rows) and
//! scanned as one table; `input_file_name()`, a constant per file, ties each row to its file.
//! [`Loaded::register_scan`] registers a scan of some of the files, for the steps that read
//! only new files or only those holding chosen snapshots, a bounded part at a time.

use super::{MEMBER_COLUMNS, PROCESS_COLUMNS};
use crate::model::Location;
use crate::sources::SourceError;
use datafusion::arrow::array::{Int64Array, RecordBatch, StringArray, TimestampNanosecondArray};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use datafusion::datasource::MemTable;
use datafusion::datasource::file_format::parquet::ParquetFormat;
use datafusion::datasource::listing::{
    ListingOptions, ListingTable, ListingTableConfig, ListingTableUrl,
};
use datafusion::functions::core::expr_fn::input_file_name;
use datafusion::logical_expr::Expr;
use datafusion::parquet::errors::ParquetError;
use datafusion::parquet::file::metadata::ParquetMetaDataReader;
use datafusion::prelude::{SessionContext, ident};
use object_store::{ObjectMeta, ObjectStore, ObjectStoreExt};
use std::sync::Arc;

/// The registered exports.
pub struct Loaded {
    pub stats: LoadStats,
    /// The process exports, in name order.
    pub(crate) processes: Vec<ExportFile>,
    /// At most how many rows a part read at once holds ([`parts`]).
    pub(crate) part_rows: usize,
}

impl Loaded {
    /// Registers `name` as one scan of `files` (some of [`Loaded::processes`]), with the
    /// columns of `tallyfy_raw` read as `Utf8View` and `src_path`. Views point into the
    /// pages read instead of copying every cell: the steps that scan the exports keep only
    /// some rows, and cast those (BENCHMARKS.md).
    pub(crate) fn register_scan(
        &self,
        ctx: &SessionContext,
        name: &str,
        files: &[&ExportFile],
    ) -> datafusion::error::Result<()> {
        register_files(ctx, name, &PROCESS_COLUMNS, files, DataType::Utf8View)
    }
}

/// What was found under a connection's URL.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LoadStats {
    pub process_files: usize,
    pub member_files: usize,
}

/// One export file.
#[derive(Debug, Clone)]
pub(crate) struct ExportFile {
    /// Path as DataFusion reads it.
    url: String,
    /// Path relative to the connection's URL, written to `src_file`.
    pub(crate) key: String,
    /// The object-store location DataFusion reports through `input_file_name()`.
    location: String,
    pub(crate) mtime_nanos: i64,
    pub(crate) size: u64,
    /// Rows, from the footer.
    pub(crate) rows: usize,
}

/// The all-string schema of an export with the given columns.
fn string_schema(columns: &[&str], strings: DataType) -> SchemaRef {
    Arc::new(Schema::new(
        columns
            .iter()
            .map(|c| Field::new(*c, strings.clone(), true))
            .collect::<Vec<_>>(),
    ))
}

/// The schema of `tallyfy_raw` / `tallyfy_members_raw`: the export's columns plus the file
/// a row came from.
fn raw_schema(columns: &[&str], strings: DataType) -> SchemaRef {
    let mut fields: Vec<Field> = string_schema(columns, strings)
        .fields()
        .iter()
        .map(|f| f.as_ref().clone())
        .collect();
    fields.push(Field::new("src_path", DataType::Utf8, false));
    Arc::new(Schema::new(fields))
}

/// Lists the connection's `*.parquet` files and registers `tallyfy_raw` and
/// `tallyfy_members_raw` in `ctx`. A file that is not readable Parquet makes the whole
/// connection fail with its name: skipping it could silently bring back an older snapshot.
pub async fn register(
    ctx: &SessionContext,
    connection: &str,
    location: &Location,
) -> Result<Loaded, SourceError> {
    register_in_parts(ctx, connection, location, PART_ROWS).await
}

/// [`register`] with parts of `tallyfy_raw` of at most `part_rows` rows (whole files).
pub async fn register_in_parts(
    ctx: &SessionContext,
    connection: &str,
    location: &Location,
    part_rows: usize,
) -> Result<Loaded, SourceError> {
    let unreadable = |message: String| SourceError::Unreadable {
        connection: connection.to_string(),
        location: location.to_string(),
        message,
    };
    let opened = crate::storage::open(location, false).await.map_err(|e| {
        unreadable(match e {
            crate::storage::StorageError::Open { message, .. } => message,
            other => other.to_string(),
        })
    })?;
    let metas = crate::storage::list_sorted(&opened, &opened.prefix, |_| true)
        .await
        .map_err(|e| unreadable(e.to_string()))?;
    // Exports on S3 are read where they are: a run scans an export at most twice (for the
    // snapshot index, and for the rows of a chosen snapshot), and with the connection's state
    // only the new files and those that hold snapshots it must read (BENCHMARKS.md). A copy of
    // every file would cost a download of all of them each night.
    let scanned = &opened;
    scanned.register(ctx);
    let store = scanned.store.clone();

    let (mut processes, mut members) = (Vec::new(), Vec::new());
    for meta in metas {
        let location = meta.location.to_string();
        let key = key_of(&opened, &meta.location);
        if !key.ends_with(".parquet") {
            continue;
        }
        let scanned_path = scanned.path(&key);
        let mut file = ExportFile {
            url: scanned.url(&key),
            location,
            mtime_nanos: meta.last_modified.timestamp_nanos_opt().unwrap_or(0),
            size: meta.size,
            key: key.clone(),
            rows: 0,
        };
        file.rows = check_footer(&store, &scanned_path, file.size)
            .await
            .map_err(|e| unreadable(format!("{key}: {e}")))?;
        if !is_process_export(&key) {
            members.push(file);
        } else {
            processes.push(file);
        }
    }
    let stats = LoadStats {
        process_files: processes.len(),
        member_files: members.len(),
    };
    let all: Vec<&ExportFile> = processes.iter().collect();
    let member_files: Vec<&ExportFile> = members.iter().collect();
    register_files(ctx, "tallyfy_raw", &PROCESS_COLUMNS, &all, DataType::Utf8)
        .and_then(|()| {
            register_files(
                ctx,
                "tallyfy_members_raw",
                &MEMBER_COLUMNS,
                &member_files,
                DataType::Utf8,
            )
        })
        .and_then(|()| register_index(ctx, &processes, &members))
        .map_err(|e| unreadable(e.to_string()))?;
    tracing::debug!(connection, ?stats, "registered Tallyfy exports");
    Ok(Loaded {
        stats,
        processes,
        part_rows,
    })
}

/// The note of a connection whose folder holds no process export (`*.parquet` outside
/// `members/`): an empty or mistyped folder is nothing to measure, not a count of 0.
pub(crate) fn no_exports(location: &Location) -> String {
    format!("no Tallyfy export files (*.parquet) in {location}: is the folder right?")
}

/// Whether a file (its key under the connection's folder) is a process export.
fn is_process_export(key: &str) -> bool {
    key.ends_with(".parquet") && !key.starts_with("members/")
}

/// How many process exports a connection's folder lists, without reading any
/// (`validate`'s warning of an empty folder).
pub(crate) async fn process_files(location: &Location) -> Result<usize, String> {
    Ok(keys(location)
        .await?
        .iter()
        .filter(|k| is_process_export(k))
        .count())
}

/// The keys under the folder that are not Parquet files (Tallyfy keeps its original CSVs
/// beside the exports): okrflow's engine skips them, an Athena table would not.
pub(crate) async fn not_parquet(location: &Location) -> Result<Vec<String>, String> {
    Ok(keys(location)
        .await?
        .into_iter()
        .filter(|k| !k.ends_with(".parquet"))
        .collect())
}

/// Every key under the folder, below it too, in order.
async fn keys(location: &Location) -> Result<Vec<String>, String> {
    let opened = crate::storage::open(location, false)
        .await
        .map_err(|e| e.to_string())?;
    let metas = crate::storage::list_sorted(&opened, &opened.prefix, |_| true)
        .await
        .map_err(|e| e.to_string())?;
    Ok(metas.iter().map(|m| key_of(&opened, &m.location)).collect())
}

/// A listed file's key under the connection's folder (`members/x.parquet`).
fn key_of(opened: &crate::storage::Opened, location: &object_store::path::Path) -> String {
    location
        .prefix_match(&opened.prefix)
        .map(|parts| {
            parts
                .map(|p| p.as_ref().to_string())
                .collect::<Vec<_>>()
                .join("/")
        })
        .unwrap_or_else(|| location.to_string())
}

/// Lists a connection's exports and reads each file's footer where it lies (a ranged read on
/// S3), without copying or scanning anything: `validate --online`. Returns the file count.
pub(crate) async fn check(connection: &str, location: &Location) -> Result<usize, SourceError> {
    let unreadable = |message: String| SourceError::Unreadable {
        connection: connection.to_string(),
        location: location.to_string(),
        message,
    };
    let opened = crate::storage::open(location, false)
        .await
        .map_err(|e| unreadable(e.to_string()))?;
    let parquet = |m: &ObjectMeta| m.location.as_ref().ends_with(".parquet");
    let metas = crate::storage::list_sorted(&opened, &opened.prefix, parquet)
        .await
        .map_err(|e| unreadable(e.to_string()))?;
    let mut files = 0;
    for meta in &metas {
        check_footer(&opened.store, &meta.location, meta.size)
            .await
            .map_err(|e| unreadable(format!("{}: {e}", meta.location)))?;
        files += 1;
    }
    Ok(files)
}

/// Why an export file's footer could not be read.
#[derive(Debug, thiserror::Error)]
enum FooterError {
    #[error(transparent)]
    Read(#[from] object_store::Error),
    #[error("not a readable Parquet file ({0})")]
    NotParquet(#[source] ParquetError),
}

/// Reads a file's footer so that a truncated or non-Parquet file is reported by name before
/// any query runs.
async fn check_footer(
    store: &Arc<dyn ObjectStore>,
    path: &object_store::path::Path,
    size: u64,
) -> Result<usize, FooterError> {
    let bad = FooterError::NotParquet;
    let mut tail_len = size.min(64 * 1024);
    loop {
        let tail = store.get_range(path, size - tail_len..size).await?;
        let mut reader = ParquetMetaDataReader::new();
        match reader.try_parse_sized(&tail, size) {
            Ok(()) => {
                let meta = reader.finish().map_err(bad)?;
                return Ok(meta.file_metadata().num_rows().max(0) as usize);
            }
            Err(ParquetError::NeedMoreData(needed))
                if (needed as u64) <= size && needed as u64 > tail_len =>
            {
                tail_len = needed as u64;
            }
            Err(e) => return Err(bad(e)),
        }
    }
}

/// Registers `name` as one scan over all `files` (columns matched by name, missing ones
/// NULL), each row tagged with its file's path (`src_path`); an empty table when there are no
/// files.
fn register_files(
    ctx: &SessionContext,
    name: &str,
    columns: &[&str],
    files: &[&ExportFile],
    strings: DataType,
) -> datafusion::error::Result<()> {
    ctx.deregister_table(name)?;
    if files.is_empty() {
        ctx.register_table(
            name,
            Arc::new(MemTable::try_new(
                raw_schema(columns, strings),
                vec![vec![]],
            )?),
        )?;
        return Ok(());
    }
    let urls = files
        .iter()
        .map(|f| ListingTableUrl::parse(&f.url))
        .collect::<datafusion::error::Result<Vec<_>>>()?;
    let options =
        ListingOptions::new(Arc::new(ParquetFormat::default())).with_file_extension(".parquet");
    let config = ListingTableConfig::new_with_multi_paths(urls)
        .with_listing_options(options)
        .with_schema(string_schema(columns, strings));
    let rows = ctx.read_table(Arc::new(ListingTable::try_new(config)?))?;
    // The scan replaces `input_file_name()` by each file's path, a constant per file: no
    // join per row (a join with the file index cost more than reading the rows).
    let mut select: Vec<Expr> = columns.iter().map(|c| ident(*c)).collect();
    select.push(input_file_name().alias("src_path"));
    ctx.register_table(name, rows.select(select)?.into_view())?;
    Ok(())
}

/// About how many export rows a part of `tallyfy_raw` holds (BENCHMARKS.md): the views that
/// hold an entry per (process, file) run part by part, so their memory is bounded by a part,
/// not by the exports.
pub(crate) const PART_ROWS: usize = 2_000_000;

/// The files split, in order, into parts of whole files with at most `max_rows` rows each (a
/// larger file is a part of its own).
pub(crate) fn parts<'a, F: std::borrow::Borrow<ExportFile>>(
    files: &'a [F],
    max_rows: usize,
) -> Vec<&'a [F]> {
    let mut parts = Vec::new();
    let (mut start, mut rows) = (0, 0usize);
    for (i, f) in files.iter().enumerate() {
        let f = f.borrow();
        if i > start && rows.saturating_add(f.rows) > max_rows {
            parts.push(&files[start..i]);
            (start, rows) = (i, 0);
        }
        rows += f.rows;
    }
    if start < files.len() {
        parts.push(&files[start..]);
    }
    parts
}

/// Registers `tallyfy_files`: each export file's path as the scans report it (`src_path`),
/// its name under the connection's URL (`src_file`), its size in bytes and its modification
/// time (which, with the name, tell an unchanged file).
fn register_index(
    ctx: &SessionContext,
    processes: &[ExportFile],
    members: &[ExportFile],
) -> datafusion::error::Result<()> {
    let schema = Arc::new(Schema::new(vec![
        Field::new("src_path", DataType::Utf8, false),
        Field::new("src_file", DataType::Utf8, false),
        Field::new("src_size", DataType::Int64, false),
        Field::new(
            "src_mtime",
            DataType::Timestamp(TimeUnit::Nanosecond, None),
            false,
        ),
    ]));
    let files: Vec<&ExportFile> = processes.iter().chain(members).collect();
    let index = RecordBatch::try_new(
        schema.clone(),
        vec![
            Arc::new(StringArray::from_iter_values(
                files.iter().map(|f| f.location.as_str()),
            )),
            Arc::new(StringArray::from_iter_values(
                files.iter().map(|f| f.key.as_str()),
            )),
            Arc::new(Int64Array::from_iter_values(
                files.iter().map(|f| f.size as i64),
            )),
            Arc::new(TimestampNanosecondArray::from_iter_values(
                files.iter().map(|f| f.mtime_nanos),
            )),
        ],
    )?;
    ctx.deregister_table("tallyfy_files")?;
    ctx.register_table(
        "tallyfy_files",
        Arc::new(MemTable::try_new(schema, vec![vec![index]])?),
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Parts keep the files' order, fill up to the limit, and a file above it stands alone.
    #[test]
    fn parts_are_whole_files_up_to_the_limit() {
        let files: Vec<ExportFile> = [3, 3, 5, 1, 1, 10, 2]
            .iter()
            .enumerate()
            .map(|(i, &rows)| ExportFile {
                url: format!("file:///x/{i}.parquet"),
                key: format!("{i}.parquet"),
                location: format!("x/{i}.parquet"),
                mtime_nanos: 0,
                size: 1,
                rows,
            })
            .collect();
        let sizes = |max| -> Vec<Vec<usize>> {
            parts(&files, max)
                .iter()
                .map(|p| p.iter().map(|f| f.rows).collect())
                .collect()
        };
        assert_eq!(
            sizes(6),
            [vec![3, 3], vec![5, 1], vec![1], vec![10], vec![2]]
        );
        assert_eq!(sizes(usize::MAX), [vec![3, 3, 5, 1, 1, 10, 2]]);
        assert_eq!(sizes(1).len(), files.len());
        assert!(parts::<ExportFile>(&[], 6).is_empty());
    }
}
