//! Job-file settings of a Tallyfy connection and of a key result that reads from it.

use serde::Deserialize;

/// `[connections.NAME] kind = "tallyfy"`: where the Parquet exports live.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct TallyfyConnection {
    /// A folder (relative paths are resolved against the job file's folder) or
    /// `s3://bucket/prefix/` holding the process exports; member lists are read from its
    /// `members/` sub-folder.
    pub url: String,
    /// S3 only: AWS profile of the shared config files.
    #[serde(default)]
    pub profile: Option<String>,
    /// S3 only: the bucket's region (Tallyfy's bucket is in us-west-2).
    #[serde(default)]
    pub region: Option<String>,
    /// S3 only: environment variables holding the access key Tallyfy hands out.
    #[serde(default)]
    pub access_key_id_env: Option<String>,
    #[serde(default)]
    pub secret_access_key_env: Option<String>,
}

impl TallyfyConnection {
    /// The S3 keys of the connection.
    pub fn s3(&self) -> crate::model::job::S3Options {
        crate::model::job::S3Options {
            profile: self.profile.clone(),
            region: self.region.clone(),
            access_key_id_env: self.access_key_id_env.clone(),
            secret_access_key_env: self.secret_access_key_env.clone(),
        }
    }
}

/// `source = { tallyfy = { ... } }` on a key result.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct TallyfySource {
    /// The connection to read; may be left out when the job has exactly one Tallyfy connection.
    #[serde(default)]
    pub connection: Option<String>,
    /// One read-only `SELECT` returning one numeric value. `$as_of`, `$as_of_end`,
    /// `$period_start` and `$period_end` are bound as parameters.
    pub sql: String,
}
