//! LookML for the output tables, as a folder a Looker developer copies into a project as it
//! is: a view per table and per Athena latest view ([`views`]), a model that includes only
//! the folder's own files, with a datagroup and explores ([`model`]), and LookML dashboards
//! ([`dashboards`]). Every view, explore, dashboard and the model are named under one prefix
//! (default `okr_`), so nothing collides with what the project already has.

pub mod dashboards;
pub mod model;
pub mod views;

pub use model::model;
pub use views::{latest_views, view};

use super::athena::AthenaError;
use datafusion::arrow::datatypes::Schema;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Why the LookML files could not be written.
#[derive(Debug, thiserror::Error)]
pub enum LookmlError {
    /// The output folder could not be made.
    #[error("cannot create {}", dir.display())]
    Create {
        /// The folder.
        dir: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// A file could not be written.
    #[error("cannot write {}", path.display())]
    Write {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// A column has no Athena type.
    #[error(transparent)]
    Type(#[from] AthenaError),
    /// The prefix is not a LookML name's start.
    #[error(
        "--prefix {0:?} is not usable in LookML names: use lower-case letters, digits and \
         underscores, starting with a letter (e.g. okr_), or an empty prefix"
    )]
    Prefix(String),
    /// The folder's name cannot be written in an include.
    #[error(
        "the folder {} has no name usable in the model's includes (letters, digits, `_`, `-` \
         and `.`): give --out a folder named so, e.g. --out lookml/okr_generated",
        dir.display()
    )]
    Folder {
        /// The folder given.
        dir: PathBuf,
    },
    /// A dashboard could not be serialised as YAML.
    #[error("cannot write dashboard {name} as YAML")]
    Yaml {
        /// The dashboard.
        name: String,
        /// Why.
        #[source]
        source: serde_norway::Error,
    },
}

/// What names the generated files: the prefix of every view, explore, dashboard and of the
/// model, the folder the files are copied into (at the Looker project's root; the model's
/// includes are anchored to it), the Athena database and the Looker connection.
#[derive(Debug, Clone)]
pub struct Project {
    /// Put before every view, explore, dashboard and the model's name (`okr_`).
    pub prefix: String,
    /// The folder at the project's root that holds the files (`--out`'s last component).
    pub folder: String,
    /// The Athena database the tables are registered in.
    pub database: String,
    /// The Looker connection the model uses.
    pub connection: String,
}

impl Project {
    /// A project, its prefix and folder checked.
    pub fn new(
        prefix: &str,
        folder: &str,
        database: &str,
        connection: &str,
    ) -> Result<Self, LookmlError> {
        let prefix_ok = prefix.is_empty()
            || (prefix.starts_with(|c: char| c.is_ascii_lowercase())
                && prefix
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_'));
        if !prefix_ok {
            return Err(LookmlError::Prefix(prefix.to_string()));
        }
        let folder_ok = !folder.is_empty()
            && folder != "."
            && folder != ".."
            && folder
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'));
        if !folder_ok {
            return Err(LookmlError::Folder {
                dir: PathBuf::from(folder),
            });
        }
        Ok(Project {
            prefix: prefix.to_string(),
            folder: folder.to_string(),
            database: database.to_string(),
            connection: connection.to_string(),
        })
    }

    /// A view's, explore's or dashboard's name: `name` under the prefix.
    pub fn name(&self, name: &str) -> String {
        format!("{}{name}", self.prefix)
    }

    /// The model's name, its file's stem: `<prefix>okrflow` (`okr_okrflow`). `okrflow` keeps
    /// it apart from a model the project may already call after the prefix (`okr`); model
    /// names must be unique on the whole instance, dashboards' URLs hold them.
    pub fn model_name(&self) -> String {
        self.name("okrflow")
    }
}

/// The name of the folder `out`: its last component; `.` and `..`, resolved, name the
/// folder they are.
fn folder_name(out: &Path) -> Result<String, LookmlError> {
    let resolved = match out.file_name() {
        Some(_) => out.to_path_buf(),
        None => out.canonicalize().map_err(|source| LookmlError::Create {
            dir: out.to_path_buf(),
            source,
        })?,
    };
    resolved
        .file_name()
        .and_then(|n| n.to_str())
        .map(str::to_string)
        .ok_or_else(|| LookmlError::Folder {
            dir: out.to_path_buf(),
        })
}

/// Writes into `out` (made if missing) a view file per table of `tables` (`(name, partition
/// column, schema)`), the views of the latest views, the model and the dashboards, every
/// name under `prefix`; the files written, in order. The model's includes are anchored to
/// `out`'s own name: the folder is meant to be copied to the Looker project's root as it is.
pub(crate) fn write_folder(
    out: &Path,
    prefix: &str,
    database: &str,
    connection: &str,
    tables: &[(String, String, Arc<Schema>)],
) -> Result<Vec<PathBuf>, LookmlError> {
    let project = Project::new(prefix, &folder_name(out)?, database, connection)?;
    std::fs::create_dir_all(out).map_err(|source| LookmlError::Create {
        dir: out.to_path_buf(),
        source,
    })?;
    let mut written = Vec::new();
    let mut write = |file: String, text: String| {
        let path = out.join(file);
        std::fs::write(&path, text).map_err(|source| LookmlError::Write {
            path: path.clone(),
            source,
        })?;
        written.push(path);
        Ok::<(), LookmlError>(())
    };
    for (table, partition, schema) in tables {
        write(
            format!("{}.view.lkml", project.name(table)),
            view(&project, table, partition, schema)?,
        )?;
    }
    for (view, text) in latest_views(&project) {
        write(format!("{view}.view.lkml"), text)?;
    }
    write(
        format!("{}.model.lkml", project.model_name()),
        model(&project),
    )?;
    for (name, text) in dashboards::dashboards(&project)? {
        write(format!("{name}.dashboard.lookml"), text)?;
    }
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_and_folders_are_checked() {
        assert!(Project::new("okr_", "okr_looker", "okr", "athena").is_ok());
        assert!(Project::new("", "okr_looker", "okr", "athena").is_ok());
        for bad in ["OKR_", "1okr", "okr-", "okr "] {
            let err = Project::new(bad, "x", "okr", "athena").unwrap_err();
            assert!(err.to_string().contains(&format!("{bad:?}")), "{err}");
        }
        for bad in ["", ".", "a b", "a/b"] {
            assert!(matches!(
                Project::new("okr_", bad, "okr", "athena"),
                Err(LookmlError::Folder { .. })
            ));
        }
        let p = Project::new("acme_", "gen", "okr", "athena").unwrap();
        assert_eq!(p.name("runs"), "acme_runs");
        assert_eq!(
            folder_name(Path::new("build/okr_looker")).unwrap(),
            "okr_looker"
        );
        assert_eq!(
            folder_name(Path::new("build/okr_looker/")).unwrap(),
            "okr_looker"
        );
        let here = std::env::current_dir().unwrap();
        let here = here.file_name().unwrap().to_str().unwrap();
        assert_eq!(folder_name(Path::new(".")).unwrap(), here);
        assert_eq!(p.model_name(), "acme_okrflow");
    }
}
