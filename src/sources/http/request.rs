//! One request and its answer, as the client sends it and the archive keeps it.

use super::errors::HttpError;
use crate::secret::Secret;
use chrono::Utc;
use sha2::{Digest, Sha256};
use url::Url;

/// A request body.
#[derive(Debug, Clone)]
pub(crate) enum Body {
    None,
    Json(serde_json::Value),
    /// A form of secret values (a login); such a request is never archived.
    Form(Vec<(&'static str, Secret)>),
}

/// One request, relative to the connection's base URL.
#[derive(Debug, Clone)]
pub(crate) struct Request {
    pub method: reqwest::Method,
    /// Path below the base URL, starting with `/`.
    pub path: String,
    pub query: Vec<(String, String)>,
    pub body: Body,
}

impl Request {
    /// A `GET` of `path` with query parameters.
    pub(crate) fn get(path: impl Into<String>, query: &[(&str, &str)]) -> Request {
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
    pub(crate) fn describe(&self) -> String {
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
    pub(crate) fn key(&self) -> String {
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
pub(crate) struct Response {
    pub status: u16,
    pub body: String,
    /// What the request was, for messages.
    pub request: String,
    /// When the server gave this answer: now, or when an archived answer was fetched.
    pub fetched_at: chrono::DateTime<Utc>,
}

impl Response {
    /// Parses the body as JSON of type `T`.
    pub(crate) fn json<T: serde::de::DeserializeOwned>(&self) -> Result<T, HttpError> {
        serde_json::from_str(&self.body).map_err(|e| HttpError::Body {
            request: self.request.clone(),
            message: format!("unexpected JSON: {e}"),
        })
    }
}
