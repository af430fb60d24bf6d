//! Writing the exports: one file ([`write_export`]), the demo organisation's files
//! ([`write_demo`]), and a scaled copy of them for benchmarks ([`write_scaled`]).

use super::organisation::{demo_members, demo_processes};
use super::snapshots::{columns_at, snapshots};
use super::{MEMBER_COLUMNS, PROCESS_COLUMNS};
use datafusion::arrow::array::{ArrayRef, StringArray};
use datafusion::arrow::datatypes::{DataType, Field, Schema};
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::parquet::arrow::ArrowWriter;
use datafusion::parquet::basic::Compression;
use datafusion::parquet::file::properties::WriterProperties;
use std::path::Path;
use std::sync::Arc;

/// Writes one export file: the given columns, all strings, Snappy-compressed like Tallyfy's.
pub fn write_export(path: &Path, columns: &[&str], rows: &[Vec<String>]) -> std::io::Result<()> {
    let schema = Arc::new(Schema::new(
        columns
            .iter()
            .map(|c| Field::new(*c, DataType::Utf8, true))
            .collect::<Vec<_>>(),
    ));
    let arrays: Vec<ArrayRef> = (0..columns.len())
        .map(|i| {
            Arc::new(StringArray::from_iter_values(
                rows.iter().map(|r| r[i].as_str()),
            )) as ArrayRef
        })
        .collect();
    let batch = RecordBatch::try_new(schema.clone(), arrays).map_err(std::io::Error::other)?;
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    let file = std::fs::File::create(path)?;
    let props = WriterProperties::builder()
        .set_compression(Compression::SNAPPY)
        .build();
    let mut writer =
        ArrowWriter::try_new(file, schema, Some(props)).map_err(std::io::Error::other)?;
    writer.write(&batch).map_err(std::io::Error::other)?;
    writer.close().map_err(std::io::Error::other)?;
    Ok(())
}

/// What [`write_demo`] wrote.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct DemoStats {
    pub processes: usize,
    pub files: usize,
    pub rows: usize,
}

impl DemoStats {
    /// Writes one export file of `table`'s rows, and counts it.
    fn write(
        &mut self,
        path: &Path,
        columns: &[&str],
        table: &[Vec<String>],
    ) -> std::io::Result<()> {
        write_export(path, columns, table)?;
        self.files += 1;
        self.rows += table.len();
        Ok(())
    }

    /// Writes the members file into `dir`, and counts it: the last file of a data set.
    fn with_members(mut self, dir: &Path) -> std::io::Result<DemoStats> {
        write_members(dir)?;
        self.files += 1;
        Ok(self)
    }
}

/// Writes the demo exports into `dir` (`<process>_<nn>.parquet` and `members/members.parquet`),
/// replacing any previous ones.
pub fn write_demo(dir: &Path) -> std::io::Result<DemoStats> {
    if dir.exists() {
        for entry in std::fs::read_dir(dir)? {
            let path = entry?.path();
            if path.is_dir() {
                std::fs::remove_dir_all(&path)?;
            } else if path.extension().is_some_and(|e| e == "parquet") {
                std::fs::remove_file(&path)?;
            }
        }
    }
    let mut stats = DemoStats::default();
    let processes = demo_processes();
    for (n, p) in processes.iter().enumerate() {
        stats.processes += 1;
        for (seq, (t, rows)) in snapshots(n, p).into_iter().enumerate() {
            let cols = columns_at(t);
            let table: Vec<Vec<String>> = rows
                .iter()
                .map(|r| cols.iter().map(|c| r[c].clone()).collect())
                .collect();
            let path = dir.join(format!("{}_{:02}.parquet", p.id, seq + 1));
            stats.write(&path, &cols, &table)?;
        }
    }
    stats.with_members(dir)
}

/// Writes the demo organisation's members export, `members/members.parquet`.
fn write_members(dir: &Path) -> std::io::Result<()> {
    let members: Vec<Vec<String>> = demo_members()
        .iter()
        .map(|m| m.iter().map(|s| s.to_string()).collect())
        .collect();
    write_export(
        &dir.join("members/members.parquet"),
        &MEMBER_COLUMNS,
        &members,
    )
}

/// Writes `copies` copies of the demo organisation's processes (ids suffixed `-c<k>`, every
/// snapshot kept) spread over `files` export files in the newest, 49-column layout, plus the
/// members file: a deterministic data set for benchmarks whose key-result counts are the
/// demo's times `copies`. Each snapshot is written `repeats` times, to as many different
/// files (`files / repeats` of them per repeat), as when Tallyfy exports a process again
/// after an event that changes nothing: more rows and snapshots for the same processes and
/// the same key-result values. Files are built one at a time, so memory stays at one file's
/// rows.
pub fn write_scaled(
    dir: &Path,
    copies: usize,
    files: usize,
    repeats: usize,
) -> std::io::Result<DemoStats> {
    let repeats = repeats.max(1);
    // One copy's snapshots, each as rows in PROCESS_COLUMNS order.
    let procs = demo_processes();
    let per_process: Vec<_> = procs
        .iter()
        .enumerate()
        .map(|(n, p)| snapshots(n, p))
        .collect();
    // A file holds whole snapshots: one process's snapshots must go to different files.
    let most = per_process.iter().map(Vec::len).max().unwrap_or(1);
    if files < most * repeats {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            format!(
                "{files} files cannot keep apart the {most} snapshots of a process written \
                 {repeats} times: use at least {} files",
                most * repeats
            ),
        ));
    }
    let base: Vec<Vec<Vec<String>>> = per_process
        .into_iter()
        .flatten()
        .map(|(_, rows)| {
            rows.iter()
                .map(|r| {
                    PROCESS_COLUMNS
                        .iter()
                        .map(|c| r.get(c).cloned().unwrap_or_default())
                        .collect()
                })
                .collect()
        })
        .collect();
    let renamed: Vec<usize> = ["process_id", "process_task_id"]
        .iter()
        .filter_map(|c| PROCESS_COLUMNS.iter().position(|x| x == c))
        .collect();
    let snapshots = base.len() * copies;
    let mut stats = DemoStats {
        processes: procs.len() * copies,
        ..DemoStats::default()
    };
    std::fs::create_dir_all(dir)?;
    // Each repeat has its own run of files, named after the previous one's, so the files'
    // order among a process's snapshots is the same in every repeat and the newest stays
    // newest.
    let per_repeat = files / repeats;
    for f in 0..per_repeat * repeats {
        let mut table: Vec<Vec<String>> = Vec::new();
        for g in (f % per_repeat..snapshots).step_by(per_repeat) {
            let (copy, snapshot) = (g / base.len(), g % base.len());
            for row in &base[snapshot] {
                let mut row = row.clone();
                for &i in &renamed {
                    if !row[i].is_empty() {
                        row[i] = format!("{}-c{copy}", row[i]);
                    }
                }
                table.push(row);
            }
        }
        if table.is_empty() {
            continue;
        }
        let path = dir.join(format!("export_{f:04}.parquet"));
        stats.write(&path, &PROCESS_COLUMNS, &table)?;
    }
    stats.with_members(dir)
}
