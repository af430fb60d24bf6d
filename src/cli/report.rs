//! `report`: a period's progress report, one self-contained HTML file.

use super::args::{ReportArgs, output_location};
use crate::error::Outcome;
use crate::job;
use crate::model::Location;
use crate::report;
use anyhow::Context;
use std::path::Path;

/// Builds, renders and writes the report, then says what it holds.
pub(crate) async fn report(args: ReportArgs) -> anyhow::Result<Outcome> {
    let ReportArgs {
        job,
        period,
        as_of,
        out,
        output,
    } = args;
    let plan = job::load(&job)?;
    let output = output_location(output.as_deref())?;
    if let Some(Location::Local(dir)) = &output {
        not_the_report_file(dir)?;
    }
    let built = report::build(&plan, period.as_deref(), as_of, output.as_ref())
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

/// `--output` names the snapshots to read. A name like `r.html`, or a missing path with an
/// extension, was most likely meant for `--out`: say so rather than only "no such folder".
fn not_the_report_file(dir: &Path) -> anyhow::Result<()> {
    if dir.is_dir() {
        return Ok(());
    }
    let extension = dir.extension().and_then(|e| e.to_str());
    let html =
        extension.is_some_and(|e| ["html", "htm"].contains(&e.to_ascii_lowercase().as_str()));
    if !html && (extension.is_none() || dir.exists()) {
        return Ok(());
    }
    let what = if dir.exists() {
        "is a file, not a folder"
    } else {
        "no such folder"
    };
    anyhow::bail!(
        "--output {shown}: {what}. --output is the snapshots' folder or s3:// url to read \
         (default: the job's [output] url); the HTML file goes to --out, e.g. --out {shown}",
        shown = dir.display()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_html_name_for_the_snapshots_points_at_out() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("r.html");
        let err = not_the_report_file(&missing).unwrap_err().to_string();
        assert!(err.contains("no such folder"), "{err}");
        assert!(err.contains("the HTML file goes to --out"), "{err}");
        std::fs::write(&missing, "<html>").unwrap();
        let err = not_the_report_file(&missing).unwrap_err().to_string();
        assert!(err.contains("is a file, not a folder"), "{err}");
        // A folder, or a missing name without an extension, is left to the usual checks.
        assert!(not_the_report_file(dir.path()).is_ok());
        assert!(not_the_report_file(&dir.path().join("snapshots")).is_ok());
        assert!(not_the_report_file(&dir.path().join("r.parquet")).is_err());
    }
}
