//! The input tables `jira_selections`, `jira_issues` and `jira_counts` over what was fetched,
//! and the Jira SQL (`sql/jira_values.sql`, [`Jira::STATEMENTS`](super::Jira)) that turns
//! them into one value per key result: Jira's [`ApiKind`].

use super::fetch::{Fetched, FetchedByKr, fetch_for};
use super::link::{JiraLink, Metric};
use super::model::IssueRow;
use super::{Jira, JiraSettings};
use crate::engine::date32;
use crate::engine::tables::{Col, register, text, value_dates};
use crate::engine::{self, EngineError};
use crate::sources::http::api::{self, ApiKind};
use crate::sources::kind::rows_of;
use crate::sources::registry::link_of;
use crate::sources::{ApiOptions, KeyResult, KrValue, SourceKind, is_past, read_computed};
use chrono::NaiveDate;
use datafusion::prelude::SessionContext;

impl ApiKind for Jira {
    type Fetched = FetchedByKr;

    /// Fields resolved once, each distinct JQL searched or counted once.
    async fn fetch(
        name: &str,
        settings: &JiraSettings,
        krs: &[&KeyResult],
        api: &ApiOptions,
    ) -> FetchedByKr {
        fetch_for(name, settings, krs, api).await
    }

    /// The key results searched or counted with `kr`: those of the same JQL, as
    /// [`fetch_for`] groups them (the fields asked for, and whether it counts, depend on all).
    fn sharing<'a>(kr: &'a KeyResult, krs: &[&'a KeyResult]) -> Vec<&'a KeyResult> {
        let jql = link_of::<Jira>(kr).map(|l| l.jql.as_str());
        krs.iter()
            .filter(|k| link_of::<Jira>(k).map(|l| l.jql.as_str()) == jql)
            .copied()
            .collect()
    }

    /// Registers `jira_selections`, `jira_issues` and `jira_counts` for the key results
    /// whose data was fetched, runs `sql/jira_values.sql`, and returns each key result's
    /// value or error.
    async fn values(
        ctx: &SessionContext,
        connection: &str,
        krs: &[&KeyResult],
        fetched: &FetchedByKr,
        as_of: NaiveDate,
    ) -> Result<Vec<KrValue>, EngineError> {
        let ok: Vec<(&KeyResult, &JiraLink, &Fetched)> = krs
            .iter()
            .filter_map(|k| Some((*k, link_of::<Jira>(k)?, fetched.get(&k.id)?.as_ref().ok()?)))
            .collect();
        register_tables(ctx, &ok, as_of)?;
        for s in Jira::STATEMENTS {
            engine::register_view(ctx, s).await?;
        }
        let computed = read_computed(ctx, "jira_values").await?;
        Ok(api::values_of::<Jira, _, _>(
            connection,
            krs,
            &computed,
            |k, l| (format!("JQL `{}`", l.jql), fetched.get(&k.id)),
        ))
    }

    /// The counts, or the issues with the columns the metric reads.
    async fn rows(
        ctx: &SessionContext,
        kr: &KeyResult,
        link: &JiraLink,
        fetched: &FetchedByKr,
    ) -> Option<String> {
        match fetched.get(&kr.id) {
            Some(Ok(Fetched::Counts { matching, done })) => Some(format!(
                "counted: {} matching, {} done",
                matching.map_or("–".into(), |n| n.to_string()),
                done.map_or("–".into(), |n| n.to_string())
            )),
            // the issues as the value counted them (`sql/jira_counted.sql`): as of a past
            // evaluation day, those created by then, done or not on that day
            Some(Ok(Fetched::Issues(_))) => {
                let columns: &[&str] = match link.metric {
                    Metric::Count => &["key", "done"],
                    Metric::Progress => &["key", "done", "progress_ratio"],
                    _ => &["key", "done", "amount"],
                };
                rows_of(ctx, "jira_counted", &kr.id, columns).await
            }
            _ => None,
        }
    }

    fn source(name: &str, link: &JiraLink) -> String {
        format!("{name}: JQL `{}` ({})", link.jql, link.metric.as_str())
    }
}

/// Registers the tables for the key results whose data was fetched.
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
