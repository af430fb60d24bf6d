//! What readers see: only whole runs, and every period. A run whose commit fails half-way
//! (partitions switched in, no `runs` row) is left out of the history a later run, a
//! backfill and the report read, and out of the Athena views and the LookML explores; a
//! period that did not exist when the Athena DDL was made is visible without new DDL.
//! The views run on the loopback Athena over the loopback S3 server's files.

mod common;

use common::athena::FakeAthena;
use common::s3::FakeS3;
use common::*;
use okrflow::backfill::{self, Mode, RangeOptions, Step};
use okrflow::model::Location;
use okrflow::pipeline::{self, RunOptions};
use std::path::Path;

/// Vendor reviews started before the end of the run date: 3 by 10 March, 4 by 15 March.
const VENDOR: &str = "SELECT count(*) FROM tallyfy_processes WHERE blueprint_id = 'bp-vendor' AND started_at < $as_of_end";

/// An objective of `period` with one key result `kr`, 10 vendor reviews, measured by `sql`.
fn objective(id: &str, period: &str, kr: &str, sql: &str) -> String {
    format!(
        "[[objectives]]\nid = \"{id}\"\ntitle = \"vendors {period}\"\nowner = \"ops\"\nperiod = \"{period}\"\n\
         [[objectives.key_results]]\nid = \"{kr}\"\ntitle = \"vendor reviews\"\nowner = \"ops\"\n\
         measure = {{ kpi = {{ start = 0, target = 10 }} }}\nsource = {{ tallyfy = {{ sql = \"{sql}\" }} }}\n"
    )
}

/// Runs `plan` for `day` into the folder `out`, whatever the outcome.
async fn run_into(
    plan: &okrflow::job::Plan,
    day: &str,
    out: &Path,
) -> Result<pipeline::RunReport, pipeline::PipelineError> {
    let options = RunOptions {
        as_of: date(day),
        output: Some(Location::Local(out.to_path_buf())),
        replay: None,
    };
    pipeline::run(plan, &options).await
}

/// Runs `plan` for `day` with the output's `quarter_scores` folder replaced by a file: the
/// commit switches `kr_snapshots` and `objective_snapshots` in and then fails, before `runs`,
/// as a run killed half-way through its commit. Returns the failed run's id.
async fn run_failing_half_way(plan: &okrflow::job::Plan, day: &str, out: &Path) -> String {
    let scores = out.join("quarter_scores");
    let aside = out.join("quarter_scores.aside");
    std::fs::rename(&scores, &aside).unwrap();
    std::fs::write(&scores, "not a folder").unwrap();
    let e = run_into(plan, day, out).await.unwrap_err().to_string();
    std::fs::remove_file(&scores).unwrap();
    std::fs::rename(&aside, &scores).unwrap();
    assert!(e.contains("quarter_scores"), "{e}");
    let partition = out.join(format!("kr_snapshots/as_of={day}"));
    let file = files(&partition).pop().unwrap();
    file.trim_start_matches("part-")
        .trim_end_matches(".parquet")
        .to_string()
}

#[tokio::test]
async fn a_run_that_failed_half_way_through_its_commit_is_not_history() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let good = job_with(dir.path(), &objective("O", "FY27-Q1", "K1", VENDOR));

    // 10 March: 3 vendor reviews, committed.
    let first = run_into(&good, "2026-03-10", &out).await.unwrap();
    close(kr(&first, "K1").value, 3.0);

    // 15 March: 4 reviews; the commit fails after kr_snapshots and objective_snapshots.
    let orphan = run_failing_half_way(&good, "2026-03-15", &out).await;
    let rows = partition_rows(&out.join("kr_snapshots/as_of=2026-03-15"), "kr_id", &[]);
    assert_eq!(rows["K1"]["value"], "4.0");
    assert_eq!(rows["K1"]["run_id"], orphan);
    assert!(out.join("objective_snapshots/as_of=2026-03-15").exists());
    assert!(!out.join("runs/as_of=2026-03-15").exists());

    // 16 March, K1's source fails: it keeps its last good value, 10 March's 3, not the 4 of
    // the run that never committed; read once from the kept history and the partitions since,
    // once from every partition.
    let broken = job_with(
        dir.path(),
        &objective("O", "FY27-Q1", "K1", "SELECT 'n/a' AS answer"),
    );
    for state in ["kept", "none"] {
        if state == "none" {
            std::fs::remove_dir_all(out.join("_okrflow/state/history")).unwrap();
        }
        let third = run_into(&broken, "2026-03-16", &out).await.unwrap();
        let k1 = kr(&third, "K1");
        assert!(k1.stale, "{state}");
        close(k1.value, 3.0);
    }

    // The report as of 15 March shows 10 March, the newest committed snapshot then.
    let html = dir.path().join("report.html");
    let report = std::process::Command::new(env!("CARGO_BIN_EXE_okrflow"))
        .args(["report", dir.path().join("job.toml").to_str().unwrap()])
        .args(["--output", out.to_str().unwrap(), "--out", html.to_str().unwrap()])
        .args(["--period", "FY27-Q1", "--as-of", "2026-03-15"])
        .output()
        .unwrap();
    assert!(
        report.status.success(),
        "{}",
        String::from_utf8_lossy(&report.stderr)
    );
    let html = std::fs::read_to_string(&html).unwrap();
    assert!(html.contains("2026-03-10"));
    assert!(!html.contains("2026-03-15"), "the failed run is in the report");

    // A rerun of 10 March that fails half-way: runs still lists the first run, kr_snapshots
    // holds the failed one's rows. A backfill sees 10 March as not committed and runs it.
    let rerun = run_failing_half_way(&good, "2026-03-10", &out).await;
    assert_ne!(rerun, first.run_id);
    assert_eq!(
        files(&out.join("runs/as_of=2026-03-10")),
        [format!("part-{}.parquet", first.run_id)]
    );
    let range = RangeOptions {
        mode: Mode::Backfill,
        from: date("2026-03-10"),
        to: date("2026-03-10"),
        krs: Vec::new(),
        force: false,
        concurrency: 1,
        output: Some(Location::Local(out.clone())),
    };
    let opened = okrflow::storage::open(&Location::Local(out.clone()), false)
        .await
        .unwrap();
    let plan = backfill::plan_dates(&good, &range, &opened).await.unwrap();
    assert!(
        matches!(&plan[0].step, Step::Run { fetch, .. } if fetch == &["K1".to_string()]),
        "{:?}",
        plan[0].step
    );
}
