//! `validate`: every problem of a job file at once, what needs no data and (`--online`) what
//! does; exit 1 when it has errors.

use super::args::ValidateArgs;
use crate::error::Outcome;
use crate::inspect;
use crate::job::{self, Plan};
use crate::model::{JobError, Severity};
use chrono::Utc;
use std::path::Path;

/// Checks the job file and prints what is wrong with it, or that it is fine.
pub(crate) async fn validate(args: ValidateArgs) -> anyhow::Result<Outcome> {
    let ValidateArgs {
        job,
        online,
        replay,
    } = args;
    let plan = match job::load(&job) {
        Ok(plan) => plan,
        Err(JobError::Invalid {
            problems, warnings, ..
        }) => {
            for p in problems.iter().chain(&warnings) {
                println!("{p}");
            }
            println!(
                "{}: {} error(s), {} warning(s)",
                job.display(),
                problems.len(),
                warnings.len()
            );
            return Ok(Outcome::CouldNotRun);
        }
        Err(e) => return Err(e.into()),
    };
    for w in &plan.warnings {
        println!("{w}");
    }
    // Every problem at once: what needs no data, then (--online) what does.
    let checked = inspect::check_offline(&plan, Utc::now().date_naive()).await?;
    for p in &checked {
        println!("{p}");
    }
    let (planned, checked_warnings): (Vec<_>, Vec<_>) = checked
        .into_iter()
        .partition(|p| p.severity == Severity::Error);
    let replay_given = replay.is_some();
    let online_found = if online {
        inspect::check_online(&plan, replay).await
    } else {
        inspect::Online::default()
    };
    for (subject, warning) in &online_found.warnings {
        println!("{}: warning: {subject}: {warning}", job.display());
    }
    let problems = online_found.errors;
    for (subject, problem) in &problems {
        println!("{}: error: {subject}: {problem}", job.display());
    }
    let warnings = plan.warnings.len() + checked_warnings.len() + online_found.warnings.len();
    if !planned.is_empty() || !problems.is_empty() {
        let online_part = if online {
            format!(" ({} online)", problems.len())
        } else {
            String::new()
        };
        println!(
            "{}: {} error(s){online_part}, {} warning(s)",
            job.display(),
            planned.len() + problems.len(),
            warnings
        );
        return Ok(Outcome::CouldNotRun);
    }
    print_ok(&job, &plan, online, replay_given, warnings);
    Ok(Outcome::Ok)
}

/// The line of a job without errors, saying what `--online` reached.
fn print_ok(job: &Path, plan: &Plan, online: bool, replay_given: bool, warnings: usize) {
    // An API connection answered from an archive was not reached: say so.
    let replayed: Vec<&str> = plan
        .connections
        .iter()
        .filter(|(_, c)| c.replayed(replay_given))
        .map(|(n, _)| n.as_str())
        .collect();
    let online_note = match (online, replayed.is_empty()) {
        (false, _) => String::new(),
        (true, true) => {
            " (online: every connection reached, every key result's source found)".into()
        }
        (true, false) => format!(
            " (online: every key result's source found; {} answered from a replay archive, \
             not the network)",
            replayed.join(", ")
        ),
    };
    println!(
        "{}: ok{} — {} objective(s), {} key result(s), {} connection(s), {} warning(s)",
        job.display(),
        online_note,
        plan.objectives.len(),
        plan.key_results.len(),
        plan.connections.len(),
        warnings
    );
}
