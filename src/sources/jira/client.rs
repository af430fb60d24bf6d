//! The Jira REST client of one connection: credentials (Cloud: email and API token as Basic;
//! Data Center: a personal access token as Bearer; optional proxy headers), JQL searches paged
//! the way each deployment pages, counting requests, and the field and board lookups that
//! find story points.

use super::config::Deployment;
use super::model::{
    BoardConfiguration, CloudPage, Count, DataCenterPage, FieldDetails, Issue, ParsedJql,
};
use crate::secret::{Secret, SecretError};
use crate::sources::http::{Body, HttpClient, HttpError, Request};
use crate::sources::{Cause, HasCause};
use base64::Engine;
use serde_json::json;

/// Pages read for one search at the most; a server that never ends a search fails it.
const MAX_PAGES: usize = 10_000;

/// Why something could not be read from Jira.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum JiraError {
    #[error("cannot authenticate: {0}")]
    Credentials(SecretError),
    #[error("{0}")]
    Setup(HttpError),
    #[error("JQL `{jql}`: {}", explain(.source, *.deployment))]
    Search {
        jql: String,
        deployment: Deployment,
        source: HttpError,
    },
    #[error("{what}: {}", explain(.source, *.deployment))]
    Request {
        what: String,
        deployment: Deployment,
        source: HttpError,
    },
    #[error("JQL `{jql}`: Jira rejected it: {}", .messages.join("; "))]
    InvalidJql { jql: String, messages: Vec<String> },
    #[error("JQL `{jql}`: {message}")]
    Paging { jql: String, message: String },
    #[error(
        "no story points field found (looked at the board's estimation field, fields of the story-points types, and fields named \"Story Points\" or \"Story point estimate\"); set story_points_field on the connection"
    )]
    NoStoryPoints,
    #[error("no field named `{name}`{}", if .candidates.is_empty() { String::new() } else { format!(" (numeric custom fields: {})", .candidates.join(", ")) })]
    UnknownField {
        name: String,
        candidates: Vec<String>,
    },
    #[error("issue {key}: field `{field}` is not a number: {value}")]
    NotNumeric {
        key: String,
        field: String,
        value: String,
    },
}

impl HasCause for JiraError {
    /// An unset secret, a JQL Jira rejects (400), a search Jira does not know (404) and a
    /// field that does not exist are the job's configuration; the rest failed today.
    fn cause(&self) -> Cause {
        match self {
            JiraError::Credentials(_)
            | JiraError::InvalidJql { .. }
            | JiraError::NoStoryPoints
            | JiraError::UnknownField { .. }
            | JiraError::Setup(HttpError::Setup { .. }) => Cause::Configuration,
            JiraError::Search { source, .. } | JiraError::Request { source, .. }
                if matches!(source.status(), Some(400 | 404)) =>
            {
                Cause::Configuration
            }
            _ => Cause::Today,
        }
    }
}

fn explain(e: &HttpError, deployment: Deployment) -> String {
    let credentials = match deployment {
        Deployment::Cloud => "email_env and token_env (the account's email and an API token)",
        Deployment::DataCenter => "token_env (a personal access token)",
    };
    match e.status() {
        Some(400) => format!("Jira rejected the request: {e}"),
        Some(401) => format!("{e} — Jira refused the credentials; check {credentials}"),
        Some(403) => format!(
            "{e} — the account may not browse these issues, the site may block API tokens, or a proxy wants extra_headers_env"
        ),
        Some(404) => format!("{e} — check base_url and deployment"),
        Some(410) => format!(
            "{e} — the endpoint is removed on this site: a Jira Cloud site needs deployment = \"cloud\""
        ),
        _ => e.to_string(),
    }
}

/// The Jira client of one connection.
pub struct JiraClient {
    http: HttpClient,
    deployment: Deployment,
    page_size: usize,
}

impl JiraClient {
    /// A client over `http`. Credentials are read now from the named environment variables
    /// (unless the client replays an archive) and sent with every request.
    pub fn new(
        http: HttpClient,
        deployment: Deployment,
        page_size: usize,
        email_env: Option<&str>,
        token_env: &str,
        extra_headers_env: &[(String, String)],
    ) -> Result<JiraClient, JiraError> {
        let http = if http.is_replay() {
            http
        } else {
            let token = match deployment {
                Deployment::Cloud => {
                    let email =
                        Secret::from_env(email_env.unwrap_or_default(), "Jira account email")
                            .map_err(JiraError::Credentials)?;
                    let token = Secret::from_env(token_env, "Jira API token")
                        .map_err(JiraError::Credentials)?;
                    let pair = format!("{}:{}", email.expose(), token.expose());
                    Secret::new(format!(
                        "Basic {}",
                        base64::engine::general_purpose::STANDARD.encode(pair)
                    ))
                }
                Deployment::DataCenter => {
                    let token = Secret::from_env(token_env, "Jira personal access token")
                        .map_err(JiraError::Credentials)?;
                    Secret::new(format!("Bearer {}", token.expose()))
                }
            };
            let mut headers = vec![("authorization".to_string(), token)];
            for (name, var) in extra_headers_env {
                let value = Secret::from_env(var, &format!("value of the `{name}` header"))
                    .map_err(JiraError::Credentials)?;
                headers.push((name.clone(), value));
            }
            http.with_secret_headers(headers)
                .map_err(JiraError::Setup)?
        };
        Ok(JiraClient {
            http,
            deployment,
            page_size: page_size.max(1),
        })
    }

    /// The HTTP client underneath (for request counts).
    pub fn http(&self) -> &HttpClient {
        &self.http
    }

    fn api(&self) -> &'static str {
        match self.deployment {
            Deployment::Cloud => "/rest/api/3",
            Deployment::DataCenter => "/rest/api/2",
        }
    }

    fn search_error(&self, jql: &str, source: HttpError) -> JiraError {
        // A 400 on a search is Jira's verdict on the JQL: its own messages, the JQL beside them.
        if let HttpError::Status {
            status: 400,
            message,
            ..
        } = &source
        {
            return JiraError::InvalidJql {
                jql: jql.into(),
                messages: vec![message.clone()],
            };
        }
        JiraError::Search {
            jql: jql.into(),
            deployment: self.deployment,
            source,
        }
    }

    /// Sends a search or count request and reads its JSON; errors are about the JQL.
    async fn search_json<T: serde::de::DeserializeOwned>(
        &self,
        jql: &str,
        request: &Request,
    ) -> Result<T, JiraError> {
        let response = self
            .http
            .send(request, None, true)
            .await
            .map_err(|e| self.search_error(jql, e))?;
        response.json().map_err(|e| self.search_error(jql, e))
    }

    async fn get<T: serde::de::DeserializeOwned>(
        &self,
        request: Request,
        what: &str,
    ) -> Result<T, JiraError> {
        let err = |source| JiraError::Request {
            what: what.to_string(),
            deployment: self.deployment,
            source,
        };
        let response = self.http.send(&request, None, true).await.map_err(err)?;
        response.json().map_err(err)
    }

    /// Every issue the JQL matches, with `fields`, paged until Jira says it is done, whatever
    /// page size it chooses.
    pub async fn search(&self, jql: &str, fields: &[String]) -> Result<Vec<Issue>, JiraError> {
        let fields = fields.join(",");
        let page_size = self.page_size.to_string();
        let mut issues = Vec::new();
        match self.deployment {
            Deployment::Cloud => {
                let mut token: Option<String> = None;
                for _ in 0..MAX_PAGES {
                    let mut query = vec![
                        ("jql", jql),
                        ("fields", fields.as_str()),
                        ("maxResults", page_size.as_str()),
                    ];
                    if let Some(t) = &token {
                        query.push(("nextPageToken", t.as_str()));
                    }
                    let request = Request::get(format!("{}/search/jql", self.api()), &query);
                    let page: CloudPage = self.search_json(jql, &request).await?;
                    issues.extend(page.issues);
                    match page.next_page_token {
                        Some(next) if page.is_last != Some(true) => {
                            if token.as_deref() == Some(next.as_str()) {
                                return Err(JiraError::Paging {
                                    jql: jql.into(),
                                    message: "Jira sent the same nextPageToken twice".into(),
                                });
                            }
                            token = Some(next);
                        }
                        _ => return Ok(issues),
                    }
                }
            }
            Deployment::DataCenter => {
                let mut start_at: u64 = 0;
                for _ in 0..MAX_PAGES {
                    let start = start_at.to_string();
                    let request = Request::get(
                        format!("{}/search", self.api()),
                        &[
                            ("jql", jql),
                            ("fields", fields.as_str()),
                            ("startAt", start.as_str()),
                            ("maxResults", page_size.as_str()),
                            ("validateQuery", "strict"),
                        ],
                    );
                    let page: DataCenterPage = self.search_json(jql, &request).await?;
                    let got = page.issues.len() as u64;
                    issues.extend(page.issues);
                    start_at = page.start_at + got;
                    let total = page.total.unwrap_or(start_at);
                    if got == 0 || start_at >= total {
                        return Ok(issues);
                    }
                }
            }
        }
        Err(JiraError::Paging {
            jql: jql.into(),
            message: format!("more than {MAX_PAGES} pages"),
        })
    }

    /// How many issues the JQL matches, in one request: Cloud's approximate count, Data
    /// Center's `total` of an empty page.
    pub async fn count(&self, jql: &str) -> Result<u64, JiraError> {
        match self.deployment {
            Deployment::Cloud => {
                let mut request =
                    Request::get(format!("{}/search/approximate-count", self.api()), &[]);
                request.method = reqwest::Method::POST;
                request.body = Body::Json(json!({ "jql": jql }));
                let count: Count = self.search_json(jql, &request).await?;
                Ok(count.count)
            }
            Deployment::DataCenter => {
                let request = Request::get(
                    format!("{}/search", self.api()),
                    &[
                        ("jql", jql),
                        ("fields", "key"),
                        ("maxResults", "0"),
                        ("validateQuery", "strict"),
                    ],
                );
                let page: DataCenterPage = self.search_json(jql, &request).await?;
                page.total.ok_or_else(|| JiraError::Paging {
                    jql: jql.into(),
                    message: "the search answer has no total".into(),
                })
            }
        }
    }

    /// Checks JQL without running it: Cloud's `jql/parse` (strict), Data Center's strict
    /// validation on an empty page. Returns Jira's errors per query.
    pub async fn check_jql(
        &self,
        jqls: &[String],
    ) -> Result<Vec<(String, Vec<String>)>, JiraError> {
        match self.deployment {
            Deployment::Cloud => {
                let mut request = Request::get(
                    format!("{}/jql/parse", self.api()),
                    &[("validation", "strict")],
                );
                request.method = reqwest::Method::POST;
                request.body = Body::Json(json!({ "queries": jqls }));
                let parsed: ParsedJql = self.get(request, "JQL check").await?;
                Ok(parsed
                    .queries
                    .into_iter()
                    .map(|q| (q.query, q.errors))
                    .collect())
            }
            Deployment::DataCenter => {
                let mut out = Vec::new();
                for jql in jqls {
                    match self.count(jql).await {
                        Ok(_) => out.push((jql.clone(), Vec::new())),
                        Err(JiraError::InvalidJql { messages, .. }) => {
                            out.push((jql.clone(), messages))
                        }
                        Err(e) => return Err(e),
                    }
                }
                Ok(out)
            }
        }
    }

    /// The account the credentials belong to (to check them).
    pub async fn myself(&self) -> Result<(), JiraError> {
        self.get::<serde_json::Value>(
            Request::get(format!("{}/myself", self.api()), &[]),
            "login check",
        )
        .await
        .map(|_| ())
    }

    /// Every field of the site.
    pub async fn fields(&self) -> Result<Vec<FieldDetails>, JiraError> {
        self.get(
            Request::get(format!("{}/field", self.api()), &[]),
            "field list",
        )
        .await
    }

    /// The estimation field of a board.
    pub async fn board_estimation_field(&self, board: u64) -> Result<Option<String>, JiraError> {
        let config: BoardConfiguration = self
            .get(
                Request::get(format!("/rest/agile/1.0/board/{board}/configuration"), &[]),
                &format!("board {board}"),
            )
            .await?;
        Ok(config.estimation.and_then(|e| e.field).map(|f| f.field_id))
    }
}
