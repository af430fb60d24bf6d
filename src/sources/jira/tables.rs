//! The input tables `jira_selections`, `jira_issues` and `jira_counts` over what was fetched,
//! and the Jira SQL (`sql/jira_values.sql`, [`Jira::STATEMENTS`](super::Jira)) that turns
//! them into one value per key result.

use super::Jira;
use super::fetch::{Fetched, FetchedByKr};
use super::link::JiraLink;
use super::model::IssueRow;
use crate::engine::date32;
use crate::engine::tables::{Col, register, text, value_dates};
use crate::engine::{self, EngineError};
use crate::sources::registry::link_of;
use crate::sources::{KeyResult, KrValue, SourceKind, api_value, is_past, read_computed};
use chrono::NaiveDate;
use datafusion::prelude::SessionContext;

/// Registers `jira_selections`, `jira_issues` and `jira_counts` for the key results whose
/// data was fetched, runs `sql/jira_values.sql`, and returns each key result's value or error.
pub(crate) async fn values(
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
    Ok(krs
        .iter()
        .filter_map(|k| {
            let l = link_of::<Jira>(k)?;
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
