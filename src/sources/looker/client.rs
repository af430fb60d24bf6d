//! The Looker API 4.0 client of one connection: login with the client id and secret (form
//! body), a bearer token kept until 10 s before it expires and renewed once on a 401, the
//! calls that find dashboards, tiles and looks, and the query runs in `json_detail`.

use super::model::{
    AccessToken, DashboardElement, DashboardFilter, JsonDetail, Look, Query, SearchHit, id_text,
};
use crate::secret::{Secret, SecretError};
use crate::sources::http::{Body, HttpClient, HttpError, Request, Response};
use crate::sources::{Cause, HasCause};
use serde_json::Value;
use std::time::{Duration, Instant};
use tokio::sync::Mutex;

const API: &str = "/api/4.0";
/// Renew the token this long before Looker says it expires (as the official SDKs do).
const TOKEN_LAG: Duration = Duration::from_secs(10);
/// Run parameters of every query run: table calculations computed by Looker, raw values.
const RUN_PARAMS: &[(&str, &str)] = &[
    ("server_table_calcs", "true"),
    ("apply_formatting", "false"),
    ("apply_vis", "false"),
];
/// Query fields that describe a saved query rather than define one; left out of an inline run.
const NOT_FOR_INLINE: &[&str] = &[
    "id",
    "can",
    "client_id",
    "slug",
    "share_url",
    "expanded_share_url",
    "url",
    "has_table_calculations",
];

/// Why something could not be read from Looker. Each variant says what was asked for
/// (`dashboard `Sales` tile `Demos``, `look 42`).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum LookerError {
    #[error("cannot log in: {0}")]
    Credentials(SecretError),
    #[error("cannot log in: {}", explain_login(.source))]
    Login { source: HttpError },
    #[error("{what}: {}", explain(.source))]
    Request { what: String, source: HttpError },
    #[error("{what}: not found{}", list(.candidates, "similar titles"))]
    NotFound {
        what: String,
        candidates: Vec<String>,
    },
    #[error("{what}: {} match; use the id instead{}", .candidates.len(), list(.candidates, "found"))]
    Ambiguous {
        what: String,
        candidates: Vec<String>,
    },
    #[error("{what}: {why}")]
    Unsupported { what: String, why: String },
    #[error("{what}: Looker reported: {}", .messages.join("; "))]
    QueryErrors { what: String, messages: Vec<String> },
}

impl HasCause for LookerError {
    /// An unset secret, an unknown or ambiguous dashboard, tile or look (also a 404 from
    /// Looker) and a tile okrflow cannot read are the job's configuration; the rest failed
    /// today.
    fn cause(&self) -> Cause {
        match self {
            LookerError::Credentials(_)
            | LookerError::NotFound { .. }
            | LookerError::Ambiguous { .. }
            | LookerError::Unsupported { .. } => Cause::Configuration,
            LookerError::Request { source, .. } if source.status() == Some(404) => {
                Cause::Configuration
            }
            LookerError::Request {
                source: HttpError::Setup { .. },
                ..
            } => Cause::Configuration,
            _ => Cause::Today,
        }
    }
}

fn list(items: &[String], label: &str) -> String {
    if items.is_empty() {
        String::new()
    } else {
        format!(" ({label}: {})", items.join(", "))
    }
}

fn explain_login(e: &HttpError) -> String {
    match e.status() {
        Some(401 | 403 | 404) => format!(
            "{e} — check the client id and secret in the connection's environment variables"
        ),
        _ => e.to_string(),
    }
}

fn explain(e: &HttpError) -> String {
    match e {
        HttpError::Timeout { secs, request } => format!(
            "Looker did not answer within {secs} s (timeout_secs). The dashboard is probably \
             cold: open it in Looker once so its queries are cached, or raise timeout_secs. \
             ({request})"
        ),
        HttpError::Status { status: 401, .. } => {
            format!("{e} — refused even after logging in again")
        }
        HttpError::Status { status: 403, .. } => {
            format!("{e} — the API user is not allowed to see it")
        }
        HttpError::Status { status: 404, .. } => {
            format!("{e} — it does not exist, or the API user cannot see it")
        }
        _ => e.to_string(),
    }
}

struct Token {
    authorization: Secret,
    renew_at: Instant,
}

/// The session of a connection.
enum Session {
    None,
    Active(Token),
    /// Login was refused: every later request fails with the same error, without asking again.
    Refused(LookerError),
}

/// The Looker client of one connection.
pub struct LookerClient {
    http: HttpClient,
    credentials: Option<(Secret, Secret)>,
    session: Mutex<Session>,
}

impl LookerClient {
    /// A client over `http`. The credentials are read now from the named environment
    /// variables, unless the client replays an archive.
    pub fn new(
        http: HttpClient,
        client_id_env: &str,
        client_secret_env: &str,
    ) -> Result<LookerClient, LookerError> {
        let credentials = if http.is_replay() {
            None
        } else {
            Some((
                Secret::from_env(client_id_env, "Looker API client id")
                    .map_err(LookerError::Credentials)?,
                Secret::from_env(client_secret_env, "Looker API client secret")
                    .map_err(LookerError::Credentials)?,
            ))
        };
        Ok(LookerClient {
            http,
            credentials,
            session: Mutex::new(Session::None),
        })
    }

    /// The HTTP client underneath (for request counts).
    pub fn http(&self) -> &HttpClient {
        &self.http
    }

    /// A valid `Authorization` value: the current token, or a new login when there is none,
    /// it is about to expire, or it is `stale` (refused with a 401).
    async fn authorization(&self, stale: Option<&Secret>) -> Result<Option<Secret>, LookerError> {
        let Some((id, secret)) = &self.credentials else {
            return Ok(None);
        };
        let mut session = self.session.lock().await;
        match &*session {
            Session::Refused(e) => return Err(e.clone()),
            Session::Active(t)
                if Instant::now() < t.renew_at && stale != Some(&t.authorization) =>
            {
                return Ok(Some(t.authorization.clone()));
            }
            _ => {}
        }
        let request = Request {
            method: reqwest::Method::POST,
            path: format!("{API}/login"),
            query: Vec::new(),
            body: Body::Form(vec![
                ("client_id", id.clone()),
                ("client_secret", secret.clone()),
            ]),
        };
        let login = |source| LookerError::Login { source };
        let access: Result<AccessToken, LookerError> =
            match self.http.send(&request, None, false).await {
                Ok(response) => response.json().map_err(login),
                Err(e) => Err(login(e)),
            };
        let access = match access {
            Ok(a) => a,
            Err(e) => {
                *session = Session::Refused(e.clone());
                return Err(e);
            }
        };
        let lifetime = Duration::from_secs_f64(access.expires_in.unwrap_or(3600.0).max(0.0));
        tracing::debug!(
            connection = self.http.connection(),
            expires_in_s = lifetime.as_secs(),
            "logged in to Looker"
        );
        let t = Token {
            authorization: Secret::new(format!("Bearer {}", access.access_token)),
            renew_at: Instant::now() + lifetime.saturating_sub(TOKEN_LAG),
        };
        let authorization = t.authorization.clone();
        *session = Session::Active(t);
        Ok(Some(authorization))
    }

    /// Logs in now (a no-op when replaying), to check the credentials.
    pub async fn login(&self) -> Result<(), LookerError> {
        self.authorization(None).await.map(|_| ())
    }

    /// Sends an authorised request; a 401 logs in again once and retries.
    async fn call(&self, request: &Request, what: &str) -> Result<Response, LookerError> {
        let auth = self.authorization(None).await?;
        let result = match self.http.send(request, auth.as_ref(), true).await {
            Err(e) if e.status() == Some(401) && auth.is_some() => {
                tracing::info!(
                    connection = self.http.connection(),
                    "token refused (401); logging in again"
                );
                let auth = self.authorization(auth.as_ref()).await?;
                self.http.send(request, auth.as_ref(), true).await
            }
            other => other,
        };
        result.map_err(|source| LookerError::Request {
            what: what.to_string(),
            source,
        })
    }

    async fn get<T: serde::de::DeserializeOwned>(
        &self,
        request: Request,
        what: &str,
    ) -> Result<T, LookerError> {
        let response = self.call(&request, what).await?;
        response.json().map_err(|source| LookerError::Request {
            what: what.to_string(),
            source,
        })
    }

    /// Ends the session. Failures are only logged: the values are already read.
    pub async fn logout(&self) {
        let session = std::mem::replace(&mut *self.session.lock().await, Session::None);
        let Session::Active(token) = session else {
            return;
        };
        let request = Request {
            method: reqwest::Method::DELETE,
            path: format!("{API}/logout"),
            query: Vec::new(),
            body: Body::None,
        };
        if let Err(e) = self
            .http
            .send(&request, Some(&token.authorization), false)
            .await
        {
            tracing::warn!(connection = self.http.connection(), error = %e, "Looker logout failed");
        }
    }

    /// The id of the dashboard titled exactly `title`.
    pub async fn find_dashboard(&self, title: &str) -> Result<String, LookerError> {
        self.find_by_title("dashboards", "dashboard", title).await
    }

    /// The id of the look titled exactly `title`.
    pub async fn find_look(&self, title: &str) -> Result<String, LookerError> {
        self.find_by_title("looks", "look", title).await
    }

    /// Searches `/{collection}/search` by title and keeps the exact match.
    async fn find_by_title(
        &self,
        collection: &str,
        kind: &str,
        title: &str,
    ) -> Result<String, LookerError> {
        let what = format!("{kind} `{title}`");
        let request = Request::get(
            format!("{API}/{collection}/search"),
            &[
                ("title", title),
                ("deleted", "false"),
                ("fields", "id,title"),
            ],
        );
        let found: Vec<SearchHit> = self.get(request, &what).await?;
        let titled = found
            .iter()
            .filter_map(|d| Some((id_text(&d.id)?, d.title.clone()?)));
        exactly_one(&what, title, titled)
    }

    /// The tiles of a dashboard.
    pub async fn dashboard_elements(
        &self,
        id: &str,
        what: &str,
    ) -> Result<Vec<DashboardElement>, LookerError> {
        self.get(
            Request::get(format!("{API}/dashboards/{id}/dashboard_elements"), &[]),
            what,
        )
        .await
    }

    /// The filters of a dashboard, with their default values.
    pub async fn dashboard_filters(
        &self,
        id: &str,
        what: &str,
    ) -> Result<Vec<DashboardFilter>, LookerError> {
        self.get(
            Request::get(
                format!("{API}/dashboards/{id}/dashboard_filters"),
                &[("fields", "name,default_value")],
            ),
            what,
        )
        .await
    }

    /// A look by id (to check it exists).
    pub async fn look(&self, id: &str) -> Result<Look, LookerError> {
        self.get(
            Request::get(
                format!("{API}/looks/{id}"),
                &[("fields", "id,title,query_id")],
            ),
            &format!("look {id}"),
        )
        .await
    }

    /// A saved query.
    pub async fn query(&self, id: &str, what: &str) -> Result<Query, LookerError> {
        self.get(Request::get(format!("{API}/queries/{id}"), &[]), what)
            .await
    }

    /// Runs a saved query.
    pub async fn run_query(&self, id: &str, what: &str) -> Result<JsonDetail, LookerError> {
        let request = Request::get(format!("{API}/queries/{id}/run/json_detail"), RUN_PARAMS);
        self.run(request, what).await
    }

    /// Runs a look.
    pub async fn run_look(&self, id: &str, what: &str) -> Result<JsonDetail, LookerError> {
        let request = Request::get(format!("{API}/looks/{id}/run/json_detail"), RUN_PARAMS);
        self.run(request, what).await
    }

    /// Runs `query` inline with `filters` set on it (dashboard filters as a tile sees them).
    pub async fn run_inline(
        &self,
        query: &Query,
        filters: &[(String, String)],
        what: &str,
    ) -> Result<JsonDetail, LookerError> {
        let mut body = query.0.clone();
        for key in NOT_FOR_INLINE {
            body.remove(*key);
        }
        let mut merged = match body.remove("filters") {
            Some(Value::Object(m)) => m,
            _ => serde_json::Map::new(),
        };
        for (field, value) in filters {
            merged.insert(field.clone(), Value::String(value.clone()));
        }
        body.insert("filters".into(), Value::Object(merged));
        let mut request = Request::get(format!("{API}/queries/run/json_detail"), RUN_PARAMS);
        request.method = reqwest::Method::POST;
        request.body = Body::Json(Value::Object(body));
        self.run(request, what).await
    }

    async fn run(&self, request: Request, what: &str) -> Result<JsonDetail, LookerError> {
        let response = self.call(&request, what).await?;
        let mut detail: JsonDetail = response.json().map_err(|source| LookerError::Request {
            what: what.to_string(),
            source,
        })?;
        detail.fetched_on = Some(response.fetched_at.date_naive());
        if let Some(errors) = detail.errors.as_ref().filter(|e| !e.is_empty()) {
            return Err(LookerError::QueryErrors {
                what: what.into(),
                messages: errors
                    .iter()
                    .map(|e| {
                        e.get("message")
                            .and_then(Value::as_str)
                            .map_or_else(|| e.to_string(), String::from)
                    })
                    .collect(),
            });
        }
        Ok(detail)
    }
}

/// The one `(id, title)` whose title is exactly `title`: the search API matches
/// case-insensitively with wildcards, so its answers are filtered here.
pub fn exactly_one(
    what: &str,
    title: &str,
    found: impl Iterator<Item = (String, String)>,
) -> Result<String, LookerError> {
    let found: Vec<(String, String)> = found.collect();
    let exact: Vec<&(String, String)> = found.iter().filter(|(_, t)| t == title).collect();
    match exact.as_slice() {
        [(id, _)] => Ok(id.clone()),
        [] => Err(LookerError::NotFound {
            what: what.into(),
            candidates: found
                .iter()
                .map(|(id, t)| format!("`{t}` (id {id})"))
                .collect(),
        }),
        many => Err(LookerError::Ambiguous {
            what: what.into(),
            candidates: many
                .iter()
                .map(|(id, t)| format!("`{t}` (id {id})"))
                .collect(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(list: &[(&str, &str)]) -> impl Iterator<Item = (String, String)> {
        list.iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect::<Vec<_>>()
            .into_iter()
    }

    #[test]
    fn titles_match_exactly_and_errors_list_candidates() {
        let found = [
            ("1", "Sales overview"),
            ("2", "Sales Overview"),
            ("3", "Sales Overview (old)"),
        ];
        assert_eq!(
            exactly_one(
                "dashboard `Sales Overview`",
                "Sales Overview",
                pairs(&found)
            )
            .unwrap(),
            "2"
        );
        let e = exactly_one("dashboard `Sales`", "Sales", pairs(&found)).unwrap_err();
        assert_eq!(
            e.to_string(),
            "dashboard `Sales`: not found (similar titles: `Sales overview` (id 1), `Sales Overview` (id 2), `Sales Overview (old)` (id 3))"
        );
        let e = exactly_one(
            "look `Demos`",
            "Demos",
            pairs(&[("4", "Demos"), ("9", "Demos")]),
        )
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "look `Demos`: 2 match; use the id instead (found: `Demos` (id 4), `Demos` (id 9))"
        );
    }
}
