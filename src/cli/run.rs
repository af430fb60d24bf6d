//! `run`: one job as of one date, its summary printed, exit 3 when some key results failed
//! (4 when some cannot work as configured), 143 or 130 when SIGTERM or SIGINT stopped it before its commit.

use super::args::{RunArgs, output_location};
use crate::error::Outcome;
use crate::job::{self, Plan};
use crate::pipeline::{self, PipelineError, RunOptions, RunReport};
use crate::stop::{Stop, Stopped};
use crate::summary;
use anyhow::Context;
use chrono::Utc;

/// Runs the job and prints its summary; `stop` stops it.
pub(crate) async fn run(args: RunArgs, stop: Stop) -> anyhow::Result<Outcome> {
    let RunArgs {
        job,
        as_of,
        output,
        no_summary,
        replay,
        no_notify,
    } = args;
    let plan = job::load(&job)?;
    for w in &plan.warnings {
        tracing::warn!("{w}");
    }
    let options = RunOptions {
        as_of: as_of.unwrap_or_else(|| Utc::now().date_naive()),
        output: output_location(output.as_deref())?,
        replay,
        stop,
    };
    let started = std::time::Instant::now();
    let report = match pipeline::run(&plan, &options).await {
        Err(PipelineError::Stopped(Stopped(signal))) => {
            return Ok(super::stopped(signal, "nothing of this run was committed"));
        }
        done => done.with_context(|| format!("job {} could not run", job.display()))?,
    };
    let c = summary::counts(report.tables.get("runs").map_or(&[][..], |b| b.as_slice()));
    let rows: usize = report.tables.values().flatten().map(|b| b.num_rows()).sum();
    let closed = summary::closed_periods(&plan, report.as_of);
    let outcome = match (report.failed.is_empty(), report.misconfigured.is_empty()) {
        (true, _) => Outcome::Ok,
        (false, true) => Outcome::SomeKeyResultsFailed,
        (false, false) => Outcome::Misconfigured,
    };
    if !report.failed.is_empty() {
        // Each failure was logged once where it happened; here only which ones.
        let ids: Vec<&str> = report.failed.iter().map(|(kr, _)| kr.as_str()).collect();
        tracing::error!(
            misconfigured = (!report.misconfigured.is_empty())
                .then(|| report.misconfigured.join(", "))
                .as_deref(),
            "{} key result(s) failed ({}){}; exit code {}",
            ids.len(),
            ids.join(", "),
            match report.misconfigured.len() {
                0 => String::new(),
                n => format!(
                    ", {n} of them cannot work as configured ({}): fix the job or its environment",
                    report.misconfigured.join(", ")
                ),
            },
            outcome.code()
        );
    }
    tracing::info!(
        job = %plan.job_name,
        job_file = %job.display(),
        run_id = %report.run_id,
        as_of = %report.as_of,
        closed = (!closed.is_empty()).then(|| closed.join("; ")).as_deref(),
        ok = c.ok,
        no_data = c.no_data,
        stale = c.stale,
        failed = c.failed,
        misconfigured = report.misconfigured.len(),
        metrics = %c.metrics_text(),
        rows,
        partitions = report.partitions.len(),
        elapsed_s = started.elapsed().as_secs_f64(),
        exit_code = outcome.code(),
        "run finished"
    );
    if !no_summary {
        print_summary(&plan, &report, &closed);
    }
    // After the commit; whatever happens to the post, the exit code is the run's.
    if !no_notify {
        crate::notify::after_run(&plan, &report.output, report.as_of).await;
    }
    Ok(outcome)
}

/// The summary table, after a heading and a note per period the date closed.
fn print_summary(plan: &Plan, report: &RunReport, closed: &[String]) {
    let empty = Vec::new();
    let krs = report.tables.get("kr_snapshots").unwrap_or(&empty);
    let objectives = report.tables.get("objective_snapshots").unwrap_or(&empty);
    println!(
        "{} as of {} (run {})",
        plan.job_name, report.as_of, report.run_id
    );
    for note in closed {
        println!("{note}");
    }
    println!(
        "{}",
        summary::render(plan, krs, objectives, summary::target_width())
    );
    println!("written to {}", report.output);
}
