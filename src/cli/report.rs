//! `report`: a period's progress report, one self-contained HTML file.

use super::args::{ReportArgs, output_location};
use crate::error::Outcome;
use crate::job;
use crate::report;
use anyhow::Context;

/// Builds, renders and writes the report, then says what it holds.
pub(crate) async fn report(args: ReportArgs) -> anyhow::Result<Outcome> {
    let ReportArgs {
        job,
        period,
        out,
        output,
    } = args;
    let plan = job::load(&job)?;
    let output = output_location(output.as_deref())?;
    let built = report::build(&plan, period.as_deref(), output.as_ref())
        .await
        .context("cannot build the report")?;
    let html = report::render(&built)?;
    report::write(&out, &html)?;
    let krs: usize = built.objectives.iter().map(|o| o.key_results.len()).sum();
    println!(
        "wrote {} ({} {}: {} objective(s), {} key result(s), snapshots {} to {})",
        out.display(),
        built.job,
        built.period,
        built.objectives.len(),
        krs,
        built.first_date,
        built.last_date
    );
    Ok(Outcome::Ok)
}
