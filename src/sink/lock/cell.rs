//! The lock object's compare-and-swap: create it only if absent, replace it only if it is
//! still the version read. On S3 these are conditional writes (`If-None-Match: *` and
//! `If-Match: <etag>` through object_store's `PutMode::Create` and `PutMode::Update`). In a
//! local folder object_store has no conditional update, so the read-check-write runs under an
//! exclusive `flock` of a guard file beside the lock (`_okrflow/lock.guard`), and the lock is
//! written aside and renamed into place; the version is the body itself.

use crate::storage::Opened;
use object_store::{ObjectStore, ObjectStoreExt, PutMode, PutOptions, UpdateVersion};
use std::io::Write;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// What identifies the lock object's current content: S3's ETag, or the local body.
pub(super) type Version = String;

/// The write did not happen: the object exists (create) or changed (replace).
#[derive(Debug)]
pub(super) struct Conflict;

/// Where the lock object lives.
pub(super) enum Cell {
    Store {
        store: Arc<dyn ObjectStore>,
        path: object_store::path::Path,
    },
    Local {
        file: PathBuf,
        guard: PathBuf,
    },
}

type Outcome = Result<Result<Version, Conflict>, String>;

impl Cell {
    /// The lock object `relative` of `opened`.
    pub fn new(opened: &Opened, relative: &str, guard: &str) -> Cell {
        if opened.store_url.scheme() == "file" {
            let root = Path::new("/");
            Cell::Local {
                file: root.join(opened.path(relative).as_ref()),
                guard: root.join(opened.path(guard).as_ref()),
            }
        } else {
            Cell::Store {
                store: opened.store.clone(),
                path: opened.path(relative),
            }
        }
    }

    /// The body and version, or `None` when there is no lock object.
    pub async fn read(&self) -> Result<Option<(Vec<u8>, Version)>, String> {
        match self {
            Cell::Store { store, path } => match store.get(path).await {
                Ok(r) => {
                    let etag = r.meta.e_tag.clone();
                    let body = r
                        .bytes()
                        .await
                        .map_err(|e| format!("cannot read it: {e}"))?;
                    let etag = etag.ok_or("the store gave no ETag for it")?;
                    Ok(Some((body.to_vec(), etag)))
                }
                Err(object_store::Error::NotFound { .. }) => Ok(None),
                Err(e) => Err(format!("cannot read it: {e}")),
            },
            Cell::Local { file, guard } => {
                let (file, guard) = (file.clone(), guard.clone());
                blocking(move || {
                    let _held = Guard::take(&guard)?;
                    read_local(&file)
                })
                .await
            }
        }
    }

    /// Writes `body` if there is no lock object.
    pub async fn create(&self, body: Vec<u8>) -> Outcome {
        match self {
            Cell::Store { store, path } => put(store, path, body, PutMode::Create).await,
            Cell::Local { file, guard } => {
                let (file, guard) = (file.clone(), guard.clone());
                blocking(move || {
                    let _held = Guard::take(&guard)?;
                    if read_local(&file)?.is_some() {
                        return Ok(Err(Conflict));
                    }
                    write_local(&file, &body).map(Ok)
                })
                .await
            }
        }
    }

    /// Writes `body` if the lock object is still at `expected`.
    pub async fn replace(&self, body: Vec<u8>, expected: &Version) -> Outcome {
        match self {
            Cell::Store { store, path } => {
                let mode = PutMode::Update(UpdateVersion {
                    e_tag: Some(expected.clone()),
                    version: None,
                });
                put(store, path, body, mode).await
            }
            Cell::Local { file, guard } => {
                let (file, guard, expected) = (file.clone(), guard.clone(), expected.clone());
                blocking(move || {
                    let _held = Guard::take(&guard)?;
                    match read_local(&file)? {
                        Some((_, now)) if now == expected => write_local(&file, &body).map(Ok),
                        _ => Ok(Err(Conflict)),
                    }
                })
                .await
            }
        }
    }
}

async fn put(
    store: &Arc<dyn ObjectStore>,
    path: &object_store::path::Path,
    body: Vec<u8>,
    mode: PutMode,
) -> Outcome {
    let options = PutOptions {
        mode,
        ..Default::default()
    };
    match store.put_opts(path, body.into(), options).await {
        Ok(r) => r
            .e_tag
            .map(Ok)
            .ok_or_else(|| "the store gave no ETag for the write".to_string()),
        // 412 (and 404 on If-Match) are `Precondition`; 409 after object_store's retries, and
        // 412 on If-None-Match, are `AlreadyExists`
        Err(
            object_store::Error::Precondition { .. } | object_store::Error::AlreadyExists { .. },
        ) => Ok(Err(Conflict)),
        Err(e) => Err(format!("cannot write it: {e}")),
    }
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, String> + Send + 'static,
) -> Result<T, String> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| format!("the lock task failed: {e}"))?
}

fn read_local(file: &Path) -> Result<Option<(Vec<u8>, Version)>, String> {
    match std::fs::read(file) {
        Ok(body) => {
            let version = String::from_utf8_lossy(&body).into_owned();
            Ok(Some((body, version)))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(format!("cannot read it: {e}")),
    }
}

/// Writes `body` aside and renames it over `file`: a reader sees the old or the new lock.
fn write_local(file: &Path, body: &[u8]) -> Result<Version, String> {
    let dir = file.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let mut aside =
        tempfile::NamedTempFile::new_in(dir).map_err(|e| format!("cannot write it: {e}"))?;
    aside
        .write_all(body)
        .and_then(|()| aside.as_file().sync_all())
        .map_err(|e| format!("cannot write it: {e}"))?;
    aside
        .persist(file)
        .map_err(|e| format!("cannot write it: {e}"))?;
    Ok(String::from_utf8_lossy(body).into_owned())
}

/// An exclusive `flock` of the guard file, released when dropped (the file is closed).
struct Guard {
    _file: std::fs::File,
}

impl Guard {
    fn take(path: &Path) -> Result<Guard, String> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)
                .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        }
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(path)
            .map_err(|e| format!("cannot open {}: {e}", path.display()))?;
        // SAFETY: flock on a descriptor this function owns; it blocks until no other holder.
        if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX) } != 0 {
            let e = std::io::Error::last_os_error();
            return Err(format!("cannot lock {}: {e}", path.display()));
        }
        Ok(Guard { _file: file })
    }
}
