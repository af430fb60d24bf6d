//! `validate --online` of a Jira connection: its credentials, the fields its key results'
//! metrics need, and their JQL, checked without fetching issues.

use super::JiraSettings;
use super::client::JiraError;
use super::fetch::{connect, fetch_for, links_and_fields};
use crate::sources::http::api::{self, kr_problem};
use crate::sources::{ApiOptions, KeyResult};
use std::collections::BTreeSet;

/// Checks one connection's credentials, fields and JQL without fetching issues. Returns
/// `(subject, problem)` pairs.
pub(crate) async fn check_online(
    name: &str,
    settings: &JiraSettings,
    krs: &[&KeyResult],
    options: &ApiOptions,
) -> Vec<(String, String)> {
    let client = connect(name, settings, options);
    api::check_online(name, client, async |client| {
        if client.http().is_replay() {
            // An archive holds what runs asked, not logins or JQL checks: check what a run
            // would read from it.
            return Ok(fetch_for(name, settings, krs, options)
                .await
                .into_iter()
                .filter_map(|(kr, r)| Some(kr_problem(name, &kr, r.err()?)))
                .collect());
        }
        client.myself().await?;
        let (links, fields) = links_and_fields(&client, settings, krs).await;
        let mut problems = Vec::new();
        for (k, l) in &links {
            if let Some(Err(e)) = fields.get(&l.metric) {
                problems.push(kr_problem(name, &k.id, e));
            }
        }
        let jqls: Vec<String> = links
            .iter()
            .map(|(_, l)| l.jql.clone())
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        match client.check_jql(&jqls).await {
            Err(e) => problems.push((format!("connection {name}"), e.to_string())),
            Ok(checked) => {
                for (jql, errors) in checked.into_iter().filter(|(_, e)| !e.is_empty()) {
                    for (k, _) in links.iter().filter(|(_, l)| l.jql == jql) {
                        let problem = format!("JQL `{jql}`: {}", errors.join("; "));
                        problems.push(kr_problem(name, &k.id, problem));
                    }
                }
            }
        }
        Ok::<_, JiraError>(problems)
    })
    .await
}
