//! The job-file settings of a connection that is a folder of files (Tallyfy exports,
//! check-in CSVs): a local folder or an S3 prefix, and how S3 is reached.

use crate::model::job::FolderSection;
use crate::model::{Location, Resolved};
use std::path::Path;

/// `[connections.NAME]` of a folder kind: `url` (a folder, relative paths resolved against
/// the job file's folder, or `s3://bucket/prefix/`) and the S3 keys.
pub type FolderConnection = FolderSection<String>;

impl FolderConnection {
    /// The folder, resolved against `base_dir`.
    pub fn resolve(&self, base_dir: &Path) -> Result<Resolved<Location>, Vec<String>> {
        Location::parse(&self.url, base_dir, &self.s3())
            .map(Resolved::ok)
            .map_err(|e| vec![e])
    }
}
