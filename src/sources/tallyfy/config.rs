//! Job-file settings of a Tallyfy connection and of a key result that reads from it, and the
//! connection as validated: where the exports are and which engine computes its key results.

use crate::model::Location;
use crate::sources::athena::AthenaSettings;
use crate::sources::folder::FolderConnection;
use serde::Deserialize;

/// `[connections.NAME] kind = "tallyfy"`: the folder or S3 prefix holding the process
/// exports (member lists are read from its `members/` sub-folder), how S3 is reached, and
/// where its key results are computed.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct TallyfyConnection {
    /// A local folder (relative to the job file) or `s3://bucket/prefix/`.
    pub url: String,
    /// S3 only: AWS profile of the shared config files.
    #[serde(default)]
    pub profile: Option<String>,
    /// S3 only: the bucket's region (Tallyfy's bucket is in us-west-2).
    #[serde(default)]
    pub region: Option<String>,
    /// S3 only: environment variables holding an access key, instead of the default chain.
    #[serde(default)]
    pub access_key_id_env: Option<String>,
    #[serde(default)]
    pub secret_access_key_env: Option<String>,
    /// Where key results are computed: left out, okrflow's own engine on this machine;
    /// `{ athena = "lake" }`, in Athena connection `lake`, where the exports live.
    #[serde(default)]
    pub engine: Option<EngineConfig>,
}

impl TallyfyConnection {
    /// The folder part of the settings, as other folder kinds have it.
    pub fn folder(&self) -> FolderConnection {
        FolderConnection {
            url: self.url.clone(),
            profile: self.profile.clone(),
            region: self.region.clone(),
            access_key_id_env: self.access_key_id_env.clone(),
            secret_access_key_env: self.secret_access_key_env.clone(),
        }
    }
}

/// `engine = { athena = "NAME" }` as written.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum EngineConfig {
    /// The Athena connection whose workgroup, database and credentials run the key results.
    Athena(String),
}

/// A validated Tallyfy connection.
#[derive(Debug, Clone, PartialEq)]
pub struct Exports {
    pub location: Location,
    pub engine: Engine,
}

/// Where a connection's key results are computed.
#[derive(Debug, Clone, PartialEq)]
pub enum Engine {
    /// DataFusion on this machine, reading the exports (with the connection's state).
    Local,
    /// Athena: `connection` names it; `settings` are its own, filled in when the job's
    /// connections are linked ([`crate::sources::SourceKind::bind`]).
    Athena {
        connection: String,
        settings: Option<Box<AthenaSettings>>,
    },
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
