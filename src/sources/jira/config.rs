//! Job-file settings of a Jira connection and of a key result that reads a JQL query.

use crate::sources::http::api_connection;
use serde::Deserialize;
use std::collections::BTreeMap;

/// Which Jira a connection talks to; it decides the search endpoint and the credentials.
#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Deployment {
    /// Jira Cloud: `/rest/api/3/search/jql`, Basic auth with email and API token.
    #[default]
    Cloud,
    /// Jira Data Center / Server: `/rest/api/2/search`, a personal access token (Bearer).
    DataCenter,
}

api_connection! {
    /// `[connections.NAME] kind = "jira"`; the request settings and `replay` every API
    /// connection has follow its own fields.
    #[derive(Debug, Clone, Deserialize, PartialEq)]
    #[serde(deny_unknown_fields)]
    pub struct JiraConnection {
        /// The site, e.g. `https://acme.atlassian.net`.
        pub base_url: String,
        #[serde(default)]
        pub deployment: Deployment,
        /// Cloud: environment variable holding the account's email.
        #[serde(default)]
        pub email_env: Option<String>,
        /// Environment variable holding the API token (Cloud) or personal access token (DC).
        pub token_env: String,
        /// Extra headers for a reverse proxy: header name → environment variable with its value.
        #[serde(default)]
        pub extra_headers_env: BTreeMap<String, String>,
        /// A board whose estimation field is the site's story points (found first).
        #[serde(default)]
        pub board_id: Option<u64>,
        /// The story points field id when discovery finds none (e.g. `customfield_10016`).
        #[serde(default)]
        pub story_points_field: Option<String>,
        /// Issues asked for per page (the server may send fewer).
        #[serde(default = "page_size")]
        pub page_size: usize,
    }
}

/// Issues asked for per page unless the job says otherwise.
pub const PAGE_SIZE: usize = 100;

fn page_size() -> usize {
    PAGE_SIZE
}

/// `source = { jira = { ... } }` on a key result.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct JiraSource {
    /// May be left out when the job has exactly one Jira connection.
    #[serde(default)]
    pub connection: Option<String>,
    pub jql: String,
    /// `count` (default), `time_spent`, `original_estimate`, `remaining_estimate`,
    /// `progress`, `story_points`, or a numeric custom field's id or name.
    #[serde(default)]
    pub metric: Option<String>,
    /// KPI only: count or sum done issues only. Default: false, except for story points
    /// (points on done issues).
    #[serde(default)]
    pub completed_only: Option<bool>,
}
