//! Looking before running: `preview` (the value one key result would get, and the rows it
//! came from, without writing anything) and `validate --online` (every connection reached,
//! every dashboard, tile, look, field and JQL checked, all problems reported at once).

use crate::engine::{self, EngineError};
use crate::model::{Connection, KrSource, Location, Plan, Problem, Severity};
use crate::pipeline::key_results_of;
use crate::sources::{ApiOptions, Measured, SourceError, jira, looker, tallyfy};
use chrono::NaiveDate;
use datafusion::arrow::util::pretty::pretty_format_batches;
use datafusion::prelude::{SessionContext, col, lit};

/// Why a preview could not be made.
#[derive(Debug, thiserror::Error)]
pub enum InspectError {
    #[error("no key result `{id}` in the job (it has: {known})")]
    UnknownKeyResult { id: String, known: String },
    #[error("key result {id} has no source: it is measured by the objectives aligned to it")]
    NoSource { id: String },
    #[error(transparent)]
    Engine(#[from] EngineError),
}

/// What `preview` found for one key result.
#[derive(Debug)]
pub struct Preview {
    pub kr_id: String,
    /// The source, as a reader would name it (`looker_prod: dashboard `Sales` tile `Demos``).
    pub source: String,
    /// The value, "nothing to measure yet" (with why), or why the source could not answer.
    pub value: Result<Measured, SourceError>,
    /// The selected cells, as a table, for sources that have them.
    pub rows: Option<String>,
}

/// Fetches one key result's value as a run would, without archiving or writing anything.
pub async fn preview(
    plan: &Plan,
    kr_id: &str,
    as_of: NaiveDate,
    replay: Option<std::path::PathBuf>,
) -> Result<Preview, InspectError> {
    let Some(kr) = plan.key_result(kr_id) else {
        return Err(InspectError::UnknownKeyResult {
            id: kr_id.into(),
            known: plan.key_result_ids(),
        });
    };
    let Some(source) = &kr.source else {
        return Err(InspectError::NoSource { id: kr_id.into() });
    };
    let name = source.connection();
    let api = ApiOptions {
        replay,
        as_of: Some(as_of),
        ..ApiOptions::default()
    };
    match (&plan.connections[name], source) {
        (Connection::Tallyfy { location }, KrSource::Tallyfy { sql, .. }) => {
            let (mut values, rows) =
                tallyfy::extract_showing(name, location, &[kr], as_of, Some(kr_id)).await?;
            let value = values
                .pop()
                .map_or_else(|| unreachable!("one value per key result"), |v| v.value);
            Ok(Preview {
                kr_id: kr_id.into(),
                source: format!("{name}: {}", sql.trim()),
                value,
                rows,
            })
        }
        (Connection::Looker(settings), KrSource::Looker { link, .. }) => {
            let fetched = looker::fetch_for(name, settings, &[kr], &api, true).await;
            let ctx = engine::new_session();
            let value = looker::values(&ctx, name, &[kr], &fetched, as_of)
                .await?
                .pop()
                .map_or_else(|| unreachable!("one value per key result"), |v| v.value);
            let rows = table(
                &ctx,
                "looker_selected",
                kr_id,
                &["x", "measure", "pivot_key", "value", "cell"],
            )
            .await;
            Ok(Preview {
                kr_id: kr_id.into(),
                source: format!("{name}: {}", link.target),
                value,
                rows,
            })
        }
        (Connection::Jira(settings), KrSource::Jira { link, .. }) => {
            let fetched = jira::fetch_for(name, settings, &[kr], &api).await;
            let ctx = engine::new_session();
            let value = jira::values(&ctx, name, &[kr], &fetched, as_of)
                .await?
                .pop()
                .map_or_else(|| unreachable!("one value per key result"), |v| v.value);
            let rows = match fetched.get(kr_id) {
                Some(Ok(jira::Fetched::Counts { matching, done })) => Some(format!(
                    "counted: {} matching, {} done",
                    matching.map_or("–".into(), |n| n.to_string()),
                    done.map_or("–".into(), |n| n.to_string())
                )),
                Some(Ok(jira::Fetched::Issues(_))) => {
                    let column = match link.metric {
                        jira::Metric::Count => None,
                        jira::Metric::TimeSpent => Some("time_spent_hours"),
                        jira::Metric::OriginalEstimate => Some("original_estimate_hours"),
                        jira::Metric::RemainingEstimate => Some("remaining_estimate_hours"),
                        jira::Metric::Progress => Some("progress_hours"),
                        jira::Metric::StoryPoints | jira::Metric::Field(_) => Some("field_value"),
                    };
                    let mut columns = vec!["key", "status_category"];
                    columns.extend(column);
                    if link.metric == jira::Metric::Progress {
                        columns.push("progress_total_hours");
                    }
                    table(&ctx, "jira_issues", kr_id, &columns).await
                }
                _ => None,
            };
            Ok(Preview {
                kr_id: kr_id.into(),
                source: format!("{name}: JQL `{}` ({})", link.jql, link.metric.as_str()),
                value,
                rows,
            })
        }
        _ => unreachable!("the plan checks that a source's connection has its kind"),
    }
}

/// A registered table's rows for one key result, as text; `None` when it cannot be read or
/// has no row for it (a failed fetch).
async fn table(ctx: &SessionContext, name: &str, kr_id: &str, columns: &[&str]) -> Option<String> {
    let df = ctx
        .table(name)
        .await
        .ok()?
        .filter(col("kr_id").eq(lit(kr_id)))
        .ok()?
        .select_columns(columns)
        .ok()?;
    let batches = df.collect().await.ok()?;
    if batches.iter().all(|b| b.num_rows() == 0) {
        return None;
    }
    pretty_format_batches(&batches).ok().map(|t| t.to_string())
}

/// Checks without reading any data what the job file alone cannot show: that a local output
/// can be written, and every Tallyfy key result's SQL planned against the views' schemas (an
/// unknown column, a type error, a result that is not one number), as of `as_of`. Returns
/// the errors, a key result's with the line of its `source`.
pub async fn check_offline(plan: &Plan, as_of: NaiveDate) -> Result<Vec<Problem>, InspectError> {
    let krs: Vec<&crate::model::KeyResult> = plan.key_results.iter().collect();
    let unplanned = tallyfy::check::plan_queries(&krs, as_of).await?;
    let output = match &plan.output {
        Location::Local(dir) => crate::storage::check_local_output(dir)
            .err()
            .map(|message| Problem {
                severity: Severity::Error,
                file: plan.job_path.clone(),
                line: None,
                subject: Some("output".into()),
                message: format!("{} cannot be written: {message}", plan.output),
            }),
        Location::S3(_) => None,
    };
    Ok(output
        .into_iter()
        .chain(plan.key_results.iter().filter_map(|k| {
            let message = unplanned.get(&k.id)?;
            Some(Problem {
                severity: Severity::Error,
                file: plan.job_path.clone(),
                line: k.source_line.map(|l| (l, 1)),
                subject: Some(format!("key result {}", k.id)),
                message: format!("sql does not plan: {message}"),
            })
        }))
        .collect())
}

/// Reaches every connection the job's key results use: Tallyfy exports are listed and their
/// footers read; Looker connections log in and resolve every dashboard, tile and look.
/// Returns `(subject, problem)` pairs, empty when everything resolves.
pub async fn check_online(
    plan: &Plan,
    replay: Option<std::path::PathBuf>,
) -> Vec<(String, String)> {
    let api = ApiOptions {
        replay,
        ..ApiOptions::default()
    };
    let checks = plan.connections.iter().map(|(name, connection)| {
        let api = &api;
        async move {
            let krs = key_results_of(plan, name);
            match connection {
                Connection::Tallyfy { location } => {
                    match tallyfy::loader::check(name, location).await {
                        Ok(_) => Vec::new(),
                        Err(e) => vec![(format!("connection {name}"), e.to_string())],
                    }
                }
                Connection::Looker(settings) => {
                    looker::check_online(name, settings, &krs, api).await
                }
                Connection::Jira(settings) => jira::check_online(name, settings, &krs, api).await,
            }
        }
    });
    let output = async {
        if !matches!(plan.output, Location::S3(_)) {
            return None;
        }
        let checked = match crate::storage::open(&plan.output, false).await {
            Ok(opened) => crate::storage::check_writable(&opened).await,
            Err(e) => Err(e.to_string()),
        };
        checked.err().map(|e| ("output".to_string(), e))
    };
    let (mut problems, output) = futures::join!(futures::future::join_all(checks), output);
    problems.push(output.into_iter().collect());
    problems.into_iter().flatten().collect()
}
