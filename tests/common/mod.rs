//! Helpers shared by the end-to-end suites.
#![allow(dead_code)]

pub mod fake_http;
pub mod jira;
pub mod looker;
pub mod s3;

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

/// Checks that the responses a test archived under `archive/<connection>/` are exactly the
/// bundled demo archive in `jobs/demo/raw/<connection>/` (request keys and bodies; the fetch
/// time aside), and that no file holds a login or one of `secrets`. With `OKRFLOW_BLESS` set,
/// the bundled archive is rewritten first.
pub fn check_bundled_archive(archive: &Path, connection: &str, secrets: &[&str]) {
    let fresh = archive.join(connection);
    let bundled = repo().join("jobs/demo/raw").join(connection);
    let read = |dir: &Path| -> std::collections::BTreeMap<String, serde_json::Value> {
        std::fs::read_dir(dir)
            .map(|entries| {
                entries
                    .map(|e| e.unwrap().path())
                    .map(|p| {
                        let mut v: serde_json::Value =
                            serde_json::from_str(&std::fs::read_to_string(&p).unwrap()).unwrap();
                        v.as_object_mut().unwrap().remove("fetched_at");
                        (p.file_name().unwrap().to_string_lossy().into_owned(), v)
                    })
                    .collect()
            })
            .unwrap_or_default()
    };
    if std::env::var_os("OKRFLOW_BLESS").is_some() {
        let _ = std::fs::remove_dir_all(&bundled);
        std::fs::create_dir_all(&bundled).unwrap();
        for (name, mut v) in read(&fresh) {
            v["fetched_at"] = serde_json::json!("2026-05-01T06:00:00Z");
            std::fs::write(
                bundled.join(name),
                serde_json::to_string_pretty(&v).unwrap() + "\n",
            )
            .unwrap();
        }
    }
    let (fresh, bundled) = (read(&fresh), read(&bundled));
    assert!(!fresh.is_empty(), "nothing was archived for {connection}");
    assert_eq!(
        fresh.keys().collect::<Vec<_>>(),
        bundled.keys().collect::<Vec<_>>(),
        "the archive's requests changed; rerun with OKRFLOW_BLESS=1 if that is intended"
    );
    assert_eq!(
        fresh, bundled,
        "the archived bodies changed; rerun with OKRFLOW_BLESS=1 if intended"
    );
    for (name, v) in &fresh {
        assert!(
            !name.contains("login") && !name.contains("logout"),
            "{name}"
        );
        let text = v.to_string();
        for s in secrets {
            assert!(!text.contains(s), "{name} holds `{s}`");
        }
    }
}
