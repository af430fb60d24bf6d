//! What a connection's export files told earlier runs, kept under the output at
//! `_okrflow/state/tallyfy/<connection>/`, so that a night with a few new exports reads the
//! old ones only for what it needs (BENCHMARKS.md):
//!
//! - the snapshot index: each export file's snapshots (a row per process and file, with the
//!   times that order them), in Parquet files that each cover some export files;
//! - the typed rows of the snapshots the last evaluation date chose (`tallyfy_latest`), with
//!   the columns they hold, and which snapshots those are.
//!
//! An export file is known by its name, size and modification time: a changed or deleted file
//! drops what was kept of it. `manifest.json` names the files in use and is written last, so a
//! run that stops midway leaves the previous state whole. All of it is a cache: a missing,
//! unreadable or outdated state (or another okrflow's SQL) only makes a run read more.

use crate::storage::{Opened, list_sorted};
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::arrow::record_batch::RecordBatch;
use object_store::ObjectStoreExt;
use std::collections::HashSet;

/// Why the state could not be opened, read or written. Every one only makes a run read more.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error(transparent)]
    Open(#[from] crate::storage::StorageError),
    #[error(transparent)]
    Encode(#[from] crate::parquet_io::EncodeError),
    #[error(transparent)]
    Manifest(#[from] serde_json::Error),
    #[error(transparent)]
    List(#[from] object_store::Error),
    /// An object of the state's store (or under it).
    #[error("{at}: {source}")]
    Object {
        at: String,
        #[source]
        source: object_store::Error,
    },
    /// A local file or folder.
    #[error("{at}: {source}")]
    Local {
        at: String,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Io(#[from] std::io::Error),
    #[error(transparent)]
    Outside(#[from] std::path::StripPrefixError),
}

pub(crate) use super::manifest::*;

/// Where a connection's state lives: under an output (kept between runs), or in a scratch
/// folder (`preview`, `validate`, the benchmarks: nothing is kept).
pub struct StateDir {
    opened: Opened,
    /// The folder under the store's root, without slashes around it.
    folder: String,
    /// Unique to this run: the names of the files it writes start with it.
    token: String,
    kept: bool,
    /// What the state says; updated as the run goes, saved by [`StateDir::save`].
    pub(crate) manifest: Manifest,
    _lock: Option<tokio::sync::OwnedMutexGuard<()>>,
}

impl StateDir {
    /// The state of `connection` under `output`, read now; or, without an output, a scratch
    /// state in `scratch` that starts empty and is never saved.
    pub async fn open(
        output: Option<&Opened>,
        connection: &str,
        scratch: &std::path::Path,
    ) -> Result<StateDir, StateError> {
        let token = format!(
            "{}-{}",
            chrono::Utc::now().format("%Y%m%dT%H%M%S"),
            &uuid::Uuid::new_v4().simple().to_string()[..8]
        );
        let Some(output) = output else {
            let opened =
                crate::storage::open(&crate::model::Location::Local(scratch.into()), true).await?;
            return Ok(StateDir {
                opened,
                folder: "state".into(),
                token,
                kept: false,
                manifest: Manifest::default(),
                _lock: None,
            });
        };
        let safe: String = connection
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || "-_".contains(c) {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        let folder = format!("_okrflow/state/tallyfy/{safe}");
        let lock = crate::storage::in_process_lock(&output.url(&folder))
            .lock_owned()
            .await;
        let mut state = StateDir {
            opened: output.clone(),
            folder,
            token,
            kept: true,
            manifest: Manifest::default(),
            _lock: Some(lock),
        };
        state.manifest = state.read_manifest().await;
        state.drop_missing().await;
        Ok(state)
    }

    /// Forgets what the manifest names but the folder does not hold (one listing).
    async fn drop_missing(&mut self) {
        let root = self.opened.path(&self.folder);
        let listed = list_sorted(&self.opened, &root, |_| true).await;
        let present: HashSet<String> = match listed {
            Ok(objects) => objects
                .iter()
                .filter_map(|o| o.location.prefix_match(&root)?.next())
                .map(|p| p.as_ref().to_string())
                .collect(),
            Err(e) => {
                self.forget(&e.to_string());
                return;
            }
        };
        let before = self.manifest.clone();
        self.manifest.index.retain(|f| present.contains(&f.name));
        if self
            .manifest
            .chosen
            .as_ref()
            .is_some_and(|c| !present.contains(&c.name))
        {
            self.manifest.chosen = None;
        }
        if let Some(l) = &self.manifest.latest
            && !l.segments.iter().all(|seg| {
                [&seg.folder, &seg.chosen, &seg.processes]
                    .iter()
                    .all(|name| present.contains(name.split('/').next().unwrap_or_default()))
            })
        {
            self.manifest.latest = None;
        }
        if self.manifest != before {
            tracing::warn!(state = %self.display(), "Tallyfy state misses files it names: those exports are read again");
        }
    }

    /// Starts afresh: what the state held is not used (it is replaced when saved).
    pub(crate) fn forget(&mut self, why: &str) {
        tracing::warn!(state = %self.display(), error = why, "Tallyfy state not used: every export is read");
        self.manifest = Manifest {
            sql: sql_version(),
            ..Manifest::default()
        };
    }

    /// Whether the state holds anything to use.
    pub(crate) fn is_empty(&self) -> bool {
        self.manifest.index.is_empty()
            && self.manifest.latest.is_none()
            && self.manifest.chosen.is_none()
    }

    /// Whether what is written here is kept for the next run.
    pub(crate) fn is_kept(&self) -> bool {
        self.kept
    }

    /// The manifest, or an empty one (with a warning when it was there but not usable).
    async fn read_manifest(&self) -> Manifest {
        let path = self.opened.path(&self.relative("manifest.json"));
        let fresh = Manifest {
            sql: sql_version(),
            ..Manifest::default()
        };
        let bytes = match self.opened.store.get(&path).await {
            Ok(got) => match got.bytes().await {
                Ok(b) => b,
                Err(e) => return self.unusable(fresh, &e.to_string()),
            },
            Err(object_store::Error::NotFound { .. }) => return fresh,
            Err(e) => return self.unusable(fresh, &e.to_string()),
        };
        match serde_json::from_slice::<Manifest>(&bytes) {
            // checked before any name is joined to a path
            Ok(m) if m.outside_name().is_some() => {
                let why = format!(
                    "it names `{}`, not a file of the state folder",
                    m.outside_name().unwrap_or_default()
                );
                self.unusable(fresh, &why)
            }
            Ok(m) if m.sql == fresh.sql => m,
            Ok(_) => {
                tracing::info!(state = %self.display(), "Tallyfy state is from other SQL: starting afresh");
                fresh
            }
            Err(e) => self.unusable(fresh, &e.to_string()),
        }
    }

    fn unusable(&self, fresh: Manifest, why: &str) -> Manifest {
        tracing::warn!(state = %self.display(), error = why, "Tallyfy state not usable: every export is read");
        fresh
    }

    fn relative(&self, name: &str) -> String {
        format!("{}/{name}", self.folder)
    }

    /// Where the state is, to show.
    pub(crate) fn display(&self) -> String {
        self.opened.url(&self.folder)
    }

    /// A new name for a file or folder this run writes: `<token>-<what>`.
    pub(crate) fn new_name(&self, what: &str) -> String {
        format!("{}-{what}", self.token)
    }

    /// The URL DataFusion reads or writes `name` (a file, or a folder ending in `/`) by.
    pub(crate) fn url(&self, name: &str) -> String {
        self.opened.url(&self.relative(name))
    }

    /// Makes the state's store known to `ctx`.
    pub(crate) fn register(&self, ctx: &datafusion::prelude::SessionContext) {
        self.opened.register(ctx);
    }

    /// Writes `batches` as the Parquet file `name`.
    pub(crate) async fn put(
        &self,
        name: &str,
        schema: SchemaRef,
        batches: &[RecordBatch],
    ) -> Result<(), StateError> {
        let bytes = crate::parquet_io::encode(schema, batches)?;
        self.opened
            .store
            .put(&self.opened.path(&self.relative(name)), bytes.into())
            .await
            .map(|_| ())
            .map_err(|source| StateError::Object {
                at: self.url(name),
                source,
            })
    }

    /// The state's folder on this machine, when the output is a local folder.
    pub(crate) fn local_dir(&self) -> Option<std::path::PathBuf> {
        url::Url::parse(&self.url("")).ok()?.to_file_path().ok()
    }

    /// A local path of the state's file or folder `name`: where it is, for a local output;
    /// else a copy downloaded into `scratch`.
    pub(crate) async fn local(
        &self,
        name: &str,
        scratch: &std::path::Path,
    ) -> Result<std::path::PathBuf, StateError> {
        if let Some(dir) = self.local_dir() {
            return Ok(dir.join(name));
        }
        let root = self.opened.path(&self.relative(name));
        // A file (its name ends in .parquet), or a folder of them.
        let objects: Vec<object_store::path::Path> = if name.ends_with(".parquet") {
            vec![root.clone()]
        } else {
            list_sorted(&self.opened, &root, |_| true)
                .await
                .map_err(|source| StateError::Object {
                    at: self.url(name),
                    source,
                })?
                .into_iter()
                .map(|o| o.location)
                .collect()
        };
        for location in &objects {
            let below: Vec<String> = location
                .prefix_match(&root)
                .into_iter()
                .flatten()
                .map(|p| p.as_ref().to_string())
                .collect();
            let to = match below.is_empty() {
                true => scratch.join(name),
                false => scratch.join(name).join(below.join("/")),
            };
            let fetched = async { self.opened.store.get(location).await?.bytes().await };
            let bytes = fetched.await.map_err(|source| StateError::Object {
                at: location.to_string(),
                source,
            })?;
            if let Some(parent) = to.parent() {
                std::fs::create_dir_all(parent)?;
            }
            std::fs::write(&to, bytes).map_err(|source| StateError::Local {
                at: to.display().to_string(),
                source,
            })?;
        }
        Ok(scratch.join(name))
    }

    /// Copies the files below the local folder `dir` to the folder `name`, keeping their
    /// relative paths.
    pub(crate) async fn put_folder(
        &self,
        name: &str,
        dir: &std::path::Path,
    ) -> Result<(), StateError> {
        let local = |path: &std::path::Path| {
            let at = path.display().to_string();
            move |source| StateError::Local { at, source }
        };
        let mut pending = vec![dir.to_path_buf()];
        while let Some(at) = pending.pop() {
            for entry in std::fs::read_dir(&at).map_err(local(&at))? {
                let path = entry?.path();
                if path.is_dir() {
                    pending.push(path);
                    continue;
                }
                let relative = path.strip_prefix(dir)?;
                let relative = relative.to_string_lossy().replace('\\', "/");
                let bytes = std::fs::read(&path).map_err(local(&path))?;
                let target = self.relative(&format!("{name}/{relative}"));
                self.opened
                    .store
                    .put(&self.opened.path(&target), bytes.into())
                    .await
                    .map_err(|source| StateError::Object {
                        at: self.opened.url(&target),
                        source,
                    })?;
            }
        }
        Ok(())
    }

    /// Saves the manifest (when the state is kept), then deletes what it no longer names.
    pub async fn save(&self) -> Result<(), StateError> {
        if !self.kept {
            return Ok(());
        }
        let json = serde_json::to_vec_pretty(&self.manifest)?;
        let manifest = self.opened.path(&self.relative("manifest.json"));
        self.opened
            .store
            .put(&manifest, json.into())
            .await
            .map_err(|source| StateError::Object {
                at: self.url("manifest.json"),
                source,
            })?;
        // What the manifest names, by its first path segment (a folder, or a file).
        let top = |name: &str| name.split('/').next().unwrap_or_default().to_string();
        let mut used: HashSet<String> = self.manifest.index.iter().map(|f| top(&f.name)).collect();
        used.extend(self.manifest.chosen.iter().map(|c| top(&c.name)));
        if let Some(l) = &self.manifest.latest {
            for seg in &l.segments {
                used.extend([&seg.folder, &seg.chosen, &seg.processes].map(|n| top(n)));
            }
        }
        let root = self.opened.path(&self.folder);
        let objects = list_sorted(&self.opened, &root, |_| true).await?;
        for o in objects {
            let Some(first) = o.location.prefix_match(&root).and_then(|mut p| p.next()) else {
                continue;
            };
            let first = first.as_ref().to_string();
            if first != "manifest.json" && !used.contains(&first) {
                // A file left behind is only space: the next save tries again.
                if let Err(e) = self.opened.store.delete(&o.location).await {
                    tracing::debug!(object = %o.location, error = %e, "old Tallyfy state not deleted");
                }
            }
        }
        // A folder has no object of its own on S3; on disk the emptied ones stay behind.
        if let Ok(dir) = url::Url::parse(&self.url("")).and_then(|u| {
            u.to_file_path()
                .map_err(|()| url::ParseError::RelativeUrlWithoutBase)
        }) {
            remove_empty_folders(&dir);
        }
        Ok(())
    }
}

/// Removes the empty folders below `dir` (not `dir` itself).
fn remove_empty_folders(dir: &std::path::Path) {
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            remove_empty_folders(&path);
            let _ = std::fs::remove_dir(&path);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A manifest is kept between runs, and what it no longer names is deleted; one from
    /// other SQL, or unreadable, is an empty state.
    #[tokio::test]
    async fn the_manifest_names_what_is_kept() {
        let dir = tempfile::tempdir().unwrap();
        let output = crate::storage::open(&crate::model::Location::Local(dir.path().into()), true)
            .await
            .unwrap();
        let scratch = dir.path().join("scratch");
        let mut state = StateDir::open(Some(&output), "my conn", &scratch)
            .await
            .unwrap();
        assert!(state.manifest.index.is_empty() && state.manifest.latest.is_none());
        let schema = std::sync::Arc::new(datafusion::arrow::datatypes::Schema::empty());
        let (a, b) = (state.new_name("a.parquet"), state.new_name("b.parquet"));
        state.put(&a, schema.clone(), &[]).await.unwrap();
        state.put(&b, schema, &[]).await.unwrap();
        let old = dir.path().join("scratch-latest/row_kind=x");
        std::fs::create_dir_all(&old).unwrap();
        std::fs::write(old.join("a.parquet"), b"x").unwrap();
        state
            .put_folder("old-latest", &dir.path().join("scratch-latest"))
            .await
            .unwrap();
        let file = FileId {
            key: "x.parquet".into(),
            size: 3,
            mtime_nanos: 4,
        };
        state.manifest.index.push(IndexFile {
            name: a.clone(),
            files: vec![file],
            rows: 0,
        });
        state.save().await.unwrap();
        // One user of a state at a time: the next open waits for this one to be dropped.
        let saved = state.manifest.clone();
        drop(state);
        let folder = dir.path().join("_okrflow/state/tallyfy/my_conn");
        assert!(folder.join(&a).exists() && !folder.join(&b).exists());
        assert!(!folder.join("old-latest").exists());
        let again = StateDir::open(Some(&output), "my conn", &scratch)
            .await
            .unwrap();
        assert_eq!(again.manifest, saved);
        drop(again);

        let mut other = saved.clone();
        other.sql = "older".into();
        std::fs::write(
            folder.join("manifest.json"),
            serde_json::to_vec(&other).unwrap(),
        )
        .unwrap();
        let fresh = StateDir::open(Some(&output), "my conn", &scratch)
            .await
            .unwrap();
        assert!(fresh.manifest.index.is_empty());
        drop(fresh);
        std::fs::write(folder.join("manifest.json"), b"{not json").unwrap();
        let fresh = StateDir::open(Some(&output), "my conn", &scratch)
            .await
            .unwrap();
        assert!(fresh.manifest.index.is_empty());
        assert_eq!(fresh.manifest.sql, sql_version());
        drop(fresh);

        // Names are single segments, checked before any join: `x/../../…` is refused even
        // when `x/` is there.
        std::fs::create_dir_all(folder.join("x")).unwrap();
        std::fs::write(folder.join("x/f.parquet"), b"x").unwrap();
        for (i, name) in ["x/../../../../escape.parquet", "..", "x"]
            .iter()
            .enumerate()
        {
            let mut outside = saved.clone();
            match i {
                2 => {
                    outside.chosen = Some(Chosen {
                        name: "x/f.parquet".into(),
                        end_nanos: 0,
                        files: vec![],
                    })
                }
                _ => outside.index[0].name = name.to_string(),
            }
            std::fs::write(
                folder.join("manifest.json"),
                serde_json::to_vec(&outside).unwrap(),
            )
            .unwrap();
            let fresh = StateDir::open(Some(&output), "my conn", &scratch)
                .await
                .unwrap();
            assert!(fresh.is_empty(), "{name}: {:?}", fresh.manifest);
        }
    }
}
