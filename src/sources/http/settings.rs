//! A connection's request settings as the job file gives them and as validated, and what
//! every API connection has besides its kind's own settings: base URL, requests and replay.

use crate::net::check_base_url;
use std::ops::{Deref, DerefMut};
use std::path::{Path, PathBuf};
use std::time::Duration;
use url::Url;

/// Defaults of every API connection's request settings.
pub struct HttpDefaults;

impl HttpDefaults {
    /// Seconds per request.
    pub const TIMEOUT_SECS: f64 = 40.0;
    /// Requests in flight at once per connection.
    pub const CONCURRENCY: usize = 4;
    /// Retries of 429, 5xx and refused connections.
    pub const MAX_RETRIES: usize = 4;
    /// MiB an answer's body may have: a Looker result or a Jira page is far less; a body
    /// past it is refused rather than held in memory.
    pub const MAX_RESPONSE_MIB: u32 = 64;

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
    /// serde default of `max_response_mib`.
    pub fn max_response_mib() -> u32 {
        Self::MAX_RESPONSE_MIB
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
    /// Bytes an answer's body may have.
    pub max_body: usize,
}

impl HttpSettings {
    /// Checks a connection's `timeout_secs`, `concurrency`, `max_retries` and
    /// `max_response_mib`.
    pub fn checked(
        timeout_secs: f64,
        concurrency: usize,
        max_retries: usize,
        max_response_mib: u32,
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
        if !(1..=1024).contains(&max_response_mib) {
            problems.push(format!(
                "max_response_mib must be 1 to 1024, not {max_response_mib}"
            ));
        }
        if !problems.is_empty() {
            return Err(problems);
        }
        Ok(HttpSettings {
            timeout: Duration::from_secs_f64(timeout_secs),
            concurrency,
            max_retries,
            max_body: max_response_mib as usize * 1024 * 1024,
        })
    }
}

/// The job-file fields every API connection has, as [`api_connection!`] adds them.
pub(crate) struct ApiFields<'a> {
    pub base_url: &'a str,
    pub timeout_secs: f64,
    pub concurrency: usize,
    pub max_retries: usize,
    pub max_response_mib: u32,
    pub replay: Option<&'a str>,
}

/// A job-file connection struct made by [`api_connection!`].
pub(crate) trait ApiConnectionConfig {
    /// The fields every API connection has.
    fn api_fields(&self) -> ApiFields<'_>;
}

/// `api_connection! { /// doc  #[derive(..)] pub struct KindConnection { pub base_url: String, .. } }`:
/// an API kind's `[connections.NAME]` struct, its own fields (`base_url` among them) followed
/// by those every API connection has: `timeout_secs`, `concurrency`, `max_retries`,
/// `max_response_mib` and `replay`. A macro, not `#[serde(flatten)]`, because the struct denies unknown fields, which
/// flattening defeats; serde lists the fields in this order in its messages.
macro_rules! api_connection {
    (
        $(#[$meta:meta])*
        pub struct $name:ident {
            $($fields:tt)*
        }
    ) => {
        $(#[$meta])*
        pub struct $name {
            $($fields)*
            #[serde(default = "crate::sources::http::HttpDefaults::timeout_secs")]
            pub timeout_secs: f64,
            #[serde(default = "crate::sources::http::HttpDefaults::concurrency")]
            pub concurrency: usize,
            #[serde(default = "crate::sources::http::HttpDefaults::max_retries")]
            pub max_retries: usize,
            #[serde(default = "crate::sources::http::HttpDefaults::max_response_mib")]
            pub max_response_mib: u32,
            /// Answer from this raw archive (relative to the job file) instead of the
            /// network: the demo's way to run without an account.
            #[serde(default)]
            pub replay: Option<String>,
        }

        impl $crate::sources::http::ApiConnectionConfig for $name {
            fn api_fields(&self) -> $crate::sources::http::ApiFields<'_> {
                $crate::sources::http::ApiFields {
                    base_url: &self.base_url,
                    timeout_secs: self.timeout_secs,
                    concurrency: self.concurrency,
                    max_retries: self.max_retries,
                    max_response_mib: self.max_response_mib,
                    replay: self.replay.as_deref(),
                }
            }
        }
    };
}
pub(crate) use api_connection;

/// A validated API connection: what every API kind has — where, how its requests go, and an
/// optional replay archive — and the kind's own settings `K` (credentials, options), whose
/// fields and methods are reached through it (`Deref`).
#[derive(Debug, Clone, PartialEq)]
pub struct ApiSettings<K> {
    /// The root requests are made below.
    pub base_url: Url,
    pub http: HttpSettings,
    /// A bundled raw archive to answer from instead of the network.
    pub replay: Option<PathBuf>,
    /// The kind's own settings.
    pub own: K,
}

impl<K> Deref for ApiSettings<K> {
    type Target = K;
    fn deref(&self) -> &K {
        &self.own
    }
}

impl<K> DerefMut for ApiSettings<K> {
    fn deref_mut(&mut self) -> &mut K {
        &mut self.own
    }
}

impl<K> ApiSettings<K> {
    /// True when answers come from a replay archive: the connection's own, or the run's
    /// (`replay_given`).
    pub(crate) fn replayed(&self, replay_given: bool) -> bool {
        replay_given || self.replay.is_some()
    }
}

/// A job-file API connection being checked: each check adds its problems, in the order the
/// kind calls them, and [`ApiCheck::finish`] gives the settings when there are none.
pub(crate) struct ApiCheck<'a> {
    fields: ApiFields<'a>,
    base_dir: &'a Path,
    /// Every problem found so far; a kind adds its own.
    pub problems: Vec<String>,
    base_url: Option<Url>,
    http: Option<HttpSettings>,
}

impl<'a> ApiCheck<'a> {
    /// Starts checking `config`; `base_dir` (the job file's folder) resolves `replay`.
    pub fn new(config: &'a impl ApiConnectionConfig, base_dir: &'a Path) -> ApiCheck<'a> {
        ApiCheck {
            fields: config.api_fields(),
            base_dir,
            problems: Vec::new(),
            base_url: None,
            http: None,
        }
    }

    /// Checks `base_url`; the URL, when valid, for the kind to adjust.
    pub fn base_url(&mut self) -> Option<&mut Url> {
        match check_base_url(self.fields.base_url) {
            Ok(url) => self.base_url = Some(url),
            Err(e) => self.problems.push(e.to_string()),
        }
        self.base_url.as_mut()
    }

    /// Checks `timeout_secs`, `concurrency`, `max_retries` and `max_response_mib`.
    pub fn http(&mut self) {
        let f = &self.fields;
        let checked = HttpSettings::checked(
            f.timeout_secs,
            f.concurrency,
            f.max_retries,
            f.max_response_mib,
        );
        match checked {
            Ok(http) => self.http = Some(http),
            Err(p) => self.problems.extend(p),
        }
    }

    /// The validated connection with the kind's own settings, or every problem found.
    pub fn finish<K>(self, own: K) -> Result<ApiSettings<K>, Vec<String>> {
        match (self.base_url, self.http) {
            (Some(base_url), Some(http)) if self.problems.is_empty() => Ok(ApiSettings {
                base_url,
                http,
                replay: self.fields.replay.map(|r| self.base_dir.join(r)),
                own,
            }),
            _ => Err(self.problems),
        }
    }
}
