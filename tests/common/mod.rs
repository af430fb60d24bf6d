//! Helpers shared by the end-to-end suites.
#![allow(dead_code)]

pub mod fake_http;
pub mod jira;
pub mod looker;

use chrono::NaiveDate;
use okrflow::model::{self, Location, Plan};
use okrflow::pipeline::{self, RunOptions, RunReport};
use okrflow::summary::{Row, rows};
use std::path::{Path, PathBuf};

pub fn date(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
}

pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The demo job, with its bundled sample data.
pub fn demo_plan() -> Plan {
    model::load(&repo().join("jobs/demo.toml")).unwrap()
}

/// Runs a plan as of a date into `out`.
pub async fn run(plan: &Plan, as_of: &str, out: &Path) -> RunReport {
    let options = RunOptions {
        as_of: date(as_of),
        output: Some(Location::Local(out.to_path_buf())),
        replay: None,
    };
    pipeline::run(plan, &options).await.unwrap()
}

pub fn kr(report: &RunReport, id: &str) -> Row {
    rows(&report.tables["kr_snapshots"], "kr_id")
        .remove(id)
        .unwrap_or_else(|| panic!("no row for {id}"))
}

pub fn objective(report: &RunReport, id: &str) -> Row {
    rows(&report.tables["objective_snapshots"], "objective_id")
        .remove(id)
        .unwrap_or_else(|| panic!("no row for {id}"))
}

/// Asserts two floats agree to 1e-9.
#[track_caller]
pub fn close(actual: Option<f64>, expected: f64) {
    let a = actual.expect("a value");
    assert!((a - expected).abs() < 1e-9, "expected {expected}, got {a}");
}

/// Files directly under a folder, sorted.
pub fn files(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

/// A job file that reads the bundled demo exports, written into `dir` with the given
/// objectives appended.
pub fn job_with(dir: &Path, objectives: &str) -> Plan {
    let data = repo().join("jobs/demo/tallyfy");
    let text = format!(
        "[job]\nname = \"test\"\nfiscal_year_start_month = 2\n\n[output]\nurl = \"out\"\n\n\
         [connections.tallyfy]\nkind = \"tallyfy\"\nurl = \"{}\"\n\n{objectives}",
        data.display()
    );
    let path = dir.join("job.toml");
    std::fs::write(&path, text).unwrap();
    model::load(&path).unwrap()
}
