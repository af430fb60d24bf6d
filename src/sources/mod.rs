//! Sources extract one raw value per key result. Each source lives in its own folder, split
//! by role (`config`, the loader or client, the queries); the pipeline only sees
//! [`KrValue`]s.

pub mod tallyfy;

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
    /// The key result's SQL ran but did not return one number.
    #[error("key result {kr_id}: {message}")]
    NotOneNumber { kr_id: String, message: String },
}
