//! A Jira connection validated: which deployment, where its credentials and proxy headers
//! are read from, and how story points are found, over what every API connection has
//! ([`ApiSettings`]).

use super::config::{Deployment, JiraConnection};
use crate::sources::http::{ApiCheck, ApiSettings};
use std::path::Path;

/// A validated Jira connection.
pub type JiraSettings = ApiSettings<JiraOptions>;

/// A Jira connection's own settings.
#[derive(Debug, Clone, PartialEq)]
pub struct JiraOptions {
    pub deployment: Deployment,
    pub email_env: Option<String>,
    pub token_env: String,
    /// `(header, environment variable)`.
    pub extra_headers_env: Vec<(String, String)>,
    pub board_id: Option<u64>,
    pub story_points_field: Option<String>,
    pub page_size: usize,
}

impl JiraSettings {
    /// Checks a connection from the job file; `base_dir` resolves `replay`.
    pub fn from_config(c: &JiraConnection, base_dir: &Path) -> Result<JiraSettings, Vec<String>> {
        let mut check = ApiCheck::new(c, base_dir);
        check.base_url();
        check.http();
        let problems = &mut check.problems;
        let email_env = c
            .email_env
            .as_ref()
            .map(|e| e.trim().to_string())
            .filter(|e| !e.is_empty());
        match (c.deployment, &email_env) {
            (Deployment::Cloud, None) => problems.push(
                "a Cloud connection needs email_env (Basic auth is the account's email and an API token)".into(),
            ),
            (Deployment::DataCenter, Some(_)) => problems.push(
                "a Data Center connection authenticates with a personal access token only; remove email_env".into(),
            ),
            _ => {}
        }
        if c.token_env.trim().is_empty() {
            problems.push("token_env must name an environment variable".into());
        }
        if !(1..=5000).contains(&c.page_size) {
            problems.push(format!("page_size must be 1 to 5000, not {}", c.page_size));
        }
        check.finish(JiraOptions {
            deployment: c.deployment,
            email_env,
            token_env: c.token_env.trim().to_string(),
            extra_headers_env: c
                .extra_headers_env
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
            board_id: c.board_id,
            story_points_field: c.story_points_field.clone(),
            page_size: c.page_size,
        })
    }
}

impl JiraOptions {
    /// The environment variables a live run reads.
    pub fn variables(&self) -> Vec<&str> {
        self.email_env
            .iter()
            .map(String::as_str)
            .chain([self.token_env.as_str()])
            .chain(self.extra_headers_env.iter().map(|(_, v)| v.as_str()))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cloud_needs_an_email_and_data_center_does_not_take_one() {
        let c: JiraConnection =
            toml::from_str("base_url = 'https://acme.atlassian.net'\ntoken_env = 'T'").unwrap();
        assert_eq!(
            JiraSettings::from_config(&c, Path::new(".")).unwrap_err(),
            vec![
                "a Cloud connection needs email_env (Basic auth is the account's email and an API token)"
            ]
        );
        let c: JiraConnection = toml::from_str(
            "base_url = 'https://jira.acme.com'\ndeployment = 'data_center'\ntoken_env = 'T'\nextra_headers_env = { 'X-Proxy-Auth' = 'P' }",
        )
        .unwrap();
        let s = JiraSettings::from_config(&c, Path::new(".")).unwrap();
        assert_eq!(s.variables(), vec!["T", "P"]);
    }
}
