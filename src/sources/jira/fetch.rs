//! What a connection's key results need from Jira: their fields resolved once, each distinct
//! JQL searched once with the fields its key results need, or counted when they only count
//! (a count is of today: a past date needs the issues and their dates).

use super::client::{JiraClient, JiraError};
use super::link::{JiraLink, Metric};
use super::model::{self, FieldDetails, IssueRow};
use super::{Jira, JiraSettings};
use crate::sources::http::api;
use crate::sources::registry::link_of;
use crate::sources::{ApiOptions, KeyResult, is_past};
use futures::future::join_all;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

/// The fields a past date is reconstructed from: when each issue was created and when it
/// entered its status category (else when it was resolved).
const DATE_FIELDS: [&str; 3] = ["created", "resolutiondate", "statuscategorychangedate"];

/// What was fetched for one key result.
#[derive(Debug, Clone)]
pub(crate) enum Fetched {
    /// The matching issues (shared by key results with the same JQL).
    Issues(Arc<Vec<IssueRow>>),
    /// Counts from counting requests: all matching issues, and done ones.
    Counts {
        matching: Option<u64>,
        done: Option<u64>,
    },
}

/// Per key result id: what was fetched, or why not.
pub(crate) type FetchedByKr = BTreeMap<String, Result<Fetched, JiraError>>;

/// Opens the client of a connection (no request yet). Unlike Looker, no past day's archive
/// answers first: a past date is reconstructed from the issues' dates.
pub(crate) fn connect(
    name: &str,
    settings: &JiraSettings,
    options: &ApiOptions,
) -> Result<JiraClient, JiraError> {
    let http = api::open(name, settings, options, false).map_err(JiraError::Setup)?;
    JiraClient::new(
        http,
        settings.deployment,
        settings.page_size,
        settings.email_env.as_deref(),
        &settings.token_env,
        &settings.extra_headers_env,
    )
}

/// The JQL without a top-level `ORDER BY` (counting needs no order, and a clause is appended).
pub(crate) fn without_order_by(jql: &str) -> &str {
    let lower = jql.to_lowercase();
    let bytes = lower.as_bytes();
    let mut quote: Option<u8> = None;
    let mut cut = jql.len();
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        match quote {
            Some(q) if c == q => quote = None,
            Some(_) => {}
            None if c == b'"' || c == b'\'' => quote = Some(c),
            None if lower[i..].starts_with("order by")
                && (i == 0 || bytes[i - 1].is_ascii_whitespace() || bytes[i - 1] == b')') =>
            {
                cut = i;
                break;
            }
            None => {}
        }
        i += 1;
    }
    jql[..cut].trim()
}

/// Resolves the field ids the key results need: story points (board, types, names, the
/// job's field) and custom fields given by name.
async fn resolve_fields(
    client: &JiraClient,
    settings: &JiraSettings,
    links: &[&JiraLink],
) -> BTreeMap<Metric, Result<String, JiraError>> {
    let mut out = BTreeMap::new();
    let wanted: BTreeSet<&Metric> = links
        .iter()
        .map(|l| &l.metric)
        .filter(|m| matches!(m, Metric::StoryPoints | Metric::Field(_)))
        .collect();
    let needs_list = wanted.iter().any(|m| {
        matches!(m, Metric::StoryPoints)
            || matches!(m, Metric::Field(f) if !f.starts_with("customfield_"))
    });
    let list: Result<Vec<FieldDetails>, JiraError> = if needs_list {
        client.fields().await
    } else {
        Ok(Vec::new())
    };
    for metric in wanted {
        let resolved = match (metric, &list) {
            (Metric::Field(id), _) if id.starts_with("customfield_") => Ok(id.clone()),
            (_, Err(e)) => Err(e.clone()),
            (Metric::StoryPoints, Ok(fields)) => {
                let board = match settings.board_id {
                    Some(b) => match client.board_estimation_field(b).await {
                        Ok(f) => f,
                        Err(e) => {
                            out.insert(metric.clone(), Err(e));
                            continue;
                        }
                    },
                    None => None,
                };
                model::story_points_field(
                    board.as_deref(),
                    fields,
                    settings.story_points_field.as_deref(),
                )
                .ok_or(JiraError::NoStoryPoints)
            }
            (Metric::Field(name), Ok(fields)) => fields
                .iter()
                .find(|f| f.name == *name || f.id == *name)
                .or_else(|| fields.iter().find(|f| f.name.eq_ignore_ascii_case(name)))
                .map(|f| f.id.clone())
                .ok_or_else(|| JiraError::UnknownField {
                    name: name.clone(),
                    candidates: fields
                        .iter()
                        .filter(|f| {
                            f.custom
                                && f.schema.as_ref().and_then(|s| s.kind.as_deref())
                                    == Some("number")
                        })
                        .map(|f| format!("{} ({})", f.name, f.id))
                        .collect(),
                }),
            _ => unreachable!("only story points and fields are resolved"),
        };
        if let Ok(id) = &resolved {
            tracing::debug!(metric = metric.as_str(), field = %id, "Jira field resolved");
        }
        out.insert(metric.clone(), resolved);
    }
    out
}

/// The key results' Jira links, and the field ids their metrics need.
pub(crate) async fn links_and_fields<'a>(
    client: &JiraClient,
    settings: &JiraSettings,
    krs: &[&'a KeyResult],
) -> (
    Vec<(&'a KeyResult, &'a JiraLink)>,
    BTreeMap<Metric, Result<String, JiraError>>,
) {
    let links: Vec<(&KeyResult, &JiraLink)> = krs
        .iter()
        .filter_map(|k| Some((*k, link_of::<Jira>(k)?)))
        .collect();
    let metrics: Vec<&JiraLink> = links.iter().map(|(_, l)| *l).collect();
    let fields = resolve_fields(client, settings, &metrics).await;
    (links, fields)
}

/// Fetches what one connection's key results need: fields resolved once, each distinct JQL
/// searched once with the fields its key results need (or counted, when they only count).
pub(crate) async fn fetch_for(
    name: &str,
    settings: &JiraSettings,
    krs: &[&KeyResult],
    options: &ApiOptions,
) -> FetchedByKr {
    let client = match connect(name, settings, options) {
        Ok(c) => c,
        Err(e) => return krs.iter().map(|k| (k.id.clone(), Err(e.clone()))).collect(),
    };
    let as_of = options.as_of();
    let (links, fields) = links_and_fields(&client, settings, krs).await;
    let field_of = |l: &JiraLink| -> Result<Option<String>, JiraError> {
        match fields.get(&l.metric) {
            Some(r) => r.clone().map(Some),
            None => Ok(None),
        }
    };
    let mut by_jql: BTreeMap<&str, Vec<(&KeyResult, &JiraLink)>> = BTreeMap::new();
    for (k, l) in &links {
        by_jql.entry(l.jql.as_str()).or_default().push((k, l));
    }
    let groups = by_jql.into_iter().map(|(jql, group)| {
        let client = &client;
        let field_of = &field_of;
        async move {
            let mut out: Vec<(String, Result<Fetched, JiraError>)> = Vec::new();
            let mut searchable = Vec::new();
            for (k, l) in &group {
                match field_of(l) {
                    Ok(_) => searchable.push((*k, *l)),
                    Err(e) => out.push((k.id.clone(), Err(e))),
                }
            }
            if searchable.is_empty() {
                return out;
            }
            // A count is of today: a past evaluation date needs the issues and their dates.
            let past = searchable.iter().any(|(k, _)| is_past(k.value_date(as_of)));
            if !past && searchable.iter().all(|(_, l)| l.count_only()) {
                let base = without_order_by(jql);
                let matching = if searchable.iter().any(|(_, l)| !l.completed_only) {
                    Some(client.count(base).await)
                } else {
                    None
                };
                let done = if searchable.iter().any(|(_, l)| l.completed_only) {
                    Some(
                        client
                            .count(&format!("({base}) AND statusCategory = Done"))
                            .await,
                    )
                } else {
                    None
                };
                let result = match (matching.transpose(), done.transpose()) {
                    (Ok(matching), Ok(done)) => Ok(Fetched::Counts { matching, done }),
                    (Err(e), _) | (_, Err(e)) => Err(e),
                };
                out.extend(
                    searchable
                        .iter()
                        .map(|(k, _)| (k.id.clone(), result.clone())),
                );
                return out;
            }
            let mut wanted: BTreeSet<String> = BTreeSet::from(["status".to_string()]);
            if past {
                wanted.extend(DATE_FIELDS.iter().map(|f| f.to_string()));
            }
            for (_, l) in &searchable {
                wanted.extend(l.metric.jira_field().map(String::from));
                if let Ok(Some(f)) = field_of(l) {
                    wanted.insert(f);
                }
            }
            let wanted: Vec<String> = wanted.into_iter().collect();
            match client.search(jql, &wanted).await {
                Err(e) => out.extend(
                    searchable
                        .iter()
                        .map(|(k, _)| (k.id.clone(), Err(e.clone()))),
                ),
                Ok(issues) => {
                    for (k, l) in &searchable {
                        let field = field_of(l).ok().flatten();
                        let rows: Result<Vec<IssueRow>, JiraError> = issues
                            .iter()
                            .map(|i| {
                                i.row(field.as_deref()).map_err(|n| JiraError::NotNumeric {
                                    key: n.key,
                                    field: n.field,
                                    value: n.value,
                                })
                            })
                            .collect();
                        out.push((k.id.clone(), rows.map(|r| Fetched::Issues(Arc::new(r)))));
                    }
                }
            }
            out
        }
    });
    let fetched: FetchedByKr = join_all(groups).await.into_iter().flatten().collect();
    tracing::info!(
        connection = name,
        key_results = krs.len(),
        requests = client.http().requests_sent(),
        replay = client.http().is_replay(),
        "Jira results fetched"
    );
    fetched
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn order_by_is_cut_outside_quotes_only() {
        assert_eq!(
            without_order_by("project = AE ORDER BY created DESC"),
            "project = AE"
        );
        assert_eq!(
            without_order_by("summary ~ \"order by\" order by key"),
            "summary ~ \"order by\""
        );
        assert_eq!(without_order_by("(a = 1)order by key"), "(a = 1)");
        assert_eq!(without_order_by("reorder by = 1"), "reorder by = 1");
    }
}
