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
        stop: Default::default(),
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
        .args([
            "--output",
            out.to_str().unwrap(),
            "--out",
            html.to_str().unwrap(),
        ])
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
    assert!(
        !html.contains("2026-03-15"),
        "the failed run is in the report"
    );

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
        stop: Default::default(),
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

/// Runs a command off the runtime (the loopback servers answer on it).
async fn output(mut c: std::process::Command) -> std::process::Output {
    tokio::task::spawn_blocking(move || c.output().unwrap())
        .await
        .unwrap()
}

/// The rows of `sql` in the loopback Athena's database `okr`, each cell as text.
async fn athena_rows(athena: &FakeAthena, sql: &str) -> Vec<Vec<String>> {
    athena
        .rows(sql, "okr")
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
        .into_iter()
        .map(|r| r.into_iter().map(|c| c.unwrap_or_default()).collect())
        .collect()
}

#[tokio::test]
async fn athena_views_and_explores_show_committed_runs_and_a_period_newer_than_the_ddl() {
    let s3 = FakeS3::start(&["okr-results"]).await;
    let dir = tempfile::tempdir().unwrap();
    let (athena, url) = FakeAthena::start(dir.path(), common::s3::ACCESS_KEY).await;
    athena.read_s3_from(s3.root.path());
    let output_url = "s3://okr-results/prod/";
    let q1 = objective("O", "FY27-Q1", "K1", VENDOR);
    let job = job_file(dir.path(), output_url, &q1);
    let job = job.to_str().unwrap();
    let okrflow = |args: &[&str]| {
        let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_okrflow"));
        c.args(args)
            .env_remove("RUST_LOG")
            .env_remove("AWS_PROFILE");
        c.envs(s3.env()).env("AWS_ENDPOINT_URL_ATHENA", &url);
        output(c)
    };
    let text = |o: &std::process::Output| {
        format!(
            "{}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        )
    };

    // The tables and views are registered once, while the job has FY27-Q1 only.
    let registered = okrflow(&["athena", "register", job, "--database", "okr"]).await;
    assert_eq!(registered.status.code(), Some(0), "{}", text(&registered));
    let day = |d: &str| ["run", job, "--as-of", d, "-q"].map(String::from);
    let run = |d: &str| {
        let args = day(d);
        okrflow(&args.iter().map(String::as_str).collect::<Vec<_>>())
    };
    assert_eq!(run("2026-04-20").await.status.code(), Some(0));
    // FY27-Q2 (May to July) is added to the job; nobody registers again.
    job_file(
        dir.path(),
        output_url,
        &format!("{q1}{}", objective("P", "FY27-Q2", "K2", VENDOR)),
    );
    let committed = run("2026-05-05").await;
    assert_eq!(committed.status.code(), Some(0), "{}", text(&committed));
    // 6 May: every table is written but runs: the run exits 1.
    s3.fail_puts.lock().unwrap().push("/runs/".into());
    let failed = run("2026-05-06").await;
    assert_eq!(failed.status.code(), Some(1), "{}", text(&failed));

    // The failed run's rows are in the tables Athena reads…
    let by_date = "SELECT as_of, count(*) FROM kr_snapshots GROUP BY as_of ORDER BY as_of";
    assert_eq!(
        athena_rows(&athena, by_date).await,
        [
            ["2026-04-20", "1"],
            ["2026-05-05", "2"],
            ["2026-05-06", "2"]
        ]
    );
    let runs = athena_rows(&athena, "SELECT as_of, run_id FROM runs ORDER BY as_of").await;
    assert_eq!(runs.len(), 2, "{runs:?}");
    let may_5 = &runs[1][1];
    // …but not in the views: each key result's and objective's newest is 5 May's.
    for (view, key, ids) in [
        ("kr_latest", "kr_id", ["K1", "K2"]),
        ("objective_latest", "objective_id", ["O", "P"]),
    ] {
        let sql = format!("SELECT {key}, as_of, run_id FROM {view} ORDER BY {key}");
        assert_eq!(
            athena_rows(&athena, &sql).await,
            ids.map(|id| [id, "2026-05-05", may_5.as_str()]),
            "{view}"
        );
    }
    // FY27-Q2, which did not exist when the DDL was made, has its scores. On 5 May FY27-Q1
    // is over: final, K1's 6 of 10 reviews by 30 April. FY27-Q2 is on day 5 of 92 with 6 of
    // 10: far ahead of the pace, a projected score clipped to 1.
    assert_eq!(
        athena_rows(
            &athena,
            "SELECT period, id, as_of, final, quarter_score FROM quarter_scores_latest \
             WHERE kind = 'key_result' ORDER BY period"
        )
        .await,
        [
            ["FY27-Q1", "K1", "2026-05-05", "true", "0.6"],
            ["FY27-Q2", "K2", "2026-05-05", "false", "1.0"]
        ]
    );

    // The LookML explores over the tables filter to committed runs the same way.
    let project = okrflow::sink::lookml::Project::new("", "okr_looker", "okr", "athena").unwrap();
    let model = okrflow::sink::lookml::model(&project);
    for (table, dates) in [
        ("kr_snapshots", 2),
        ("objective_snapshots", 2),
        ("quarter_scores", 2),
    ] {
        let explore = &model[model.find(&format!("explore: {table} {{")).unwrap()..];
        let filter = explore
            .lines()
            .find_map(|l| l.trim().strip_prefix("sql_always_where: "))
            .unwrap()
            .trim_end_matches(";;")
            .replace(&format!("${{{table}.run_id}}"), &format!("{table}.run_id"));
        let sql = format!(
            "SELECT count(DISTINCT as_of), max(as_of) FROM okr.{table} AS {table} WHERE {filter}"
        );
        assert_eq!(
            athena_rows(&athena, &sql).await,
            [[dates.to_string(), "2026-05-05".to_string()]],
            "{table}"
        );
    }
}
