//! The job-file settings of a connection that is a folder of files (Tallyfy exports,
//! check-in CSVs): a local folder or an S3 prefix, and how S3 is reached.

use crate::model::job::S3Options;
use crate::model::{Location, Resolved};
use serde::Deserialize;
use std::path::Path;

/// `[connections.NAME]` of a folder kind: `url` and the S3 keys.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct FolderConnection {
    /// A folder (relative paths are resolved against the job file's folder) or
    /// `s3://bucket/prefix/`.
    pub url: String,
    /// S3 only: AWS profile of the shared config files.
    #[serde(default)]
    pub profile: Option<String>,
    /// S3 only: the bucket's region (Tallyfy's bucket is in us-west-2).
    #[serde(default)]
    pub region: Option<String>,
    /// S3 only: environment variables holding an access key (the one Tallyfy hands out),
    /// instead of the default chain.
    #[serde(default)]
    pub access_key_id_env: Option<String>,
    #[serde(default)]
    pub secret_access_key_env: Option<String>,
}

impl FolderConnection {
    /// The S3 keys of the connection.
    pub fn s3(&self) -> S3Options {
        S3Options {
            profile: self.profile.clone(),
            region: self.region.clone(),
            access_key_id_env: self.access_key_id_env.clone(),
            secret_access_key_env: self.secret_access_key_env.clone(),
        }
    }

    /// The folder, resolved against `base_dir`.
    pub fn resolve(&self, base_dir: &Path) -> Result<Resolved<Location>, Vec<String>> {
        Location::parse(&self.url, base_dir, &self.s3())
            .map(Resolved::ok)
            .map_err(|e| vec![e])
    }
}
