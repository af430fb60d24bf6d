//! What `manifest.json` of a connection's state (`super::state`) records: the export files
//! as a run saw them, the snapshot index's files, the chosen snapshots and the latest rows,
//! and the version of the SQL that made them. Its names are checked to be the state folder's
//! own before anything is joined to them.

use super::Tallyfy;
use crate::sources::SourceKind;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// An export file as a run saw it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct FileId {
    pub(crate) key: String,
    pub(crate) size: u64,
    pub(crate) mtime_nanos: i64,
}

impl From<&super::loader::ExportFile> for FileId {
    fn from(f: &super::loader::ExportFile) -> Self {
        FileId {
            key: f.key.clone(),
            size: f.size,
            mtime_nanos: f.mtime_nanos,
        }
    }
}

/// A file of the snapshot index and the export files it covers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct IndexFile {
    pub(crate) name: String,
    pub(crate) files: Vec<FileId>,
    /// Its rows (entries).
    pub(crate) rows: u64,
}

/// Typed rows of chosen snapshots written by one run: a segment of `tallyfy_latest`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Segment {
    /// A folder of Parquet files (a folder per `row_kind` below it).
    pub(crate) folder: String,
    /// A Parquet file of the snapshots whose rows these are (`process_id`, `src_file`).
    pub(crate) chosen: String,
    /// A Parquet file of the `tallyfy_processes` rows computed with these rows.
    pub(crate) processes: String,
    /// The export files as they were when the rows were read.
    pub(crate) files: Vec<FileId>,
}

/// The kept segments of `tallyfy_latest`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct LatestRows {
    /// The columns of `tallyfy_latest` that hold values; the others are NULL.
    pub(crate) columns: Vec<String>,
    /// Oldest first.
    pub(crate) segments: Vec<Segment>,
}

/// `manifest.json`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Manifest {
    /// The Tallyfy SQL the state was computed with ([`sql_version`]).
    pub(crate) sql: String,
    pub(crate) index: Vec<IndexFile>,
    /// The newest snapshots of the last evaluation date, as index entries.
    #[serde(default)]
    pub(crate) chosen: Option<Chosen>,
    pub(crate) latest: Option<LatestRows>,
}

impl Manifest {
    /// The first name it holds that is not a file or folder of the state folder itself:
    /// each must be one path segment (a segment's folder two: `<latest>/<part>`), never
    /// `..`, so that whoever writes the output cannot make a run read or write elsewhere.
    pub(crate) fn outside_name(&self) -> Option<&str> {
        let segment = |n: &str| !matches!(n, "" | "." | "..") && !n.contains(['\\', '\0']);
        let segments = self.latest.iter().flat_map(|l| &l.segments);
        self.index
            .iter()
            .map(|f| (f.name.as_str(), 1))
            .chain(self.chosen.iter().map(|c| (c.name.as_str(), 1)))
            .chain(segments.flat_map(|s| {
                [
                    (s.folder.as_str(), 2),
                    (s.chosen.as_str(), 1),
                    (s.processes.as_str(), 1),
                ]
            }))
            .find(|(name, parts)| {
                name.split('/').count() != *parts || !name.split('/').all(segment)
            })
            .map(|(name, _)| name)
    }
}

/// `tallyfy_snapshots` of an evaluation date, kept so that a later date ranks only these and
/// the index entries it did not consider (`sql/tallyfy_chosen_index.sql`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Chosen {
    /// A Parquet file with `tallyfy_file_index`'s columns.
    pub(crate) name: String,
    /// The end of that evaluation day (`tallyfy_params.as_of_end`), in nanoseconds.
    pub(crate) end_nanos: i64,
    /// The export files it was chosen from, as they were.
    pub(crate) files: Vec<FileId>,
}

/// A hash of the SQL whose results the state keeps: another version of it starts afresh.
pub(crate) fn sql_version() -> String {
    let mut hash = Sha256::new();
    for s in Tallyfy::STATEMENTS {
        hash.update(s.name);
        hash.update(s.sql);
    }
    hash.finalize()[..8]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}
