//! What the model needs from the source kinds that measure key results, without naming one:
//! the job-file types of a connection and of a key result's `source`, and how each resolves.
//! the sources' registry implements it once; the model is generic over it, so the
//! sources import the model and never the other way round.

use super::Measure;
use serde::de::DeserializeOwned;
use std::fmt::Debug;
use std::path::Path;

/// A connection resolved from its `[connections.NAME]` table, with the findings that do not
/// stop the job (an unset environment variable, a missing replay folder).
#[derive(Debug, Clone, PartialEq)]
pub struct Resolved<T> {
    pub value: T,
    pub warnings: Vec<String>,
}

impl<T> Resolved<T> {
    /// A connection with nothing to warn about.
    pub fn ok(value: T) -> Resolved<T> {
        Resolved {
            value,
            warnings: Vec::new(),
        }
    }
}

/// The source kinds a job can use.
pub trait Kinds {
    /// `[connections.NAME]`, told apart by `kind`.
    type ConnectionConfig: DeserializeOwned + Debug;
    /// `source = { KIND = {...} }` of a key result.
    type SourceConfig: DeserializeOwned + Debug;
    /// A validated connection.
    type Connection: Debug + Clone;
    /// A validated `source`: what a key result reads from its connection.
    type Link: Debug + Clone + PartialEq;

    /// Validates a connection; relative paths are resolved against `base_dir` (the job
    /// file's folder). The errors are every problem found.
    fn connection(
        config: &Self::ConnectionConfig,
        base_dir: &Path,
    ) -> Result<Resolved<Self::Connection>, Vec<String>>;

    /// The `kind` of a validated connection.
    fn connection_kind(connection: &Self::Connection) -> &'static str;

    /// The kind a key result's `source` names.
    fn source_kind(config: &Self::SourceConfig) -> &'static str;

    /// The `connection = "…"` of a key result's `source`, when given.
    fn source_connection(config: &Self::SourceConfig) -> Option<&str>;

    /// The roll-up a `source = { aligned = { rollup = … } }` asks for; `None` for a source
    /// kind's source.
    fn rollup(config: &Self::SourceConfig) -> Option<super::job::Rollup>;

    /// Validates a key result's `source` for its measure. The errors are every problem found.
    fn link(config: &Self::SourceConfig, measure: &Measure) -> Result<Self::Link, Vec<String>>;

    /// Links connections that name another (a Tallyfy connection computing in an Athena
    /// connection), once every connection is resolved: the problems, by connection name.
    fn bind(
        _connections: &mut std::collections::BTreeMap<String, Self::Connection>,
    ) -> Vec<(String, String)> {
        Vec::new()
    }
}
