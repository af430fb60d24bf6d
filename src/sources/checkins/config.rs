//! Job-file settings of a check-ins connection and of a key result measured by check-ins.

use crate::model::job::S3Options;
use serde::Deserialize;

/// `[connections.NAME] kind = "checkins"`: a folder of check-in CSV files.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct CheckinsConnection {
    /// A folder (relative paths are resolved against the job file's folder) or
    /// `s3://bucket/prefix/`; every `*.csv` under it is read, files in name order.
    pub url: String,
    /// S3 only: AWS profile of the shared config files.
    #[serde(default)]
    pub profile: Option<String>,
    /// S3 only: the bucket's region.
    #[serde(default)]
    pub region: Option<String>,
    /// S3 only: environment variables holding an access key, instead of the default chain.
    #[serde(default)]
    pub access_key_id_env: Option<String>,
    #[serde(default)]
    pub secret_access_key_env: Option<String>,
}

impl CheckinsConnection {
    /// The S3 keys of the connection.
    pub fn s3(&self) -> S3Options {
        S3Options {
            profile: self.profile.clone(),
            region: self.region.clone(),
            access_key_id_env: self.access_key_id_env.clone(),
            secret_access_key_env: self.secret_access_key_env.clone(),
        }
    }
}

/// `source = { checkins = {} }` on a key result: its value is its owner's newest check-in.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct CheckinsSource {
    /// The connection to read; may be left out when the job has exactly one.
    #[serde(default)]
    pub connection: Option<String>,
}
