//! Why a request failed, and what an error answer says: its message and how long to wait.

use crate::net::cut_message;
use chrono::{DateTime, Utc};
use reqwest::header::HeaderMap;
use std::path::PathBuf;
use std::time::Duration;

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
    #[error(
        "{request}: the answer is larger than {limit_mib} MiB (the connection's max_response_mib), so it was not read"
    )]
    TooLarge { request: String, limit_mib: usize },
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
    pub(super) fn is_retryable(&self) -> bool {
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

/// How long the server asked us to wait: `Retry-After` (seconds or an HTTP date), else
/// `X-RateLimit-Reset` (an ISO 8601 time, as Jira Cloud sends it), else Jira Data Center's
/// `X-RateLimiting-Interval-Seconds` (or `X-RateLimit-` prefixed).
pub(crate) fn retry_after(headers: &HeaderMap) -> Option<Duration> {
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
/// `errors`, or the start of the body; at most [`MESSAGE_CHARS`] characters.
pub(crate) fn error_message(body: &str) -> String {
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
            return cut_message(&parts.join("; "));
        }
    }
    let body = body.trim();
    if body.is_empty() {
        return "(empty body)".into();
    }
    cut_message(body)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::net::MESSAGE_CHARS;
    use reqwest::header::HeaderValue;

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
        // a page of an error is cut to a few hundred characters, JSON or not
        let long = "x".repeat(10_000);
        for body in [
            format!(r#"{{"message": "{long}"}}"#),
            format!(r#"{{"errorMessages": ["{long}", "{long}"]}}"#),
            format!("<html>{long}</html>"),
        ] {
            let m = error_message(&body);
            assert_eq!(m.chars().count(), MESSAGE_CHARS + 1, "{m}");
            assert!(m.ends_with('…'), "{m}");
        }
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
