//! Job-file settings of a Tallyfy connection and of a key result that reads from it.

use serde::Deserialize;

/// `[connections.NAME] kind = "tallyfy"`: the folder or S3 prefix holding the process
/// exports; member lists are read from its `members/` sub-folder.
pub type TallyfyConnection = crate::sources::folder::FolderConnection;

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
