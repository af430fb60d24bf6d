//! Backfill and recompute, end to end: on the demo data, with the Looker and Jira contracts
//! served on loopback, and through the binary for a backfill that is killed half-way.

mod common;

use common::jira::{FakeJira, demo_site};
use common::looker::{FakeLooker, demo_instance};
use common::{date, demo_plan, number, partition_rows, repo};
use okrflow::backfill::{self, Mode, RangeOptions, Step};
use okrflow::model::Location;
use std::path::Path;
use std::process::Command;

/// Columns that differ between two runs of the same numbers.
const RUN_COLUMNS: &[&str] = &["run_id", "computed_at", "started_at", "finished_at"];

fn range(from: &str, to: &str, out: &Path, mode: Mode) -> RangeOptions {
    RangeOptions {
        mode,
        from: date(from),
        to: date(to),
        krs: Vec::new(),
        force: false,
        concurrency: 2,
        output: Some(Location::Local(out.to_path_buf())),
        stop: Default::default(),
    }
}

fn written(outcomes: &[backfill::DateOutcome]) -> usize {
    outcomes.iter().filter(|o| o.report.is_some()).count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backfill_gives_each_date_the_snapshot_a_run_of_that_date_gives() {
    let plan = demo_plan();
    let backfilled = tempfile::tempdir().unwrap();
    let options = range(
        "2026-03-01",
        "2026-03-30",
        backfilled.path(),
        Mode::Backfill,
    );
    let (dates, outcomes) = backfill::run(&plan, &options, &|_| {}).await.unwrap();
    assert_eq!(dates.len(), 30);
    assert_eq!(written(&outcomes), 30);
    for o in &outcomes {
        let report = o.report.as_ref().unwrap();
        assert!(report.failed.is_empty(), "{}: {:?}", o.date, report.failed);
    }

    // The same date run on its own gives the same rows: a run of 15 March into the
    // backfilled output (forecasts and guardrails' scores read the earlier dates, as a
    // nightly run would) rewrites 15 March with what the backfill wrote.
    let tables = [
        ("kr_snapshots", "kr_id"),
        ("objective_snapshots", "objective_id"),
    ];
    let part = |table: &str| backfilled.path().join(format!("{table}/as_of=2026-03-15"));
    let before: Vec<_> = tables
        .iter()
        .map(|(table, key)| partition_rows(&part(table), key, RUN_COLUMNS))
        .collect();
    common::run(&plan, "2026-03-15", backfilled.path()).await;
    for ((table, key), a) in tables.iter().zip(&before) {
        let b = partition_rows(&part(table), key, RUN_COLUMNS);
        assert_eq!(a.len(), if *key == "kr_id" { 23 } else { 10 });
        common::assert_same_rows(a, &b, &format!("{table} of 2026-03-15"));
    }

    // The numbers of 15 March, by hand from the sample data:
    let day = |d: &str| {
        partition_rows(
            &backfilled.path().join(format!("kr_snapshots/as_of={d}")),
            "kr_id",
            RUN_COLUMNS,
        )
    };
    let mar15 = day("2026-03-15");
    // Jira: bug n is filed on 1 Feb + 4n days and closed 9 days later, so 8 are closed by
    // 15 March (1 Feb + 41 days); of the 11 stories, only AE-1 (2 March) is done: 1 of 11;
    // its 3 points are done.
    assert_eq!(number(&mar15["O5-KR2"], "value"), 8.0);
    assert!((number(&mar15["O5-KR1"], "value") - 100.0 / 11.0).abs() < 1e-9);
    assert_eq!(number(&mar15["O5-KR3"], "value"), 3.0);
    // Looker: EMEA demos of February and March (7 + 12); March's payment success; the
    // week of 9 March's active teams.
    assert_eq!(number(&mar15["O4-KR1"], "value"), 19.0);
    assert!((number(&mar15["O4-KR2"], "value") - 98.71).abs() < 1e-9);
    assert_eq!(number(&mar15["O4-KR3"], "value"), 126.0);
    // Expected progress is linear over the quarter: 43 of its 89 days (1 Feb to 15 March,
    // both included) have passed.
    for kr in ["O4-KR1", "O5-KR2"] {
        assert!((number(&mar15[kr], "expected_progress") - 43.0 / 89.0).abs() < 1e-9);
    }
    // The curve moves with the dates: AE-2 is done on 16 March, AE-1 on 2 March.
    assert_eq!(number(&day("2026-03-01")["O5-KR1"], "value"), 0.0);
    assert!((number(&day("2026-03-16")["O5-KR1"], "value") - 200.0 / 11.0).abs() < 1e-9);
    assert!(
        number(&day("2026-03-01")["O5-KR1"], "expected_progress")
            < number(&day("2026-03-30")["O5-KR1"], "expected_progress")
    );

    // Run again, nothing is redone: every date is committed with the current definitions.
    let (dates, outcomes) = backfill::run(&plan, &options, &|_| {}).await.unwrap();
    assert_eq!(written(&outcomes), 0);
    assert!(
        dates
            .iter()
            .all(|d| d.step == Step::Skip("committed with the current definitions".into()))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_recompute_after_a_target_change_changes_progress_not_values_and_calls_no_api() {
    let looker = FakeLooker::start(demo_instance()).await;
    let jira = FakeJira::start(demo_site()).await;
    let out = tempfile::tempdir().unwrap();
    let before_plan = common::live_demo(demo_plan(), &looker, &jira);
    let (_, outcomes) = backfill::run(
        &before_plan,
        &range("2026-03-10", "2026-03-12", out.path(), Mode::Backfill),
        &|_| {},
    )
    .await
    .unwrap();
    assert_eq!(written(&outcomes), 3);
    let read = |d: &str| {
        partition_rows(
            &out.path().join(format!("kr_snapshots/as_of={d}")),
            "kr_id",
            RUN_COLUMNS,
        )
    };
    let before: Vec<_> = ["2026-03-10", "2026-03-11", "2026-03-12"]
        .iter()
        .map(|d| read(d))
        .collect();
    let (looker_requests, jira_requests) = (looker.log().len(), jira.server.rec.log().len());
    assert!(looker_requests > 0 && jira_requests > 0);

    // Double the targets of a Tallyfy and a Jira key result.
    let text = std::fs::read_to_string(repo().join("jobs/demo.toml")).unwrap();
    let changed = text
        .replacen(
            "measure = { kpi = { start = 0, target = 20 } }\ndue = 2026-04-15",
            "measure = { kpi = { start = 0, target = 40 } }\ndue = 2026-04-15",
            1,
        )
        .replacen(
            "title = \"Close 20 payment bugs\"\nowner = \"kim\"\nmeasure = { kpi = { start = 0, target = 20 } }",
            "title = \"Close 20 payment bugs\"\nowner = \"kim\"\nmeasure = { kpi = { start = 0, target = 40 } }",
            1,
        );
    assert_eq!(changed.matches("target = 40").count(), 2);
    let after_plan = common::live_demo(
        okrflow::job::parse(&repo().join("jobs/demo.toml"), &changed).unwrap(),
        &looker,
        &jira,
    );
    let options = range("2026-03-10", "2026-03-12", out.path(), Mode::Recompute);
    let (_, outcomes) = backfill::run(&after_plan, &options, &|_| {}).await.unwrap();
    assert_eq!(written(&outcomes), 3);
    // Nothing was asked of Looker or Jira: the values came from each date's raw archive.
    assert_eq!(looker.log().len(), looker_requests);
    assert_eq!(jira.server.rec.log().len(), jira_requests);

    for (i, d) in ["2026-03-10", "2026-03-11", "2026-03-12"]
        .iter()
        .enumerate()
    {
        let after = read(d);
        assert_eq!(after.len(), before[i].len());
        for (kr, row) in &after {
            let old = &before[i][kr];
            if row["measure_kind"] == "aligned" {
                // C1-KR1 is measured by O1, whose O1-KR1 now has half the progress; C2-KR3 by
                // O5, whose O5-KR2 has too. C2-KR2 (O4, O7) is unchanged.
                if kr == "C2-KR2" {
                    assert_eq!(row["value"], old["value"], "{d} {kr}");
                } else {
                    assert!(number(row, "value") < number(old, "value"), "{d} {kr}");
                }
                continue;
            }
            assert_eq!(
                row["value"], old["value"],
                "{d} {kr}: the value must not change ({})",
                row["error"]
            );
            if kr == "O1-KR1" || kr == "O5-KR2" {
                // start 0: progress is value ÷ target, so doubling the target halves it.
                assert!(number(old, "progress") > 0.0, "{d} {kr}");
                assert!(
                    (number(row, "progress") - number(old, "progress") / 2.0).abs() < 1e-9,
                    "{d} {kr}"
                );
                assert_eq!(row["target_value"], "40.0");
                assert_ne!(row["kr_definition_hash"], old["kr_definition_hash"]);
            } else {
                assert_eq!(row["progress"], old["progress"], "{d} {kr}");
                assert_eq!(
                    row["kr_definition_hash"], old["kr_definition_hash"],
                    "{d} {kr}"
                );
            }
            assert_ne!(row["definition_hash"], old["definition_hash"]);
            assert!(row["kr_definition"].contains(&format!("id = \"{kr}\"")));
        }
    }
    // A recompute without changes has nothing to do; a date never run is not invented.
    let (dates, outcomes) = backfill::run(
        &after_plan,
        &range("2026-03-09", "2026-03-12", out.path(), Mode::Recompute),
        &|_| {},
    )
    .await
    .unwrap();
    assert_eq!(written(&outcomes), 0);
    assert_eq!(
        dates[0].step,
        Step::Skip("no committed run to recompute".into())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backfill_of_one_key_result_keeps_the_others_values() {
    let plan = demo_plan();
    let out = tempfile::tempdir().unwrap();
    common::run(&plan, "2026-03-20", out.path()).await;
    let part = out.path().join("kr_snapshots/as_of=2026-03-20");
    let before = partition_rows(&part, "kr_id", RUN_COLUMNS);
    let mut options = range("2026-03-20", "2026-03-20", out.path(), Mode::Backfill);
    options.krs = vec!["O5-KR2".into()];
    // Committed with the current definitions: skipped, unless forced.
    let (dates, _) = backfill::run(&plan, &options, &|_| {}).await.unwrap();
    assert!(matches!(dates[0].step, Step::Skip(_)));
    options.force = true;
    let (dates, outcomes) = backfill::run(&plan, &options, &|_| {}).await.unwrap();
    let Step::Run { fetch, keep } = &dates[0].step else {
        panic!("{:?}", dates[0].step)
    };
    assert_eq!(fetch, &vec!["O5-KR2".to_string()]);
    assert_eq!(
        keep.len(),
        18,
        "every other key result with a source: {keep:?}"
    );
    assert_eq!(written(&outcomes), 1);
    let after = partition_rows(&part, "kr_id", RUN_COLUMNS);
    common::assert_same_rows(&after, &before, "2026-03-20 before and after");

    let unknown = RangeOptions {
        krs: vec!["NOPE".into()],
        ..options.clone()
    };
    let e = backfill::run(&plan, &unknown, &|_| {}).await.unwrap_err();
    assert!(e.to_string().contains("unknown key result `NOPE`"), "{e}");
}

#[test]
fn a_killed_backfill_resumes_after_the_dates_it_committed() {
    let out = tempfile::tempdir().unwrap();
    let backfill = |extra: &[&str]| {
        let mut c = Command::new(env!("CARGO_BIN_EXE_okrflow"));
        c.current_dir(repo())
            .args([
                "backfill",
                "jobs/demo.toml",
                "--from",
                "2026-03-01",
                "--to",
                "2026-03-10",
            ])
            .args([
                "--output",
                out.path().to_str().unwrap(),
                "--concurrency",
                "1",
                "-q",
            ])
            .args(extra);
        c
    };
    // --dry-run says what it would do and writes nothing.
    let dry = backfill(&["--dry-run"]).output().unwrap();
    assert!(dry.status.success());
    let text = String::from_utf8_lossy(&dry.stdout);
    assert_eq!(text.matches("fetch 19 key result(s)").count(), 10, "{text}");
    assert!(text.contains("kr_snapshots/as_of=2026-03-04/"), "{text}");
    assert!(!out.path().join("runs").exists());

    let mut child = backfill(&[]).spawn().unwrap();
    let runs = out.path().join("runs");
    let started = std::time::Instant::now();
    while !runs.join("as_of=2026-03-03").exists() {
        assert!(
            started.elapsed().as_secs() < 120,
            "no third date after 2 minutes"
        );
        assert!(
            child.try_wait().unwrap().is_none(),
            "the backfill ended early"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let committed = common::files(&runs);
    assert!(
        committed.len() >= 3 && committed.len() < 10,
        "{committed:?}"
    );
    let run_of = |d: &str| {
        partition_rows(&runs.join(d), "run_id", &[])
            .into_values()
            .next()
            .unwrap()["run_id"]
            .clone()
    };
    let first_ids: Vec<String> = committed.iter().map(|d| run_of(d)).collect();
    assert!(
        out.path().join("_okrflow/lock.json").exists(),
        "the killed run's lock is left"
    );

    // The same command again: the dead run's lock is taken over, committed dates are
    // skipped, the rest written.
    let resumed = backfill(&[]).output().unwrap();
    let stdout = String::from_utf8_lossy(&resumed.stdout);
    assert_eq!(
        resumed.status.code(),
        Some(0),
        "{stdout}{}",
        String::from_utf8_lossy(&resumed.stderr)
    );
    assert_eq!(
        stdout.matches("skipped: committed").count(),
        committed.len(),
        "{stdout}"
    );
    assert_eq!(
        stdout.matches("written").count(),
        10 - committed.len(),
        "{stdout}"
    );
    assert_eq!(common::files(&runs).len(), 10);
    for (d, id) in committed.iter().zip(&first_ids) {
        assert_eq!(
            &run_of(d),
            id,
            "{d} was committed before the kill and is kept"
        );
    }
    for d in common::files(&out.path().join("kr_snapshots")) {
        let rows = partition_rows(&out.path().join("kr_snapshots").join(&d), "kr_id", &[]);
        assert_eq!(rows.len(), 23, "{d}");
        let run = run_of(&d);
        assert!(rows.values().all(|r| r["run_id"] == run), "{d} mixes runs");
    }
    let lock: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.path().join("_okrflow/lock.json")).unwrap())
            .unwrap();
    assert_eq!(
        lock["released"], true,
        "released by the resumed backfill: {lock}"
    );
    assert_eq!(lock["epoch"], 2, "the dead run's lock taken over: {lock}");
}

/// A Looker result without a time x-axis cannot say what an earlier day was: a backfill says
/// so, unless that day's raw archive (fetched on that day) holds the result.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_looker_result_without_time_axis_is_read_from_that_days_archive_or_not_reconstructed() {
    use serde_json::json;
    let mut instance = demo_instance();
    instance
        .looks
        .push(json!({"id": "43", "title": "Open deals by team", "query_id": "105"}));
    instance.queries.insert(
        "105".into(),
        common::looker::query("105", &["users.team", "deals.open"], &[]),
    );
    instance.results.insert(
        "105".into(),
        common::looker::detail(
            &[("users.team", false)],
            &["deals.open"],
            None,
            &[(&["EMEA"], &[json!(9)]), (&["US"], &[json!(5)])],
        ),
    );
    let looker = FakeLooker::start(instance).await;
    let dir = tempfile::tempdir().unwrap();
    let job = dir.path().join("job.toml");
    std::fs::write(
        &job,
        format!(
            "[job]\nname = \"t\"\nfiscal_year_start_month = 2\n[output]\nurl = \"out\"\n\
             [connections.lk]\nkind = \"looker\"\nbase_url = \"{}\"\n\
             client_id_env = \"BF_LOOKER_ID\"\nclient_secret_env = \"BF_LOOKER_SECRET\"\n\
             [[objectives]]\nid = \"O\"\ntitle = \"Sell\"\nperiod = \"FY27-Q1\"\n\
             [[objectives.key_results]]\nid = \"KR-TEAM\"\ntitle = \"EMEA open deals\"\n\
             measure = {{ kpi = {{ start = 0, target = 10 }} }}\n\
             source = {{ looker = {{ look = \"Open deals by team\", x = \"all\", filter = {{ \"users.team\" = \"EMEA\" }} }} }}\n\
             [[objectives.key_results]]\nid = \"KR-WEEK\"\ntitle = \"Active teams\"\n\
             measure = {{ kpi = {{ start = 120, target = 200 }} }}\n\
             source = {{ looker = {{ look = \"Weekly active teams\" }} }}\n",
            looker.url()
        ),
    )
    .unwrap();
    // SAFETY: variables only this suite sets, to the fake servers' credentials.
    unsafe {
        std::env::set_var("BF_LOOKER_ID", "demo-client");
        std::env::set_var("BF_LOOKER_SECRET", "demo-secret");
    }
    let plan = okrflow::job::load(&job).unwrap();
    let out = dir.path().join("out");
    let (_, outcomes) = backfill::run(
        &plan,
        &range("2026-03-10", "2026-03-10", &out, Mode::Backfill),
        &|_| {},
    )
    .await
    .unwrap();
    let failed = &outcomes[0].report.as_ref().unwrap().failed;
    assert_eq!(failed.len(), 1, "{failed:?}");
    assert_eq!(failed[0].0, "KR-TEAM");
    assert!(
        failed[0].1.contains("not reconstructible for 2026-03-10"),
        "{}",
        failed[0].1
    );
    let mar10 = partition_rows(&out.join("kr_snapshots/as_of=2026-03-10"), "kr_id", &[]);
    assert_eq!(
        number(&mar10["KR-WEEK"], "value"),
        126.0,
        "the week of 9 March"
    );

    // The nightly run of 11 March archived what Looker said that day: EMEA had 4 open deals.
    let from = out.join("raw/as_of=2026-03-10/lk");
    let to = out.join("raw/as_of=2026-03-11/lk");
    std::fs::create_dir_all(&to).unwrap();
    for name in common::files(&from) {
        let mut archived: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(from.join(&name)).unwrap()).unwrap();
        archived["fetched_at"] = json!("2026-03-11T02:00:00Z");
        if archived["path"] == "/api/4.0/looks/43/run/json_detail" {
            archived["body"]["data"][0]["deals.open"]["value"] = json!(4);
        }
        std::fs::write(to.join(&name), archived.to_string()).unwrap();
    }
    let runs_before = looker.count("GET /api/4.0/looks/43/run");
    let (_, outcomes) = backfill::run(
        &plan,
        &range("2026-03-11", "2026-03-11", &out, Mode::Backfill),
        &|_| {},
    )
    .await
    .unwrap();
    let failed = &outcomes[0].report.as_ref().unwrap().failed;
    assert!(failed.is_empty(), "{failed:?}");
    let mar11 = partition_rows(&out.join("kr_snapshots/as_of=2026-03-11"), "kr_id", &[]);
    assert_eq!(
        number(&mar11["KR-TEAM"], "value"),
        4.0,
        "the value of that day"
    );
    assert_eq!(looker.count("GET /api/4.0/looks/43/run"), runs_before);
}

/// A backfill extracting several dates at once still keeps each connection within its own
/// `concurrency`: the dates share the connection's request slots.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connections_concurrency_holds_across_the_dates_a_backfill_extracts_at_once() {
    let looker = FakeLooker::start(demo_instance()).await;
    let jira = FakeJira::start(demo_site()).await;
    *jira.server.rec.latency.lock().unwrap() = std::time::Duration::from_millis(40);
    let mut plan = common::live_demo(demo_plan(), &looker, &jira);
    for connection in plan.connections.values_mut() {
        if let okrflow::job::Connection::Jira(s) = connection {
            s.http.concurrency = 2;
        }
    }
    let out = tempfile::tempdir().unwrap();
    let mut options = range("2026-03-01", "2026-03-06", out.path(), Mode::Backfill);
    options.concurrency = 6;
    let (_, outcomes) = backfill::run(&plan, &options, &|_| {}).await.unwrap();
    assert_eq!(written(&outcomes), 6);
    // Six dates at once, each with more than two Jira searches to send.
    assert!(
        jira.server.rec.log().len() >= 12,
        "{:#?}",
        jira.server.rec.log()
    );
    assert_eq!(jira.server.rec.max_in_flight(), 2);
}
