//! HTTP plumbing shared by the API sources (Looker, Jira): one [`HttpClient`] per connection
//! with a per-request timeout, bounded concurrency, bounded retries with exponential backoff
//! and jitter that honour `Retry-After`, and the raw archive: every response a run uses is
//! written to `<output>/raw/as_of=DATE/<connection>/<request key>.json`, and a run with
//! `--replay` answers from such an archive instead of the network.

use crate::secret::Secret;
use backon::{ExponentialBuilder, Retryable};
use chrono::{DateTime, Utc};
use object_store::ObjectStoreExt;
use reqwest::header::{HeaderMap, HeaderValue};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use tokio::sync::Semaphore;
use url::Url;

/// The longest `Retry-After` okrflow waits for; a server asking for more fails the request.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(120);
/// First backoff delay; it doubles per retry, with jitter, up to [`MAX_BACKOFF`].
const FIRST_BACKOFF: Duration = Duration::from_millis(250);
const MAX_BACKOFF: Duration = Duration::from_secs(20);

/// Defaults of every API connection's request settings.
pub struct HttpDefaults;

impl HttpDefaults {
    /// Seconds per request.
    pub const TIMEOUT_SECS: f64 = 40.0;
    /// Requests in flight at once per connection.
    pub const CONCURRENCY: usize = 4;
    /// Retries of 429, 5xx and refused connections.
    pub const MAX_RETRIES: usize = 4;

    /// serde default of `timeout_secs`.
    pub fn timeout_secs() -> f64 {
        Self::TIMEOUT_SECS
    }
    /// serde default of `concurrency`.
    pub fn concurrency() -> usize {
        Self::CONCURRENCY
    }
    /// serde default of `max_retries`.
    pub fn max_retries() -> usize {
        Self::MAX_RETRIES
    }
}

/// Per-connection request settings.
#[derive(Debug, Clone, PartialEq)]
pub struct HttpSettings {
    /// Per request, including reading the body.
    pub timeout: Duration,
    /// Requests in flight at once on this connection.
    pub concurrency: usize,
    /// Retries after the first attempt for 429, 5xx and refused connections.
    pub max_retries: usize,
}

impl HttpSettings {
    /// Checks a connection's `timeout_secs`, `concurrency` and `max_retries`.
    pub fn checked(
        timeout_secs: f64,
        concurrency: usize,
        max_retries: usize,
    ) -> Result<HttpSettings, Vec<String>> {
        let mut problems = Vec::new();
        if !(timeout_secs > 0.0 && timeout_secs <= 3600.0) {
            problems.push(format!(
                "timeout_secs must be above 0 and at most 3600, not {timeout_secs}"
            ));
        }
        if concurrency == 0 {
            problems.push("concurrency must be at least 1".into());
        }
        if max_retries > 10 {
            problems.push(format!("max_retries must be at most 10, not {max_retries}"));
        }
        if !problems.is_empty() {
            return Err(problems);
        }
        Ok(HttpSettings {
            timeout: Duration::from_secs_f64(timeout_secs),
            concurrency,
            max_retries,
        })
    }
}

/// Why a request failed. Every variant names the request (method and URL, which never carry
/// credentials).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum HttpError {
    #[error("{request}: no answer within {secs} s")]
    Timeout { request: String, secs: f64 },
    #[error("{request}: cannot connect: {message}")]
    Connect { request: String, message: String },
    #[error("{request}: HTTP {status}: {message}")]
    Status {
        request: String,
        status: u16,
        message: String,
        /// How long the server asked us to wait (429/503), when it said.
        retry_after: Option<Duration>,
    },
    #[error("{request}: the response could not be read: {message}")]
    Body { request: String, message: String },
    #[error("{request}: not in the replay archive (looked for {path})")]
    NotArchived { request: String, path: PathBuf },
    #[error("cannot write the raw archive {path}: {message}")]
    Archive { path: PathBuf, message: String },
    #[error("connection `{connection}`: {message}")]
    Setup { connection: String, message: String },
}

impl HttpError {
    /// 429, 5xx and refused connections are worth another try; timeouts are not (a cold
    /// query would only time out again, and each try costs the whole timeout).
    fn is_retryable(&self) -> bool {
        match self {
            HttpError::Status { status, .. } => *status == 429 || *status >= 500,
            HttpError::Connect { .. } => true,
            _ => false,
        }
    }

    /// The HTTP status, when the server answered with an error.
    pub fn status(&self) -> Option<u16> {
        match self {
            HttpError::Status { status, .. } => Some(*status),
            _ => None,
        }
    }
}

/// A request body.
#[derive(Debug, Clone)]
pub enum Body {
    None,
    Json(serde_json::Value),
    /// A form of secret values (a login); such a request is never archived.
    Form(Vec<(&'static str, Secret)>),
}

/// One request, relative to the connection's base URL.
#[derive(Debug, Clone)]
pub struct Request {
    pub method: reqwest::Method,
    /// Path below the base URL, starting with `/`.
    pub path: String,
    pub query: Vec<(String, String)>,
    pub body: Body,
}

impl Request {
    /// A `GET` of `path` with query parameters.
    pub fn get(path: impl Into<String>, query: &[(&str, &str)]) -> Request {
        Request {
            method: reqwest::Method::GET,
            path: path.into(),
            query: query
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            body: Body::None,
        }
    }

    /// `METHOD path?query`, for messages.
    pub fn describe(&self) -> String {
        let mut s = format!("{} {}", self.method, self.path);
        if !self.query.is_empty() {
            let mut u = Url::parse("http://x/").expect("static url");
            u.query_pairs_mut().extend_pairs(&self.query);
            s.push('?');
            s.push_str(u.query().unwrap_or_default());
        }
        s
    }

    /// The archive file name: readable method and path, and a hash of method, path, query
    /// and body, so the same request always has the same key.
    pub fn key(&self) -> String {
        let mut h = Sha256::new();
        h.update(self.method.as_str());
        h.update([0]);
        h.update(&self.path);
        let mut query = self.query.clone();
        query.sort();
        for (k, v) in &query {
            h.update([0]);
            h.update(k);
            h.update([1]);
            h.update(v);
        }
        if let Body::Json(v) = &self.body {
            h.update([2]);
            h.update(v.to_string());
        }
        let digest: String = h
            .finalize()
            .iter()
            .take(6)
            .map(|b| format!("{b:02x}"))
            .collect();
        let mut slug = String::new();
        for c in self.path.chars() {
            if c.is_ascii_alphanumeric() {
                slug.push(c.to_ascii_lowercase());
            } else if !slug.ends_with('_') {
                slug.push('_');
            }
        }
        let slug: String = slug.trim_matches('_').chars().take(80).collect();
        format!("{}_{slug}_{digest}", self.method.as_str().to_lowercase())
    }
}

/// A successful response.
#[derive(Debug, Clone)]
pub struct Response {
    pub status: u16,
    pub body: String,
    /// What the request was, for messages.
    pub request: String,
    /// When the server gave this answer: now, or when an archived answer was fetched.
    pub fetched_at: chrono::DateTime<Utc>,
}

impl Response {
    /// Parses the body as JSON of type `T`.
    pub fn json<T: serde::de::DeserializeOwned>(&self) -> Result<T, HttpError> {
        serde_json::from_str(&self.body).map_err(|e| HttpError::Body {
            request: self.request.clone(),
            message: format!("unexpected JSON: {e}"),
        })
    }
}

/// One archived response: what was asked, and what came back. Never holds credentials.
#[derive(Debug, Serialize, Deserialize)]
pub struct ArchivedResponse {
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

/// Where answers come from.
enum Transport {
    Network(reqwest::Client),
    /// A folder of `<request key>.json` files for this connection.
    Replay(PathBuf),
}

/// The HTTP client of one connection.
pub struct HttpClient {
    connection: String,
    base: Url,
    settings: HttpSettings,
    transport: Transport,
    /// Where this connection's raw responses are archived, if anywhere.
    archive: Option<Archive>,
    /// An earlier run's archive that answers the requests it holds before the network does.
    earlier: Option<Archive>,
    permits: Arc<Semaphore>,
    requests: AtomicUsize,
    /// Headers sent with every request (credentials, proxy headers); never archived or logged.
    secret_headers: Vec<(reqwest::header::HeaderName, HeaderValue)>,
}

impl HttpClient {
    /// Adds headers sent with every network request, such as a fixed `Authorization` or a
    /// reverse proxy's header. Their values are secrets.
    pub fn with_secret_headers(
        mut self,
        headers: Vec<(String, Secret)>,
    ) -> Result<HttpClient, HttpError> {
        for (name, value) in headers {
            let setup = |what: &str| HttpError::Setup {
                connection: self.connection.clone(),
                message: format!("header `{name}`: {what}"),
            };
            let name = reqwest::header::HeaderName::from_bytes(name.as_bytes())
                .map_err(|_| setup("not a valid header name"))?;
            let mut value = HeaderValue::from_str(value.expose())
                .map_err(|_| setup("the value has characters not allowed in a header"))?;
            value.set_sensitive(true);
            self.secret_headers.push((name, value));
        }
        Ok(self)
    }

    /// A client for `base` (requests are made below it). With `replay`, answers come from
    /// `replay/<connection>/` and nothing goes over the network. With `archive`, responses are
    /// written to `archive/<connection>/`.
    pub fn new(
        connection: &str,
        base: Url,
        settings: HttpSettings,
        replay: Option<&Path>,
        archive: Option<&Archive>,
    ) -> Result<HttpClient, HttpError> {
        let transport = match replay {
            Some(dir) => Transport::Replay(dir.join(connection)),
            None => Transport::Network(
                reqwest::Client::builder()
                    .user_agent(concat!("okrflow/", env!("CARGO_PKG_VERSION")))
                    .redirect(reqwest::redirect::Policy::none())
                    .connect_timeout(settings.timeout.min(Duration::from_secs(15)))
                    .build()
                    .map_err(|e| HttpError::Setup {
                        connection: connection.into(),
                        message: format!("cannot build the HTTP client: {e}"),
                    })?,
            ),
        };
        Ok(HttpClient {
            connection: connection.into(),
            permits: Arc::new(Semaphore::new(settings.concurrency.max(1))),
            base,
            settings,
            transport,
            archive: archive.map(|a| a.child(connection)),
            earlier: None,
            requests: AtomicUsize::new(0),
            secret_headers: Vec::new(),
        })
    }

    /// Answers the requests `earlier` (a run's `raw/as_of=DATE`) holds from it, and only the
    /// others from the network. Replaying clients ignore it.
    pub fn with_earlier_archive(mut self, earlier: Option<&Archive>) -> HttpClient {
        self.earlier = earlier.map(|a| a.child(&self.connection));
        self
    }

    /// True when answers come from an archive.
    pub fn is_replay(&self) -> bool {
        matches!(self.transport, Transport::Replay(_))
    }

    /// The connection's name.
    pub fn connection(&self) -> &str {
        &self.connection
    }

    /// The per-request timeout.
    pub fn timeout(&self) -> Duration {
        self.settings.timeout
    }

    /// Requests sent over the network so far (retries included).
    pub fn requests_sent(&self) -> usize {
        self.requests.load(Ordering::Relaxed)
    }

    /// Sends `request` with an optional `Authorization` value, retrying 429, 5xx and refused
    /// connections with backoff. A 2xx answer is archived unless `archive` is false (logins).
    pub async fn send(
        &self,
        request: &Request,
        authorization: Option<&Secret>,
        archive: bool,
    ) -> Result<Response, HttpError> {
        let described = format!("{} {}", self.connection, request.describe());
        if let Transport::Replay(dir) = &self.transport {
            let response = self.replay(dir, request)?;
            if archive {
                self.write_archive(request, &response).await?;
            }
            return Ok(response);
        }
        if let Some(response) = self.earlier_answer(request).await? {
            if archive {
                self.write_archive(request, &response).await?;
            }
            return Ok(response);
        }
        let backoff = ExponentialBuilder::default()
            .with_min_delay(FIRST_BACKOFF)
            .with_max_delay(MAX_BACKOFF)
            .with_max_times(self.settings.max_retries)
            .with_jitter();
        let response = (|| self.attempt(request, authorization))
            .retry(backoff)
            .when(HttpError::is_retryable)
            .adjust(|e, next| {
                // Out of retries: stop. Otherwise wait as long as the server asked, if it
                // asked for a bearable time; a longer wait fails now rather than hang the run.
                let next = next?;
                match e {
                    HttpError::Status {
                        retry_after: Some(wait),
                        ..
                    } if *wait > MAX_RETRY_AFTER => None,
                    HttpError::Status {
                        retry_after: Some(wait),
                        ..
                    } => Some(*wait),
                    _ => Some(next),
                }
            })
            .notify(|e, wait| {
                tracing::warn!(request = %described, error = %e, wait_ms = wait.as_millis() as u64, "retrying")
            })
            .await?;
        if archive {
            self.write_archive(request, &response).await?;
        }
        Ok(response)
    }

    async fn attempt(
        &self,
        request: &Request,
        authorization: Option<&Secret>,
    ) -> Result<Response, HttpError> {
        let Transport::Network(client) = &self.transport else {
            unreachable!("replay answers before any attempt")
        };
        let described = format!("{} {}", request.method, self.url_for_messages(request));
        let _permit = self.permits.acquire().await.expect("never closed");
        self.requests.fetch_add(1, Ordering::Relaxed);
        let url = self.url(request);
        let mut builder = client
            .request(request.method.clone(), url)
            .timeout(self.settings.timeout)
            .header(reqwest::header::ACCEPT, "application/json");
        for (name, value) in &self.secret_headers {
            builder = builder.header(name.clone(), value.clone());
        }
        if let Some(auth) = authorization {
            let mut value = HeaderValue::from_str(auth.expose()).map_err(|_| HttpError::Setup {
                connection: self.connection.clone(),
                message: "the credential contains characters not allowed in a header".into(),
            })?;
            value.set_sensitive(true);
            builder = builder.header(reqwest::header::AUTHORIZATION, value);
        }
        builder = match &request.body {
            Body::None => builder,
            Body::Json(v) => builder.json(v),
            Body::Form(pairs) => {
                let pairs: Vec<(&str, &str)> =
                    pairs.iter().map(|(k, v)| (*k, v.expose())).collect();
                builder.form(&pairs)
            }
        };
        let started = std::time::Instant::now();
        let result = builder.send().await;
        let response = match result {
            Ok(r) => r,
            Err(e) => return Err(self.transport_error(&described, &e)),
        };
        let status = response.status().as_u16();
        let retry_after = retry_after(response.headers());
        let body = response
            .text()
            .await
            .map_err(|e| self.transport_error(&described, &e))?;
        tracing::debug!(request = %described, status, ms = started.elapsed().as_millis() as u64, "response");
        if !(200..300).contains(&status) {
            return Err(HttpError::Status {
                request: described,
                status,
                message: error_message(&body),
                retry_after,
            });
        }
        Ok(Response {
            status,
            body,
            request: described,
            fetched_at: Utc::now(),
        })
    }

    fn transport_error(&self, described: &str, e: &reqwest::Error) -> HttpError {
        if e.is_timeout() {
            HttpError::Timeout {
                request: described.into(),
                secs: self.settings.timeout.as_secs_f64(),
            }
        } else if e.is_connect() {
            HttpError::Connect {
                request: described.into(),
                message: error_chain(e),
            }
        } else {
            HttpError::Body {
                request: described.into(),
                message: error_chain(e),
            }
        }
    }

    fn url(&self, request: &Request) -> Url {
        let mut url = self.base.clone();
        let path = format!("{}{}", self.base.path().trim_end_matches('/'), request.path);
        url.set_path(&path);
        if !request.query.is_empty() {
            url.query_pairs_mut().extend_pairs(&request.query);
        }
        url
    }

    /// The full URL; query strings never hold credentials, so it is safe to print.
    fn url_for_messages(&self, request: &Request) -> String {
        self.url(request).to_string()
    }

    fn replay(&self, dir: &Path, request: &Request) -> Result<Response, HttpError> {
        let path = dir.join(format!("{}.json", request.key()));
        let described = format!(
            "{} {} (replayed)",
            request.method,
            self.url_for_messages(request)
        );
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

    /// The answer the earlier archive holds for `request`, if it holds one.
    async fn earlier_answer(&self, request: &Request) -> Result<Option<Response>, HttpError> {
        let Some(earlier) = &self.earlier else {
            return Ok(None);
        };
        let path = earlier
            .prefix
            .clone()
            .join(format!("{}.json", request.key()));
        let described = format!(
            "{} {} (from {})",
            request.method,
            self.url_for_messages(request),
            earlier.prefix
        );
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

    async fn write_archive(&self, request: &Request, response: &Response) -> Result<(), HttpError> {
        let Some(dir) = &self.archive else {
            return Ok(());
        };
        if matches!(request.body, Body::Form(_)) {
            return Ok(());
        }
        let (body, body_is_text) = match serde_json::from_str(&response.body) {
            Ok(v) => (v, false),
            Err(_) => (serde_json::Value::String(response.body.clone()), true),
        };
        let record = ArchivedResponse {
            connection: self.connection.clone(),
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
pub fn replay_root(dir: &Path, as_of: chrono::NaiveDate) -> PathBuf {
    let dated = dir.join(format!("as_of={as_of}"));
    if dated.is_dir() {
        return dated;
    }
    dir.to_path_buf()
}

/// Checks an API base URL: absolute, `https`, or `http` only on loopback.
pub fn check_base_url(url: &str) -> Result<Url, String> {
    let parsed =
        Url::parse(url.trim()).map_err(|e| format!("base_url `{url}` is not a URL: {e}"))?;
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(format!(
            "base_url must not carry credentials; name environment variables instead"
        ));
    }
    let loopback = match parsed.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    };
    match parsed.scheme() {
        "https" => Ok(parsed),
        "http" if loopback => Ok(parsed),
        "http" => Err(format!(
            "base_url `{url}` must use https (plain http is allowed on loopback only)"
        )),
        other => Err(format!("base_url `{url}`: unsupported scheme `{other}`")),
    }
}

/// How long the server asked us to wait: `Retry-After` (seconds or an HTTP date), else
/// `X-RateLimit-Reset` (an ISO 8601 time, as Jira Cloud sends it), else Jira Data Center's
/// `X-RateLimiting-Interval-Seconds` (or `X-RateLimit-` prefixed).
pub fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let text = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
    };
    if let Some(v) = text("retry-after") {
        if let Ok(secs) = v.parse::<f64>() {
            return (secs.is_finite() && secs >= 0.0).then(|| Duration::from_secs_f64(secs));
        }
        if let Ok(at) = DateTime::parse_from_rfc2822(v) {
            return Some(
                (at.with_timezone(&Utc) - Utc::now())
                    .to_std()
                    .unwrap_or_default(),
            );
        }
    }
    if let Some(v) = text("x-ratelimit-reset")
        && let Ok(at) = DateTime::parse_from_rfc3339(v)
    {
        return Some(
            (at.with_timezone(&Utc) - Utc::now())
                .to_std()
                .unwrap_or_default(),
        );
    }
    // Jira Data Center's token bucket (8.6 EAP names): one interval refills it.
    [
        "x-ratelimiting-interval-seconds",
        "x-ratelimit-interval-seconds",
    ]
    .iter()
    .find_map(|h| text(h)?.parse::<f64>().ok())
    .filter(|s| s.is_finite() && *s >= 0.0)
    .map(Duration::from_secs_f64)
}

/// The error message of an error body: Looker's `message`, Jira's `errorMessages` and
/// `errors`, or the start of the body.
pub fn error_message(body: &str) -> String {
    if let Ok(serde_json::Value::Object(map)) = serde_json::from_str::<serde_json::Value>(body) {
        let mut parts: Vec<String> = Vec::new();
        if let Some(serde_json::Value::String(m)) = map.get("message") {
            parts.push(m.clone());
        }
        if let Some(serde_json::Value::Array(list)) = map.get("errorMessages") {
            parts.extend(list.iter().filter_map(|v| v.as_str().map(String::from)));
        }
        match map.get("errors") {
            Some(serde_json::Value::Object(errors)) => parts.extend(
                errors
                    .iter()
                    .map(|(k, v)| format!("{k}: {}", v.as_str().unwrap_or(&v.to_string()))),
            ),
            Some(serde_json::Value::Array(errors)) => parts.extend(errors.iter().map(|e| {
                e.get("message")
                    .and_then(|m| m.as_str())
                    .map_or_else(|| e.to_string(), String::from)
            })),
            _ => {}
        }
        if !parts.is_empty() {
            return parts.join("; ");
        }
    }
    let body = body.trim();
    if body.is_empty() {
        return "(empty body)".into();
    }
    let mut s: String = body.chars().take(200).collect();
    if s.len() < body.len() {
        s.push('…');
    }
    s
}

/// An error with its sources, each once: `outer: inner: innermost`.
pub fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut s = e.to_string();
    let mut source = e.source();
    while let Some(inner) = source {
        let text = inner.to_string();
        if !s.contains(&text) {
            s.push_str(": ");
            s.push_str(&text);
        }
        source = inner.source();
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_urls_must_be_https_except_on_loopback() {
        assert!(check_base_url("https://acme.cloud.looker.com").is_ok());
        assert!(check_base_url("http://127.0.0.1:8080").is_ok());
        assert!(check_base_url("http://localhost:1").is_ok());
        assert!(check_base_url("http://[::1]:1").is_ok());
        let e = check_base_url("http://acme.cloud.looker.com").unwrap_err();
        assert!(e.contains("must use https"), "{e}");
        let e = check_base_url("https://me:pw@acme.atlassian.net").unwrap_err();
        assert!(e.contains("credentials") && !e.contains("pw"), "{e}");
    }

    #[test]
    fn request_keys_are_stable_and_tell_requests_apart() {
        let a = Request::get(
            "/api/4.0/dashboards/search",
            &[("title", "Sales"), ("fields", "id")],
        );
        let b = Request::get(
            "/api/4.0/dashboards/search",
            &[("fields", "id"), ("title", "Sales")],
        );
        let c = Request::get("/api/4.0/dashboards/search", &[("title", "Support")]);
        assert_eq!(a.key(), b.key(), "query order does not matter");
        assert_ne!(a.key(), c.key());
        assert!(
            a.key().starts_with("get_api_4_0_dashboards_search_"),
            "{}",
            a.key()
        );
        assert_eq!(
            a.describe(),
            "GET /api/4.0/dashboards/search?title=Sales&fields=id"
        );
    }

    #[test]
    fn error_bodies_of_looker_and_jira_become_messages() {
        assert_eq!(
            error_message(
                r#"{"message": "Not found", "documentation_url": "http://docs.looker.com"}"#
            ),
            "Not found"
        );
        assert_eq!(
            error_message(
                r#"{"errorMessages":["The value 'XYZ' does not exist for the field 'project'."],"errors":{}}"#
            ),
            "The value 'XYZ' does not exist for the field 'project'."
        );
        assert_eq!(
            error_message("<html>Bad gateway</html>"),
            "<html>Bad gateway</html>"
        );
        assert_eq!(error_message(""), "(empty body)");
    }

    #[test]
    fn retry_after_reads_seconds_dates_and_jira_reset() {
        let mut h = HeaderMap::new();
        h.insert("retry-after", HeaderValue::from_static("3"));
        assert_eq!(retry_after(&h), Some(Duration::from_secs(3)));
        let mut h = HeaderMap::new();
        h.insert(
            "retry-after",
            HeaderValue::from_static("Wed, 21 Oct 2015 07:28:00 GMT"),
        );
        assert_eq!(
            retry_after(&h),
            Some(Duration::ZERO),
            "a date in the past waits nothing"
        );
        let mut h = HeaderMap::new();
        let soon = (Utc::now() + chrono::Duration::seconds(30)).to_rfc3339();
        h.insert("x-ratelimit-reset", HeaderValue::from_str(&soon).unwrap());
        let wait = retry_after(&h).unwrap();
        assert!(
            wait > Duration::from_secs(25) && wait <= Duration::from_secs(30),
            "{wait:?}"
        );
        let mut h = HeaderMap::new();
        h.insert(
            "x-ratelimiting-interval-seconds",
            HeaderValue::from_static("2"),
        );
        assert_eq!(retry_after(&h), Some(Duration::from_secs(2)));
        assert_eq!(retry_after(&HeaderMap::new()), None);
    }
}
