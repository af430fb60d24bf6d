//! "Nothing to measure yet" is not a failure: the first days of the demo quarter, backfilled
//! through the real binary, exit 0 with `no_data` rows that say why; a broken connection on
//! the same days still exits 3. Also: a key result that loses its data after having a value.

mod common;
use common::*;
use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

const RUN_COLUMNS: &[&str] = &["run_id", "computed_at", "started_at", "finished_at"];

fn okrflow(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_okrflow"))
        .current_dir(repo())
        .args(args)
        .output()
        .unwrap()
}

fn day(out: &Path, table: &str, key: &str, d: &str) -> BTreeMap<String, BTreeMap<String, String>> {
    partition_rows(&out.join(format!("{table}/as_of={d}")), key, RUN_COLUMNS)
}

#[test]
fn the_first_days_of_the_demo_quarter_are_no_data_not_failures() {
    let out = tempfile::tempdir().unwrap();
    let o = out.path().to_str().unwrap();
    let run = okrflow(&[
        "backfill",
        "jobs/demo.toml",
        "--from",
        "2026-02-01",
        "--to",
        "2026-02-05",
        "--output",
        o,
        "--concurrency",
        "1",
    ]);
    let (stdout, stderr) = (
        String::from_utf8_lossy(&run.stdout),
        String::from_utf8_lossy(&run.stderr),
    );
    assert_eq!(run.status.code(), Some(0), "{stdout}\n{stderr}");
    assert!(!stderr.contains("key result failed"), "{stderr}");

    let krs = day(out.path(), "kr_snapshots", "kr_id", "2026-02-01");
    assert_eq!(krs.len(), 23);
    for (id, row) in &krs {
        assert_eq!(row["error"], "", "{id} failed on 1 February: {row:?}");
        assert_eq!(row["stale"], "false", "{id}");
        let status = row["status"].as_str();
        assert!(
            ["no_data", "on_track", "behind", "at_risk", "done"].contains(&status),
            "{id} has status `{status}`"
        );
        if status == "no_data" {
            assert_eq!(row["value"], "", "{id}");
            assert_eq!(row["progress"], "", "{id}");
            assert_eq!(row["score"], "", "{id}");
            assert_ne!(row["note"], "", "{id} has no note saying why");
            // expected progress is computed: 1 of the quarter's 89 days has passed; the AMER
            // launch starts on 15 February, so nothing is expected of it yet; a guardrail
            // should hold every day
            let expected = match row["period"].as_str() {
                _ if row["measure_kind"] == "threshold" => 1.0,
                "FY27-Q1" => 1.0 / 89.0,
                "amer_launch" => 0.0,
                other => panic!("{id}: period {other}"),
            };
            assert!(
                (number(row, "expected_progress") - expected).abs() < 1e-9,
                "{id}: {row:?}"
            );
        } else if row["rollup"].is_empty() && row["source_kind"] != "athena" {
            // (a roll-up's note names its children, an Athena value's its query)
            assert_eq!(row["note"], "", "{id}");
        }
    }
    let status = |id: &str| krs[id]["status"].clone();
    let note = |id: &str| krs[id]["note"].clone();
    // On 1 February no onboarding task was completed yet: the on-time share is 0 ÷ 0 and the
    // median of no onboardings is NULL.
    assert_eq!(status("O1-KR2"), "no_data");
    assert!(
        note("O1-KR2").contains("is NaN (0 ÷ 0: no matching rows)"),
        "{}",
        note("O1-KR2")
    );
    assert_eq!(status("O1-KR3"), "no_data");
    assert!(
        note("O1-KR3")
            .contains("`median(tallyfy_processes.duration_days)` is NULL (no matching rows)"),
        "{}",
        note("O1-KR3")
    );
    // No story of the epic exists yet.
    assert_eq!(status("O5-KR1"), "no_data");
    assert_eq!(
        note("O5-KR1"),
        "JQL `parent = AE-786`: no data yet: no issue matches as of 2026-02-01"
    );
    // Counting KPIs are a measured 0, not "no data": no onboarding complete, no bug closed.
    assert_eq!(number(&krs["O1-KR1"], "value"), 0.0);
    assert_eq!(number(&krs["O5-KR2"], "value"), 0.0);
    // Never had a value: no date of a last one.
    assert_eq!(krs["O1-KR3"]["last_value_on"], "");

    // The runs table counts them apart from the failures.
    let runs = day(out.path(), "runs", "job", "2026-02-01");
    let runs = &runs["demo"];
    // By hand from the sample data, on 1 February: no vendor review started (C1-KR2 divides
    // 0 by 0), no onboarding task completed (O1-KR2) nor onboarding finished (O1-KR3, O2-KR2),
    // no weekly bucket of the look yet (O4-KR3), no story of the epic (O5-KR1), no check-in
    // of the compensation program yet (O6-KR1, O6-KR2, O6-KR3: the first is dated 16 February) nor of
    // the AMER launch (O7-KR1, O7-KR2). The year's demos (C2-KR1) are EMEA's alone, AMER's
    // named as left out.
    let ids: Vec<&str> = krs
        .iter()
        .filter(|(_, r)| r["status"] == "no_data")
        .map(|(id, _)| id.as_str())
        .collect();
    assert_eq!(
        ids,
        [
            "C1-KR2", "O1-KR2", "O1-KR3", "O2-KR2", "O4-KR3", "O5-KR1", "O6-KR1", "O6-KR2",
            "O6-KR3", "O7-KR1", "O7-KR2"
        ]
    );
    assert_eq!(
        note("C2-KR1"),
        "sum of 1 key result(s): O4-KR1; left out, no value: O7-KR1 (no data)"
    );
    assert_eq!(
        note("O4-KR3"),
        "look `Weekly active teams`: no data yet: no activity.week bucket starts on or before 2026-02-01"
    );
    let no_data = ids.len();
    assert_eq!(number(runs, "krs_no_data"), no_data as f64);
    assert_eq!(number(runs, "krs_failed"), 0.0);
    assert_eq!(number(runs, "krs_ok"), (23 - no_data) as f64);
    assert_eq!(runs["errors"], "");
    // Objectives leave them out of their mean and count them.
    let objectives = day(
        out.path(),
        "objective_snapshots",
        "objective_id",
        "2026-02-01",
    );
    assert_eq!(number(&objectives["O1"], "krs_no_data"), 2.0);
    assert_eq!(number(&objectives["O1"], "krs_failed"), 0.0);
    // The backfill's table counts them per date: ok, no data, stale, failed.
    let counts = |d: &str| -> Vec<String> {
        let line = stdout
            .lines()
            .find(|l| l.contains(d))
            .expect("a row per date");
        line.split('┆')
            .skip(2)
            .take(4)
            .map(|c| c.trim().to_string())
            .collect()
    };
    assert_eq!(counts("2026-02-01"), ["12", "11", "0", "0"], "{stdout}");

    // The report counts them per objective (as of the newest date) and shows why.
    let html_path = out.path().join("report.html");
    let report = okrflow(&[
        "report",
        "jobs/demo.toml",
        "--output",
        o,
        "--out",
        html_path.to_str().unwrap(),
    ]);
    assert!(
        report.status.success(),
        "{}",
        String::from_utf8_lossy(&report.stderr)
    );
    let html = std::fs::read_to_string(&html_path).unwrap();
    let last = day(
        out.path(),
        "objective_snapshots",
        "objective_id",
        "2026-02-05",
    );
    // the report is of FY27-Q1, the period of most key results
    for (id, row) in last.iter().filter(|(_, r)| r["period"] == "FY27-Q1") {
        let section = format!("data-objective=\"{id}\"");
        let at = html
            .find(&section)
            .unwrap_or_else(|| panic!("no section for {id}"));
        let tag = &html[at..at + html[at..].find('>').unwrap()];
        assert!(
            tag.contains(&format!("data-krs-no-data=\"{}\"", row["krs_no_data"])),
            "{id}: {tag}"
        );
    }
    let krs5 = day(out.path(), "kr_snapshots", "kr_id", "2026-02-05");
    let (id, row) = krs5
        .iter()
        .find(|(_, r)| r["status"] == "no_data")
        .expect("a key result still without data on 5 February");
    // as minijinja escapes it for HTML
    let escaped = row["note"]
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#x27;")
        .replace('/', "&#x2f;");
    assert!(
        html.contains(&escaped),
        "{id}'s note `{escaped}` is not in the report"
    );
    assert!(html.contains("no data yet</span>"), "no objective badge");
}

#[test]
fn a_broken_connection_on_the_same_days_still_exits_3() {
    let dir = tempfile::tempdir().unwrap();
    // The demo job, its Tallyfy folder holding a file that is not Parquet.
    let exports = dir.path().join("exports");
    std::fs::create_dir_all(&exports).unwrap();
    std::fs::write(exports.join("onb-01_01.parquet"), "not parquet").unwrap();
    let demo = std::fs::read_to_string(repo().join("jobs/demo.toml")).unwrap();
    let raw = repo().join("jobs/demo/raw");
    let checkins = repo().join("jobs/demo/checkins");
    let text = demo
        .replace(
            "url = \"demo/tallyfy/\"",
            &format!("url = \"{}\"", exports.display()),
        )
        .replace(
            "url = \"demo/checkins/\"",
            &format!("url = \"{}\"", checkins.display()),
        )
        .replace(
            "replay = \"demo/raw\"",
            &format!("replay = \"{}\"", raw.display()),
        );
    let job = dir.path().join("demo.toml");
    std::fs::write(&job, text).unwrap();
    let out = dir.path().join("out");
    let run = okrflow(&[
        "backfill",
        job.to_str().unwrap(),
        "--from",
        "2026-02-01",
        "--to",
        "2026-02-02",
        "--output",
        out.to_str().unwrap(),
        "-q",
    ]);
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert_eq!(run.status.code(), Some(3), "{stderr}");
    let krs = day(&out, "kr_snapshots", "kr_id", "2026-02-01");
    // The seven Tallyfy key results failed, naming the file; the others are as before.
    let failed: Vec<_> = krs
        .iter()
        .filter(|(_, r)| !r["error"].is_empty())
        .map(|(id, _)| id.as_str())
        .collect();
    assert_eq!(
        failed,
        [
            "C1-KR2", "O1-KR1", "O1-KR2", "O1-KR3", "O2-KR1", "O2-KR2", "O3-KR1"
        ]
    );
    assert!(
        krs["O1-KR1"]["error"].contains("onb-01_01.parquet"),
        "{:?}",
        krs["O1-KR1"]
    );
    assert_eq!(krs["O1-KR1"]["status"], "");
    assert_eq!(krs["O5-KR1"]["status"], "no_data");
    let runs = day(&out, "runs", "job", "2026-02-01");
    assert_eq!(number(&runs["demo"], "krs_failed"), 7.0);
}

#[test]
fn a_key_result_that_loses_its_data_is_no_data_with_the_date_of_its_last_value() {
    let dir = tempfile::tempdir().unwrap();
    // 5 up to 2 March, NULL from 3 March (as an epic renamed that day), two rows on 4 March.
    job_with(
        dir.path(),
        &format!(
            "[[objectives]]\nid = \"O\"\ntitle = \"o\"\nowner = \"o\"\nperiod = \"FY27-Q1\"\n\
             [[objectives.key_results]]\nid = \"K\"\ntitle = \"renamed\"\nmeasure = {{ kpi = {{ start = 0, target = 10 }} }}\n\
             source = {{ tallyfy = {{ sql = \"SELECT CAST(v AS DOUBLE) FROM (SELECT CASE WHEN $as_of < DATE '2026-03-03' THEN '5' END AS v) WHERE $as_of <> DATE '2026-03-04' UNION ALL SELECT 1 WHERE $as_of = DATE '2026-03-04' UNION ALL SELECT 2 WHERE $as_of = DATE '2026-03-04'\" }} }}\n"
        ),
    );
    let job = dir.path().join("job.toml");
    let out = dir.path().join("out");
    let run = |d: &str| {
        okrflow(&[
            "run",
            job.to_str().unwrap(),
            "--as-of",
            d,
            "--output",
            out.to_str().unwrap(),
            "--no-summary",
        ])
    };
    for d in ["2026-03-01", "2026-03-02"] {
        assert_eq!(run(d).status.code(), Some(0));
    }
    let lost = run("2026-03-03");
    let stderr = String::from_utf8_lossy(&lost.stderr);
    assert_eq!(lost.status.code(), Some(0), "{stderr}");
    assert!(
        stderr.contains("had a value until 2026-03-02 and has no data now"),
        "{stderr}"
    );
    let k = &day(&out, "kr_snapshots", "kr_id", "2026-03-03")["K"];
    assert_eq!(k["status"], "no_data");
    assert_eq!(k["value"], "");
    assert_eq!(k["stale"], "false");
    assert_eq!(k["last_value_on"], "2026-03-02");
    assert!(k["note"].contains("is NULL (no matching rows)"), "{k:?}");

    // A failure after a no_data day has no value to keep: failed, not stale.
    let failed = run("2026-03-04");
    assert_eq!(failed.status.code(), Some(3));
    let k = &day(&out, "kr_snapshots", "kr_id", "2026-03-04")["K"];
    assert!(k["error"].contains("query returned 2 rows"), "{k:?}");
    assert_eq!(k["value"], "");
    assert_eq!(k["stale"], "false");
    assert_eq!(k["status"], "");
}
