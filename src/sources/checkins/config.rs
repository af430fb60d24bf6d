//! Job-file settings of a check-ins connection and of a key result measured by check-ins.

use serde::Deserialize;

/// `[connections.NAME] kind = "checkins"`: a folder or S3 prefix of check-in CSV files;
/// every `*.csv` under it is read, files in name order.
pub type CheckinsConnection = crate::sources::folder::FolderConnection;

/// `source = { checkins = {} }` on a key result: its value is its owner's newest check-in.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct CheckinsSource {
    /// The connection to read; may be left out when the job has exactly one.
    #[serde(default)]
    pub connection: Option<String>,
}
