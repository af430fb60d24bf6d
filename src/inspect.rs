//! Looking before running: `preview` (the value one key result would get, and the rows it
//! came from, without writing anything) and `validate --online` (every connection reached,
//! every dashboard, tile, look, field and JQL checked, all problems reported at once).

use crate::engine::EngineError;
use crate::job::Plan;
use crate::model::{Location, Problem, Severity};
use crate::pipeline::key_results_of;
use crate::sources::ApiOptions;
use chrono::NaiveDate;

pub use crate::sources::Preview;

/// Why a preview could not be made.
#[derive(Debug, thiserror::Error)]
pub enum InspectError {
    #[error("no key result `{id}` in the job (it has: {known})")]
    UnknownKeyResult { id: String, known: String },
    #[error("key result {id} has no source: it is measured by {by} aligned to it")]
    NoSource { id: String, by: &'static str },
    #[error(transparent)]
    Engine(#[from] EngineError),
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
        return Err(InspectError::NoSource {
            id: kr_id.into(),
            by: if kr.rollup.is_some() {
                "the values of the key results"
            } else {
                "the objectives"
            },
        });
    };
    let name = source.connection();
    let api = ApiOptions {
        replay,
        as_of: Some(as_of),
        ..ApiOptions::default()
    };
    let krs = key_results_of(plan, name);
    Ok(plan.connections[name].preview(name, kr, &krs, &api).await?)
}

/// Checks without reading any data what the job file alone cannot show: that a local output
/// can be written, and every Tallyfy key result's SQL planned against the views' schemas (an
/// unknown column, a type error, a result that is not one number), as of `as_of`. Returns
/// the errors, a key result's with the line of its `source`.
pub async fn check_offline(plan: &Plan, as_of: NaiveDate) -> Result<Vec<Problem>, InspectError> {
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
    let mut problems: Vec<Problem> = output.into_iter().collect();
    for (name, connection) in &plan.connections {
        let krs = key_results_of(plan, name);
        problems.extend(connection.check_offline(name, plan, &krs, as_of).await?);
    }
    Ok(problems)
}

/// What `validate --online` found: `(subject, problem)` pairs.
#[derive(Debug, Default)]
pub struct Online {
    /// The job cannot run as written; empty when everything resolves.
    pub errors: Vec<(String, String)>,
    /// Worth a look, but the job runs (an export folder with no export).
    pub warnings: Vec<(String, String)>,
}

/// Reaches every connection the job's key results use: Tallyfy exports are listed and their
/// footers read; Looker connections log in and resolve every dashboard, tile and look.
pub async fn check_online(plan: &Plan, replay: Option<std::path::PathBuf>) -> Online {
    let warnings = plan
        .connections
        .iter()
        .map(|(name, connection)| async move {
            connection
                .warn_online(name, &key_results_of(plan, name))
                .await
        });
    let (errors, warnings) = futures::join!(
        check_online_errors(plan, replay),
        futures::future::join_all(warnings)
    );
    Online {
        errors,
        warnings: warnings.into_iter().flatten().collect(),
    }
}

/// [`check_online`]'s errors.
async fn check_online_errors(
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
            connection.check_online(name, &krs, api).await
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
