//! The raw archive: every response a run uses is written to
//! `<output>/raw/as_of=DATE/<connection>/<request key>.json`, and a run with `--replay`
//! answers from such an archive instead of the network (as does an earlier run's archive for
//! the requests it holds).

use super::errors::HttpError;
use super::request::{Body, Request, Response};
use chrono::{DateTime, Utc};
use object_store::ObjectStoreExt;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// One archived response: what was asked, and what came back. Never holds credentials.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct ArchivedResponse {
    pub connection: String,
    pub method: String,
    pub path: String,
    pub query: Vec<(String, String)>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_body: Option<serde_json::Value>,
    pub status: u16,
    pub fetched_at: DateTime<Utc>,
    /// The body, as JSON when it is JSON, else as a string.
    pub body: serde_json::Value,
    #[serde(default)]
    pub body_is_text: bool,
}

/// The archived answer to `request` in a replay folder; `described` names it in messages.
pub(super) fn replay(
    dir: &Path,
    request: &Request,
    described: String,
) -> Result<Response, HttpError> {
    let path = dir.join(format!("{}.json", request.key()));
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(_) => {
            return Err(HttpError::NotArchived {
                request: described,
                path,
            });
        }
    };
    parse_archived(&text, &path.display().to_string(), described)
}

/// The answer an earlier archive holds for `request` (at `url`, for messages), if it holds one.
pub(super) async fn earlier_answer(
    earlier: &Archive,
    request: &Request,
    url: &str,
) -> Result<Option<Response>, HttpError> {
    let path = earlier
        .prefix
        .clone()
        .join(format!("{}.json", request.key()));
    let described = format!("{} {} (from {})", request.method, url, earlier.prefix);
    let bytes = match earlier.store.get(&path).await {
        Ok(found) => found.bytes().await,
        Err(object_store::Error::NotFound { .. }) => return Ok(None),
        Err(e) => Err(e),
    }
    .map_err(|e| HttpError::Body {
        request: described.clone(),
        message: e.to_string(),
    })?;
    let text = String::from_utf8_lossy(&bytes);
    Ok(Some(parse_archived(&text, path.as_ref(), described)?))
}

/// Writes connection `connection`'s response to `request` into `dir`; a form (a login) is
/// never archived.
pub(super) async fn write(
    dir: &Archive,
    connection: &str,
    request: &Request,
    response: &Response,
) -> Result<(), HttpError> {
    if matches!(request.body, Body::Form(_)) {
        return Ok(());
    }
    let (body, body_is_text) = match serde_json::from_str(&response.body) {
        Ok(v) => (v, false),
        Err(_) => (serde_json::Value::String(response.body.clone()), true),
    };
    let record = ArchivedResponse {
        connection: connection.to_string(),
        method: request.method.to_string(),
        path: request.path.clone(),
        query: request.query.clone(),
        request_body: match &request.body {
            Body::Json(v) => Some(v.clone()),
            _ => None,
        },
        status: response.status,
        fetched_at: Utc::now(),
        body,
        body_is_text,
    };
    let path = dir.prefix.clone().join(format!("{}.json", request.key()));
    let text = serde_json::to_string_pretty(&record).expect("archived responses serialise");
    // An object store put is whole or absent (a local file is written aside and renamed).
    dir.store
        .put(&path, text.into_bytes().into())
        .await
        .map_err(|e| HttpError::Archive {
            path: PathBuf::from(path.to_string()),
            message: e.to_string(),
        })?;
    Ok(())
}

/// An archived response file's answer; `path` and `request` are for messages.
fn parse_archived(text: &str, path: &str, request: String) -> Result<Response, HttpError> {
    let archived: ArchivedResponse = serde_json::from_str(text).map_err(|e| HttpError::Body {
        request: request.clone(),
        message: format!("{path} is not an archived response: {e}"),
    })?;
    let body = match archived.body {
        serde_json::Value::String(s) if archived.body_is_text => s,
        v => v.to_string(),
    };
    Ok(Response {
        status: archived.status,
        body,
        request,
        fetched_at: archived.fetched_at,
    })
}

/// Where raw responses are archived: a store and a prefix (`<output>/raw/as_of=DATE`).
#[derive(Clone)]
pub struct Archive {
    pub store: std::sync::Arc<dyn object_store::ObjectStore>,
    pub prefix: object_store::path::Path,
}

impl std::fmt::Debug for Archive {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Archive({})", self.prefix)
    }
}

impl Archive {
    /// An archive in a local folder (created when missing).
    pub fn local(dir: &Path) -> std::io::Result<Archive> {
        std::fs::create_dir_all(dir)?;
        let absolute = dir.canonicalize()?;
        Ok(Archive {
            store: std::sync::Arc::new(object_store::local::LocalFileSystem::new()),
            prefix: object_store::path::Path::from_absolute_path(&absolute)
                .map_err(|e| std::io::Error::other(e.to_string()))?,
        })
    }

    /// The archive of one output location and run date: `<output>/raw/as_of=DATE`.
    pub fn of_output(output: &crate::storage::Opened, as_of: chrono::NaiveDate) -> Archive {
        Archive {
            store: output.store.clone(),
            prefix: output.path(&format!("raw/as_of={as_of}")),
        }
    }

    /// The archive of one connection: `<prefix>/<name>`.
    pub fn child(&self, name: &str) -> Archive {
        Archive {
            store: self.store.clone(),
            prefix: self.prefix.clone().join(name),
        }
    }

    /// The text of `name` under this archive, `None` when it is not there.
    pub async fn get(&self, name: &str) -> Result<Option<String>, String> {
        let path = self.prefix.clone().join(name);
        match self.store.get(&path).await {
            Ok(found) => found
                .bytes()
                .await
                .map(|b| Some(String::from_utf8_lossy(&b).into_owned()))
                .map_err(|e| format!("cannot read {path}: {e}")),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(format!("cannot read {path}: {e}")),
        }
    }

    /// Writes `text` as `name` under this archive, whole or not at all.
    pub async fn put(&self, name: &str, text: String) -> Result<(), String> {
        let path = self.prefix.clone().join(name);
        self.store
            .put(&path, text.into_bytes().into())
            .await
            .map(|_| ())
            .map_err(|e| format!("cannot archive {path}: {e}"))
    }
}

/// The replay folder for a run date: `dir/as_of=DATE` when `dir` holds dated folders (an
/// output's `raw/`), else `dir` itself (one day's archive, or a bundled one).
pub(crate) fn replay_root(dir: &Path, as_of: chrono::NaiveDate) -> PathBuf {
    let dated = dir.join(format!("as_of={as_of}"));
    if dated.is_dir() {
        return dated;
    }
    dir.to_path_buf()
}
