//! Sources extract one raw value per key result. Each source lives in its own folder, split
//! by role (`config`, the loader or client, the queries); the pipeline only sees
//! [`KrValue`]s. [`http`] is the HTTP plumbing the API sources share.

pub mod http;
pub mod jira;
pub mod looker;
pub mod tallyfy;

use std::path::PathBuf;

/// How the API sources (Looker, Jira) reach their servers in a run.
#[derive(Debug, Clone, Default)]
pub struct ApiOptions {
    /// Answer every request from this raw archive (`run --replay`), not the network.
    pub replay: Option<PathBuf>,
    /// Archive every response used under this folder (`<output>/raw/as_of=DATE`).
    pub archive: Option<PathBuf>,
}

/// The raw value a source found for one key result, or why it could not.
#[derive(Debug, Clone, PartialEq)]
pub struct KrValue {
    pub kr_id: String,
    /// `Ok(value)`, or the error that is written to the snapshot's `error` column.
    pub value: Result<f64, SourceError>,
}

/// Why a source could not produce a key result's value. Variants carry the key result and
/// connection they are about.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SourceError {
    /// The source's data could not be read at all (every KR on the connection fails with it).
    #[error("connection `{connection}`: cannot read {location}: {message}")]
    Unreadable {
        connection: String,
        location: String,
        message: String,
    },
    /// The key result's SQL failed to plan or run.
    #[error("key result {kr_id}: query failed: {message}")]
    Query { kr_id: String, message: String },
    /// An API source (Looker, Jira) could not give the key result's data.
    #[error("connection `{connection}`: {message}")]
    Api { connection: String, message: String },
    /// The key result's SQL ran but did not return one number.
    #[error("key result {kr_id}: {message}")]
    NotOneNumber { kr_id: String, message: String },
}
