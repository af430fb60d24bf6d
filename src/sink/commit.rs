//! The commit protocols: [`LocalCommit`] for a local output folder, [`S3Commit`] for S3.
//!
//! Local folder:
//! 1. Every file of the run is written and synced under
//!    `<output>/_okrflow/staging/<run_id>/<table>/<key>=<value>/part-<run_id>.parquet`
//!    (`_`-prefixed folders are ignored by Athena, Spark and DuckDB's Hive discovery).
//! 2. Only when all files are written, each partition folder is switched in with one
//!    `rename`: a new partition is renamed into place; an existing one is swapped with the
//!    staged one atomically (`renameat2(RENAME_EXCHANGE)`), and the old files, now in the
//!    staging folder, are deleted. A reader listing a partition sees either the old run's files
//!    or the new run's, never a mix and never a half-written file.
//! 3. Partitions are switched in table order with `runs` last, so a run appears in `runs`
//!    only when its results are in place. A failure before step 2 changes nothing; the
//!    staging folder is removed whatever happens.
//!
//! S3 (no rename there, but a PUT is atomic and strongly consistent):
//! 1. Every partition of the run is encoded in memory first.
//! 2. Each partition is one object with a fixed name,
//!    `<table>/<key>=<value>/part-00000.parquet`, written with one PUT that replaces the
//!    previous run's object: a reader sees the old object or the new one, never half of one
//!    and never two runs in one partition. A failed upload leaves the old object in place.
//! 3. Partitions go in table order with `runs` last, as on disk.

use super::SinkError;
use super::parquet::{without, write_file};
use crate::model::Location;
use crate::storage::Opened;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::arrow::record_batch::RecordBatch;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// One table's rows, split by partition value.
pub struct TableOutput {
    pub table: String,
    pub partition_column: String,
    pub schema: SchemaRef,
    pub partitions: BTreeMap<String, Vec<RecordBatch>>,
}

/// A run's output being committed, by kind of output: stage every table, then commit.
pub enum Commit {
    Local(LocalCommit),
    S3(S3Commit),
}

impl Commit {
    /// Starts a commit of run `run_id` into `opened` (the output at `location`).
    pub fn new(location: &Location, opened: &Opened, run_id: &str) -> Commit {
        match location {
            Location::Local(root) => Commit::Local(LocalCommit::new(root, run_id)),
            Location::S3(_) => Commit::S3(S3Commit::new(opened.clone())),
        }
    }

    /// Writes (local) or encodes (S3) a table's partitions, not yet visible to readers.
    pub fn stage(&mut self, t: &TableOutput) -> Result<(), SinkError> {
        match self {
            Commit::Local(c) => c.stage(t),
            Commit::S3(c) => c.stage(t),
        }
    }

    /// Switches every staged partition in, in table order; returns what was written.
    pub async fn commit(self) -> Result<Vec<PathBuf>, SinkError> {
        match self {
            Commit::Local(c) => c.commit(),
            Commit::S3(c) => c.commit().await,
        }
    }
}

/// A run's output being staged in a local folder.
pub struct LocalCommit {
    root: PathBuf,
    staging: PathBuf,
    run_id: String,
    staged: Vec<(PathBuf, PathBuf)>,
}

impl LocalCommit {
    /// Starts a commit of run `run_id` into the folder `root`.
    /// Only the holder of the output's lock commits, so any other run's staging folder is
    /// what a killed run left: it is removed.
    pub fn new(root: &Path, run_id: &str) -> LocalCommit {
        let staging = root.join("_okrflow").join("staging");
        for left in std::fs::read_dir(&staging).into_iter().flatten().flatten() {
            if left.file_name() != run_id {
                match std::fs::remove_dir_all(left.path()) {
                    Ok(()) => tracing::warn!(
                        path = %left.path().display(),
                        "removed the staging folder of a run that did not finish"
                    ),
                    Err(e) => tracing::warn!(
                        path = %left.path().display(),
                        error = %e,
                        "cannot remove the staging folder of a run that did not finish"
                    ),
                }
            }
        }
        LocalCommit {
            root: root.to_path_buf(),
            staging: staging.join(run_id),
            run_id: run_id.to_string(),
            staged: Vec::new(),
        }
    }

    /// Writes a table's partitions to staging.
    pub fn stage(&mut self, t: &TableOutput) -> Result<(), SinkError> {
        let file_schema = without(&t.schema, &t.partition_column);
        for (value, batches) in &t.partitions {
            let dir = format!("{}={}", t.partition_column, value);
            let staged_dir = self.staging.join(&t.table).join(&dir);
            write_file(
                &staged_dir.join(format!("part-{}.parquet", self.run_id)),
                file_schema.clone(),
                batches,
            )?;
            self.staged
                .push((staged_dir, self.root.join(&t.table).join(&dir)));
        }
        Ok(())
    }

    /// Switches every staged partition into place; returns the partition folders written.
    pub fn commit(mut self) -> Result<Vec<PathBuf>, SinkError> {
        let staged = std::mem::take(&mut self.staged);
        let mut done = Vec::new();
        for (from, to) in staged {
            let err = |e: std::io::Error| SinkError::Commit {
                path: to.clone(),
                message: e.to_string(),
            };
            if let Some(parent) = to.parent() {
                std::fs::create_dir_all(parent).map_err(err)?;
            }
            if to.exists() {
                match exchange(&from, &to) {
                    Ok(()) => std::fs::remove_dir_all(&from).map_err(err)?,
                    Err(_) => {
                        // No atomic exchange on this file system: move the old folder aside
                        // first, so that it is never mixed with the new files.
                        let old = from.with_extension("old");
                        std::fs::rename(&to, &old).map_err(err)?;
                        std::fs::rename(&from, &to).map_err(err)?;
                        std::fs::remove_dir_all(&old).map_err(err)?;
                    }
                }
            } else {
                std::fs::rename(&from, &to).map_err(err)?;
            }
            done.push(to);
        }
        Ok(done)
    }
}

impl Drop for LocalCommit {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.staging);
    }
}

/// Atomically swaps two directories (Linux `renameat2` with `RENAME_EXCHANGE`).
#[cfg(target_os = "linux")]
fn exchange(a: &Path, b: &Path) -> std::io::Result<()> {
    use std::ffi::CString;
    use std::os::unix::ffi::OsStrExt;
    let a = CString::new(a.as_os_str().as_bytes())?;
    let b = CString::new(b.as_os_str().as_bytes())?;
    // SAFETY: both paths are valid NUL-terminated strings that outlive the call.
    let rc = unsafe {
        libc::renameat2(
            libc::AT_FDCWD,
            a.as_ptr(),
            libc::AT_FDCWD,
            b.as_ptr(),
            libc::RENAME_EXCHANGE,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

#[cfg(not(target_os = "linux"))]
fn exchange(_: &Path, _: &Path) -> std::io::Result<()> {
    Err(std::io::Error::new(
        std::io::ErrorKind::Unsupported,
        "no atomic exchange",
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::array::Int64Array;
    use datafusion::arrow::datatypes::{DataType, Field, Schema};
    use std::sync::Arc;

    fn table(values: &[i64]) -> TableOutput {
        let schema: SchemaRef = Arc::new(Schema::new(vec![
            Field::new("as_of", DataType::Utf8, false),
            Field::new("n", DataType::Int64, false),
        ]));
        let batch = RecordBatch::try_new(
            Arc::new(Schema::new(vec![Field::new("n", DataType::Int64, false)])),
            vec![Arc::new(Int64Array::from(values.to_vec()))],
        )
        .unwrap();
        TableOutput {
            table: "t".into(),
            partition_column: "as_of".into(),
            schema,
            partitions: BTreeMap::from([("2026-03-15".to_string(), vec![batch])]),
        }
    }

    fn files(dir: &Path) -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }

    #[test]
    fn rerun_replaces_the_partition_and_leaves_no_staging() {
        let dir = tempfile::tempdir().unwrap();
        let mut first = LocalCommit::new(dir.path(), "run1");
        first.stage(&table(&[1, 2])).unwrap();
        first.commit().unwrap();
        let part = dir.path().join("t/as_of=2026-03-15");
        assert_eq!(files(&part), ["part-run1.parquet"]);

        let mut second = LocalCommit::new(dir.path(), "run2");
        second.stage(&table(&[3])).unwrap();
        second.commit().unwrap();
        assert_eq!(files(&part), ["part-run2.parquet"]);
        assert!(!dir.path().join("_okrflow/staging/run2").exists());
    }

    #[test]
    fn a_commit_that_never_happens_changes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let mut first = LocalCommit::new(dir.path(), "run1");
        first.stage(&table(&[1])).unwrap();
        first.commit().unwrap();
        {
            let mut failed = LocalCommit::new(dir.path(), "run2");
            failed.stage(&table(&[2])).unwrap();
            // dropped before commit, as when a later table fails to write
        }
        assert_eq!(
            files(&dir.path().join("t/as_of=2026-03-15")),
            ["part-run1.parquet"]
        );
        assert!(!dir.path().join("_okrflow/staging/run2").exists());
    }
}

/// A run's output written to S3: one object per partition, replaced with one PUT each.
pub struct S3Commit {
    opened: crate::storage::Opened,
    staged: Vec<(object_store::path::Path, Vec<u8>)>,
}

/// The name of a partition's object on S3; fixed, so a rerun replaces it.
pub const S3_PART: &str = "part-00000.parquet";

impl S3Commit {
    /// Starts a commit into `opened` (an S3 location).
    pub fn new(opened: crate::storage::Opened) -> S3Commit {
        S3Commit {
            opened,
            staged: Vec::new(),
        }
    }

    /// Encodes a table's partitions in memory.
    pub fn stage(&mut self, t: &TableOutput) -> Result<(), SinkError> {
        let file_schema = without(&t.schema, &t.partition_column);
        for (value, batches) in &t.partitions {
            let relative = format!("{}/{}={}/{S3_PART}", t.table, t.partition_column, value);
            let path = self.opened.path(&relative);
            let bytes =
                super::parquet::encode(file_schema.clone(), batches).map_err(|message| {
                    SinkError::Write {
                        path: PathBuf::from(self.opened.url(&relative)),
                        message,
                    }
                })?;
            self.staged.push((path, bytes));
        }
        Ok(())
    }

    /// Puts every partition object, in order; returns their URLs.
    pub async fn commit(self) -> Result<Vec<PathBuf>, SinkError> {
        use object_store::ObjectStoreExt;
        let mut done = Vec::new();
        for (path, bytes) in self.staged {
            let url = format!(
                "{}://{}/{path}",
                self.opened.store_url.scheme(),
                self.opened.store_url.host_str().unwrap_or_default()
            );
            self.opened
                .store
                .put(&path, bytes.into())
                .await
                .map_err(|e| SinkError::Commit {
                    path: PathBuf::from(&url),
                    message: e.to_string(),
                })?;
            done.push(PathBuf::from(url));
        }
        Ok(done)
    }
}
