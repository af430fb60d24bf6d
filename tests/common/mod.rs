//! Helpers shared by the end-to-end suites.
#![allow(dead_code)]

pub mod athena;
pub mod fake_http;
pub mod jira;
pub mod looker;
pub mod s3;

use chrono::NaiveDate;
use okrflow::job::Plan;
use okrflow::model::Location;
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
    okrflow::job::load(&repo().join("jobs/demo.toml")).unwrap()
}

/// Runs a plan as of a date into `out`.
pub async fn run(plan: &Plan, as_of: &str, out: &Path) -> RunReport {
    let options = RunOptions {
        as_of: date(as_of),
        output: Some(Location::Local(out.to_path_buf())),
        replay: None,
        stop: Default::default(),
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

/// `command` with no AWS configuration of the machine in reach: no profile, no config or
/// credentials file, no instance metadata.
pub fn no_aws_config(command: &mut std::process::Command) -> &mut std::process::Command {
    command
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_CONFIG_FILE", "/nonexistent/okrflow-aws-config")
        .env(
            "AWS_SHARED_CREDENTIALS_FILE",
            "/nonexistent/okrflow-aws-credentials",
        )
        .env_remove("AWS_PROFILE")
}

/// Every file below a folder, at any depth, sorted.
pub fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).into_iter().flatten() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out.sort();
    out
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
    okrflow::job::load(&job_file(dir, "out", objectives)).unwrap()
}

/// [`job_with`]'s file, writing to `output` (a folder or an `s3://` url); its path.
pub fn job_file(dir: &Path, output: &str, objectives: &str) -> PathBuf {
    let data = repo().join("jobs/demo/tallyfy");
    let text = format!(
        "[job]\nname = \"test\"\nfiscal_year_start_month = 2\n\n[output]\nurl = \"{output}\"\n\n\
         [connections.tallyfy]\nkind = \"tallyfy\"\nurl = \"{}\"\n\n{objectives}",
        data.display()
    );
    let path = dir.join("job.toml");
    std::fs::write(&path, text).unwrap();
    path
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

/// Every row of one partition folder (`<out>/<table>/<column>=<value>/`), keyed by the
/// `key` column, each as column → value text, leaving out `skip` columns (run ids, times).
pub fn partition_rows(
    dir: &Path,
    key: &str,
    skip: &[&str],
) -> std::collections::BTreeMap<String, std::collections::BTreeMap<String, String>> {
    use datafusion::arrow::util::display::array_value_to_string;
    use datafusion::parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
    let mut out = std::collections::BTreeMap::new();
    for name in files(dir).iter().filter(|n| n.ends_with(".parquet")) {
        let file = std::fs::File::open(dir.join(name)).unwrap();
        for batch in ParquetRecordBatchReaderBuilder::try_new(file)
            .unwrap()
            .build()
            .unwrap()
        {
            let batch = batch.unwrap();
            let schema = batch.schema();
            for i in 0..batch.num_rows() {
                let mut row = std::collections::BTreeMap::new();
                for (c, field) in schema.fields().iter().enumerate() {
                    if !skip.contains(&field.name().as_str()) {
                        row.insert(
                            field.name().clone(),
                            array_value_to_string(batch.column(c), i).unwrap(),
                        );
                    }
                }
                out.insert(row[key].clone(), row);
            }
        }
    }
    out
}

/// A number of a row from [`partition_rows`].
pub fn number(row: &std::collections::BTreeMap<String, String>, column: &str) -> f64 {
    row[column]
        .parse()
        .unwrap_or_else(|_| panic!("{column} is `{}`, not a number", row[column]))
}

/// Asserts two [`partition_rows`] results are equal, naming only the cells that differ.
/// Numbers may differ in the last bits: parallel sums add in no fixed order.
#[track_caller]
pub fn assert_same_rows(
    a: &std::collections::BTreeMap<String, std::collections::BTreeMap<String, String>>,
    b: &std::collections::BTreeMap<String, std::collections::BTreeMap<String, String>>,
    what: &str,
) {
    let keys: std::collections::BTreeSet<&String> = a.keys().chain(b.keys()).collect();
    let mut diffs = Vec::new();
    for k in keys {
        match (a.get(k), b.get(k)) {
            (Some(x), Some(y)) => {
                for (col, v) in x {
                    let same_number = match (v.parse::<f64>(), y.get(col).map(|w| w.parse::<f64>()))
                    {
                        (Ok(p), Some(Ok(q))) => (p - q).abs() <= 1e-12 * p.abs().max(1.0),
                        _ => false,
                    };
                    if y.get(col) != Some(v) && !same_number {
                        diffs.push(format!("{k}.{col}: {v:?} vs {:?}", y.get(col)));
                    }
                }
            }
            (x, _) => diffs.push(format!(
                "{k}: only in {}",
                if x.is_some() {
                    "the first"
                } else {
                    "the second"
                }
            )),
        }
    }
    assert!(diffs.is_empty(), "{what} differ:\n{}", diffs.join("\n"));
}

/// The demo plan reading the fake servers instead of the bundled archive.
pub fn live_demo(mut plan: Plan, looker: &looker::FakeLooker, jira: &jira::FakeJira) -> Plan {
    // SAFETY: variables only this suite sets, to the fake servers' credentials.
    unsafe {
        std::env::set_var("BF_LOOKER_ID", "demo-client");
        std::env::set_var("BF_LOOKER_SECRET", "demo-secret");
        std::env::set_var("BF_JIRA_EMAIL", "demo@acme.test");
        std::env::set_var("BF_JIRA_TOKEN", "demo-token");
    }
    for connection in plan.connections.values_mut() {
        match connection {
            okrflow::job::Connection::Looker(s) => {
                s.base_url = url::Url::parse(&looker.url()).unwrap();
                s.replay = None;
                s.client_id_env = "BF_LOOKER_ID".into();
                s.client_secret_env = "BF_LOOKER_SECRET".into();
            }
            okrflow::job::Connection::Jira(s) => {
                s.base_url = url::Url::parse(&jira.url()).unwrap();
                s.replay = None;
                s.email_env = Some("BF_JIRA_EMAIL".into());
                s.token_env = "BF_JIRA_TOKEN".into();
            }
            // the demo's Athena key result answers from its bundled archive on every date
            okrflow::job::Connection::Tallyfy(_)
            | okrflow::job::Connection::Checkins(_)
            | okrflow::job::Connection::Athena(_) => {}
        }
    }
    plan
}

/// True when `out`'s run lock is free: never taken, or released by its last holder (the
/// lock is marked released, never deleted).
pub fn lock_released(out: &Path) -> bool {
    match std::fs::read(out.join("_okrflow/lock.json")) {
        Err(_) => true,
        Ok(body) => serde_json::from_slice::<serde_json::Value>(&body)
            .is_ok_and(|l| l["released"] == serde_json::Value::Bool(true)),
    }
}
