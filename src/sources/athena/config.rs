//! Job-file settings of an Athena connection and of a key result whose SQL runs in Athena.

use serde::Deserialize;

/// `[connections.NAME] kind = "athena"`: where and how key results' queries run.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct AthenaConnection {
    /// The AWS region of the workgroup (default: the profile's or `AWS_REGION`).
    #[serde(default)]
    pub region: Option<String>,
    /// The workgroup queries run in; default `primary`.
    #[serde(default)]
    pub workgroup: Option<String>,
    /// The default database of the queries.
    pub database: String,
    /// The data catalog; default `AwsDataCatalog`.
    #[serde(default)]
    pub catalog: Option<String>,
    /// `s3://…/` where Athena writes results; optional when the workgroup enforces its own.
    #[serde(default)]
    pub output: Option<String>,
    /// AWS profile of the shared config files.
    #[serde(default)]
    pub profile: Option<String>,
    /// Environment variables holding an access key, instead of the default chain.
    #[serde(default)]
    pub access_key_id_env: Option<String>,
    #[serde(default)]
    pub secret_access_key_env: Option<String>,
    /// Seconds a query may run before it is stopped; default 300.
    #[serde(default)]
    pub timeout_secs: Option<f64>,
    /// Queries running at once; default 4.
    #[serde(default)]
    pub max_concurrency: Option<usize>,
    /// Let Athena answer from a result of the same query at most this many minutes old
    /// (1 to 10,080); default off.
    #[serde(default)]
    pub reuse_results_minutes: Option<u32>,
    /// Answer from this raw archive (relative to the job file) instead of Athena.
    #[serde(default)]
    pub replay: Option<String>,
}

/// `source = { athena = { sql = "…" } }`: one query in Athena's (Trino) dialect returning one
/// number; `$as_of`, `$as_of_end`, `$period_start` and `$period_end` become execution
/// parameters.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct AthenaSource {
    /// The connection; may be left out when the job has exactly one Athena connection.
    #[serde(default)]
    pub connection: Option<String>,
    pub sql: String,
}
