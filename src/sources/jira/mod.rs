//! Jira (Cloud and Data Center): JQL queries as key-result values — percent complete or a
//! KPI over a count, time tracking, progress, story points or a numeric custom field.
//!
//! - [`config`]: the connection and key-result settings of the job file;
//! - [`client`]: credentials, paged searches, counting requests, field and board lookups;
//! - [`model`]: the API bodies, and an issue reduced to the numbers the metrics use.
//!
//! Here: which requests the key results need (identical JQL on a connection is fetched once;
//! count-only KPIs use one counting request), the input tables `jira_*`, and the SQL in
//! `sql/jira_values.sql` that turns them into one value per key result.

pub mod client;
pub mod config;
pub mod kind;
pub mod model;

use crate::engine::date32;
use crate::engine::tables::{Col, register, text, value_dates};
use crate::engine::{self, EngineError, registry};
use crate::model::Measure;
use crate::sources::http::{HttpClient, HttpSettings, check_base_url};
use crate::sources::{ApiOptions, KrValue, api_value, is_past, read_computed};
use crate::sources::{KeyResult, KrSource, Link};
use chrono::NaiveDate;
use client::{JiraClient, JiraError};
use config::{Deployment, JiraConnection, JiraSource};
use datafusion::prelude::SessionContext;
use futures::future::join_all;
use model::{FieldDetails, IssueRow};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use url::Url;

pub use kind::Jira;

/// A validated Jira connection.
#[derive(Debug, Clone, PartialEq)]
pub struct JiraSettings {
    pub base_url: Url,
    pub deployment: Deployment,
    pub email_env: Option<String>,
    pub token_env: String,
    /// `(header, environment variable)`.
    pub extra_headers_env: Vec<(String, String)>,
    pub board_id: Option<u64>,
    pub story_points_field: Option<String>,
    pub page_size: usize,
    pub http: HttpSettings,
    pub replay: Option<PathBuf>,
}

impl JiraSettings {
    /// Checks a connection from the job file; `base_dir` resolves `replay`.
    pub fn from_config(c: &JiraConnection, base_dir: &Path) -> Result<JiraSettings, Vec<String>> {
        let mut problems = Vec::new();
        let base_url = check_base_url(&c.base_url)
            .map_err(|e| problems.push(e))
            .ok();
        let http = HttpSettings::checked(c.timeout_secs, c.concurrency, c.max_retries)
            .map_err(|p| problems.extend(p))
            .ok();
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
        match (base_url, http) {
            (Some(base_url), Some(http)) if problems.is_empty() => Ok(JiraSettings {
                base_url,
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
                http,
                replay: c.replay.as_ref().map(|r| base_dir.join(r)),
            }),
            _ => Err(problems),
        }
    }

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

/// What a key result adds up.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Metric {
    Count,
    TimeSpent,
    OriginalEstimate,
    RemainingEstimate,
    Progress,
    StoryPoints,
    /// A numeric custom field, by id (`customfield_10020`) or name.
    Field(String),
}

impl Metric {
    fn parse(s: &str) -> Metric {
        match s.trim() {
            "" | "count" => Metric::Count,
            "time_spent" => Metric::TimeSpent,
            "original_estimate" => Metric::OriginalEstimate,
            "remaining_estimate" => Metric::RemainingEstimate,
            "progress" => Metric::Progress,
            "story_points" => Metric::StoryPoints,
            other => Metric::Field(other.to_string()),
        }
    }

    /// The name passed to SQL (`field` for custom fields).
    pub fn as_str(&self) -> &str {
        match self {
            Metric::Count => "count",
            Metric::TimeSpent => "time_spent",
            Metric::OriginalEstimate => "original_estimate",
            Metric::RemainingEstimate => "remaining_estimate",
            Metric::Progress => "progress",
            Metric::StoryPoints => "story_points",
            Metric::Field(_) => "field",
        }
    }

    /// The Jira field the metric reads, besides `status`.
    fn jira_field(&self) -> Option<&'static str> {
        match self {
            Metric::TimeSpent => Some("timespent"),
            Metric::OriginalEstimate => Some("timeoriginalestimate"),
            Metric::RemainingEstimate => Some("timeestimate"),
            Metric::Progress => Some("progress"),
            _ => None,
        }
    }
}

/// A key result's link to Jira, validated.
#[derive(Debug, Clone, PartialEq)]
pub struct JiraLink {
    pub jql: String,
    pub metric: Metric,
    /// Percent complete (done ÷ all), else a KPI.
    pub percent_complete: bool,
    /// KPI: done issues only.
    pub completed_only: bool,
}

impl JiraLink {
    /// Checks a key result's `source = { jira = {...} }` against its measure.
    pub fn from_config(s: &JiraSource, measure: &Measure) -> Result<JiraLink, Vec<String>> {
        let mut problems = Vec::new();
        let jql = s.jql.trim().to_string();
        if jql.is_empty() {
            problems.push("jql is empty".to_string());
        }
        let metric = Metric::parse(s.metric.as_deref().unwrap_or("count"));
        let percent_complete = matches!(measure, Measure::PercentComplete);
        if percent_complete {
            if matches!(metric, Metric::RemainingEstimate | Metric::Progress) {
                problems.push(format!(
                    "metric `{}` has no percent complete (done ÷ all); use it with a kpi measure",
                    metric.as_str()
                ));
            }
            if s.completed_only.is_some() {
                problems.push(
                    "completed_only applies to KPIs; percent complete is always done ÷ all".into(),
                );
            }
        }
        if matches!(metric, Metric::Progress) && s.completed_only == Some(true) {
            problems.push(
                "completed_only does not apply to `progress` (an average over the matching issues)"
                    .into(),
            );
        }
        if !problems.is_empty() {
            return Err(problems);
        }
        Ok(JiraLink {
            jql,
            completed_only: s
                .completed_only
                .unwrap_or(matches!(metric, Metric::StoryPoints)),
            metric,
            percent_complete,
        })
    }

    /// A KPI that only counts issues: one counting request answers it.
    fn count_only(&self) -> bool {
        self.metric == Metric::Count && !self.percent_complete
    }
}

/// The fields a past date is reconstructed from: when each issue was created and when it
/// entered its status category (else when it was resolved).
const DATE_FIELDS: [&str; 3] = ["created", "resolutiondate", "statuscategorychangedate"];

/// The Jira link of a key result, if it has one.
pub fn link(kr: &KeyResult) -> Option<&JiraLink> {
    match &kr.source {
        Some(KrSource {
            link: Link::Jira(link),
            ..
        }) => Some(link),
        _ => None,
    }
}

/// What was fetched for one key result.
#[derive(Debug, Clone)]
pub enum Fetched {
    /// The matching issues (shared by key results with the same JQL).
    Issues(Arc<Vec<IssueRow>>),
    /// Counts from counting requests: all matching issues, and done ones.
    Counts {
        matching: Option<u64>,
        done: Option<u64>,
    },
}

/// Per key result id: what was fetched, or why not.
pub type FetchedByKr = BTreeMap<String, Result<Fetched, JiraError>>;

/// Opens the client of a connection (no request yet).
pub fn connect(
    name: &str,
    settings: &JiraSettings,
    options: &ApiOptions,
) -> Result<JiraClient, JiraError> {
    let replay = options.replay.as_deref().or(settings.replay.as_deref());
    let http = HttpClient::new(
        name,
        settings.base_url.clone(),
        settings.http.clone(),
        replay,
        options.archive.as_ref(),
    )
    .map_err(JiraError::Setup)?;
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
pub fn without_order_by(jql: &str) -> &str {
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
async fn links_and_fields<'a>(
    client: &JiraClient,
    settings: &JiraSettings,
    krs: &[&'a KeyResult],
) -> (
    Vec<(&'a KeyResult, &'a JiraLink)>,
    BTreeMap<Metric, Result<String, JiraError>>,
) {
    let links: Vec<(&KeyResult, &JiraLink)> =
        krs.iter().filter_map(|k| Some((*k, link(k)?))).collect();
    let metrics: Vec<&JiraLink> = links.iter().map(|(_, l)| *l).collect();
    let fields = resolve_fields(client, settings, &metrics).await;
    (links, fields)
}

/// Fetches what one connection's key results need: fields resolved once, each distinct JQL
/// searched once with the fields its key results need (or counted, when they only count).
pub async fn fetch_for(
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

/// Extracts the values of one Jira connection's key results.
pub async fn extract(
    name: &str,
    settings: &JiraSettings,
    krs: &[&KeyResult],
    options: &ApiOptions,
) -> Result<Vec<KrValue>, EngineError> {
    let fetched = fetch_for(name, settings, krs, options).await;
    let ctx = engine::new_session();
    values(&ctx, name, krs, &fetched, options.as_of()).await
}

/// Registers `jira_selections`, `jira_issues` and `jira_counts` for the key results whose
/// data was fetched, runs `sql/jira_values.sql`, and returns each key result's value or error.
pub async fn values(
    ctx: &SessionContext,
    connection: &str,
    krs: &[&KeyResult],
    fetched: &FetchedByKr,
    as_of: NaiveDate,
) -> Result<Vec<KrValue>, EngineError> {
    let ok: Vec<(&KeyResult, &JiraLink, &Fetched)> = krs
        .iter()
        .filter_map(|k| Some((*k, link(k)?, fetched.get(&k.id)?.as_ref().ok()?)))
        .collect();
    register_tables(ctx, &ok, as_of)?;
    for s in registry::JIRA {
        engine::register_view(ctx, s).await?;
    }
    let computed = read_computed(ctx, "jira_values").await?;
    Ok(krs
        .iter()
        .filter_map(|k| {
            let l = link(k)?;
            let fetched = fetched
                .get(&k.id)
                .map(|r| r.as_ref().map(|_| ()).map_err(|e| e.to_string()));
            Some(api_value(
                connection,
                &k.id,
                &format!("JQL `{}`", l.jql),
                fetched,
                computed.get(&k.id),
            ))
        })
        .collect())
}

fn register_tables(
    ctx: &SessionContext,
    krs: &[(&KeyResult, &JiraLink, &Fetched)],
    as_of: NaiveDate,
) -> Result<(), EngineError> {
    let ids = |rows: &[(&KeyResult, &JiraLink, &Fetched)]| {
        text(rows.iter().map(|(k, _, _)| Some(k.id.clone())))
    };
    register(
        ctx,
        "jira_selections",
        vec![
            ("kr_id", ids(krs)),
            (
                "metric",
                text(
                    krs.iter()
                        .map(|(_, l, _)| Some(l.metric.as_str().to_string())),
                ),
            ),
            (
                "mode",
                text(krs.iter().map(|(_, l, _)| {
                    Some(
                        if l.percent_complete {
                            "percent_complete"
                        } else {
                            "kpi"
                        }
                        .to_string(),
                    )
                })),
            ),
            (
                "completed_only",
                Col::Bool(krs.iter().map(|(_, l, _)| Some(l.completed_only)).collect()),
            ),
            // the day the value is as of: the evaluation date less any closing-period offset
            (
                "eval_date",
                value_dates(krs.iter().map(|(k, _, _)| *k), as_of),
            ),
            (
                "reconstructed",
                Col::Bool(
                    krs.iter()
                        .map(|(k, _, _)| Some(is_past(k.value_date(as_of))))
                        .collect(),
                ),
            ),
            (
                "counted",
                Col::Bool(
                    krs.iter()
                        .map(|(_, _, f)| Some(matches!(f, Fetched::Counts { .. })))
                        .collect(),
                ),
            ),
        ],
    )?;
    let counts: Vec<(&str, Option<u64>, Option<u64>)> = krs
        .iter()
        .filter_map(|(k, _, f)| match f {
            Fetched::Counts { matching, done } => Some((k.id.as_str(), *matching, *done)),
            Fetched::Issues(_) => None,
        })
        .collect();
    register(
        ctx,
        "jira_counts",
        vec![
            ("kr_id", text(counts.iter().map(|c| Some(c.0.to_string())))),
            (
                "matching",
                Col::Int(counts.iter().map(|c| c.1.map(|n| n as i64)).collect()),
            ),
            (
                "done",
                Col::Int(counts.iter().map(|c| c.2.map(|n| n as i64)).collect()),
            ),
        ],
    )?;
    let rows: Vec<(&str, &IssueRow)> = krs
        .iter()
        .flat_map(|(k, _, f)| match f {
            Fetched::Issues(rows) => rows.iter().map(|r| (k.id.as_str(), r)).collect::<Vec<_>>(),
            Fetched::Counts { .. } => Vec::new(),
        })
        .collect();
    let num =
        |f: fn(&IssueRow) -> Option<f64>| Col::Float(rows.iter().map(|(_, r)| f(r)).collect());
    register(
        ctx,
        "jira_issues",
        vec![
            ("kr_id", text(rows.iter().map(|(k, _)| Some(k.to_string())))),
            ("key", text(rows.iter().map(|(_, r)| Some(r.key.clone())))),
            (
                "status_category",
                text(rows.iter().map(|(_, r)| r.status_category.clone())),
            ),
            ("time_spent_hours", num(|r| r.time_spent_hours)),
            (
                "original_estimate_hours",
                num(|r| r.original_estimate_hours),
            ),
            (
                "remaining_estimate_hours",
                num(|r| r.remaining_estimate_hours),
            ),
            ("progress_hours", num(|r| r.progress_hours)),
            ("progress_total_hours", num(|r| r.progress_total_hours)),
            ("field_value", num(|r| r.field_value)),
            (
                "created_on",
                Col::Date(rows.iter().map(|(_, r)| r.created_on.map(date32)).collect()),
            ),
            (
                "category_changed_on",
                Col::Date(
                    rows.iter()
                        .map(|(_, r)| r.category_changed_on.map(date32))
                        .collect(),
                ),
            ),
        ],
    )
}

/// Checks one connection's credentials, fields and JQL without fetching issues. Returns
/// `(subject, problem)` pairs.
pub async fn check_online(
    name: &str,
    settings: &JiraSettings,
    krs: &[&KeyResult],
    options: &ApiOptions,
) -> Vec<(String, String)> {
    let subject = format!("connection {name}");
    let client = match connect(name, settings, options) {
        Ok(c) => c,
        Err(e) => return vec![(subject, e.to_string())],
    };
    if client.http().is_replay() {
        // An archive holds what runs asked, not logins or JQL checks: check what a run would
        // read from it.
        return fetch_for(name, settings, krs, options)
            .await
            .into_iter()
            .filter_map(|(kr, r)| {
                Some((
                    format!("key result {kr}"),
                    format!("connection `{name}`: {}", r.err()?),
                ))
            })
            .collect();
    }
    if let Err(e) = client.myself().await {
        return vec![(subject, e.to_string())];
    }
    let (links, fields) = links_and_fields(&client, settings, krs).await;
    let mut problems = Vec::new();
    for (k, l) in &links {
        if let Some(Err(e)) = fields.get(&l.metric) {
            problems.push((
                format!("key result {}", k.id),
                format!("connection `{name}`: {e}"),
            ));
        }
    }
    let jqls: Vec<String> = links
        .iter()
        .map(|(_, l)| l.jql.clone())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    match client.check_jql(&jqls).await {
        Err(e) => problems.push((subject, e.to_string())),
        Ok(checked) => {
            for (jql, errors) in checked.into_iter().filter(|(_, e)| !e.is_empty()) {
                for (k, _) in links.iter().filter(|(_, l)| l.jql == jql) {
                    problems.push((
                        format!("key result {}", k.id),
                        format!("connection `{name}`: JQL `{jql}`: {}", errors.join("; ")),
                    ));
                }
            }
        }
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;

    fn source(t: &str) -> JiraSource {
        toml::from_str(t).unwrap()
    }

    #[test]
    fn metrics_and_measures_combine_as_the_table_says() {
        let pc = Measure::PercentComplete;
        let kpi = Measure::Kpi {
            start: 0.0,
            target: 20.0,
            phases: vec![],
        };
        let l = JiraLink::from_config(&source("jql = 'parent = AE-786'"), &pc).unwrap();
        assert_eq!(
            (l.metric.clone(), l.percent_complete),
            (Metric::Count, true)
        );
        let l = JiraLink::from_config(&source("jql = 'x'\nmetric = 'story_points'"), &kpi).unwrap();
        assert!(
            l.completed_only,
            "story points count done issues by default"
        );
        let l = JiraLink::from_config(&source("jql = 'x'\nmetric = 'Risk'"), &kpi).unwrap();
        assert_eq!(l.metric, Metric::Field("Risk".into()));
        let err =
            |t: &str, m: &Measure| JiraLink::from_config(&source(t), m).unwrap_err().join("; ");
        assert_eq!(
            err("jql = 'x'\nmetric = 'remaining_estimate'", &pc),
            "metric `remaining_estimate` has no percent complete (done ÷ all); use it with a kpi measure"
        );
        assert!(
            err("jql = 'x'\nmetric = 'progress'", &pc)
                .contains("`progress` has no percent complete")
        );
        assert!(
            err("jql = 'x'\ncompleted_only = true", &pc).contains("completed_only applies to KPIs")
        );
        assert_eq!(err("jql = ' '", &kpi), "jql is empty");
    }

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
