//! The demo job end to end on the bundled sample exports. Every expected number below was
//! worked out by hand from the process table in `src/demo_data/organisation.rs` (and
//! cross-checked with DuckDB over the same files: bench/tallyfy_duckdb.py).

mod common;
use common::*;
use datafusion::arrow::datatypes::{DataType, TimeUnit as ArrowTimeUnit};
use datafusion::parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use datafusion::parquet::basic::Compression;
use datafusion::parquet::file::reader::{FileReader, SerializedFileReader};

#[tokio::test]
async fn a_closed_quarter_is_scored_on_its_last_day() {
    let out = tempfile::tempdir().unwrap();
    let report = run(&demo_plan(), "2026-11-23", out.path()).await;
    assert!(report.failed.is_empty(), "{:?}", report.failed);

    // 9 onboardings done in Feb–Apr: onb-05..09 and onb-11..14 (onb-10 was reopened,
    // onb-17 finished on 2 May). Due 15 April and not done: 15 days late = 3 started weeks,
    // so the score is 0.45 - 3 × 0.10.
    let k = kr(&report, "O1-KR1");
    close(k.value, 9.0);
    close(k.progress, 0.45);
    close(k.expected, 1.0);
    close(k.score, 0.15);
    // The quarter is over: the status is final, and the target was not reached.
    assert_eq!(k.status.as_deref(), Some("missed"));

    // 52 shown onboarding tasks completed in the quarter, 5 of them after their deadline
    // (onb-07 tasks 2 and 4, onb-10 tasks 1 and 3, onb-12 task 5): 47 / 52.
    let k = kr(&report, "O1-KR2");
    close(k.value, 100.0 * 47.0 / 52.0);
    close(k.progress, (100.0 * 47.0 / 52.0 - 80.0) / 15.0);

    // Durations of the nine: 10, 10, 10, 11, 12, 13, 15, 15, 17 days → median 12;
    // from 20 towards 10 that is 80 %, 20 points under expected: behind.
    let k = kr(&report, "O1-KR3");
    close(k.value, 12.0);
    close(k.progress, 0.8);
    assert_eq!(k.status.as_deref(), Some("missed"));

    // Open issues: onb-10 3 reported 1 resolved, onb-12 1/0, onb-15 2/0 (onb-03 and onb-07
    // resolved theirs) = 5; from 8 towards 0.
    let k = kr(&report, "O2-KR1");
    close(k.value, 5.0);
    close(k.progress, 0.375);

    // Satisfaction answers of the nine: 8 9 6 7 10 8 n/a 9 7 → the eight numbers average 8.
    close(kr(&report, "O2-KR2").value, 8.0);
    close(kr(&report, "O2-KR2").progress, 0.5);

    // Rollout: milestones 1–3 done by 30 April (the fourth on 8 May) → 60 %.
    close(kr(&report, "O3-KR1").value, 3.0);
    close(kr(&report, "O3-KR1").progress, 0.6);

    // Vendor reviews started in the quarter: 5, of which 4 complete.
    close(kr(&report, "C1-KR2").value, 80.0);
    assert_eq!(kr(&report, "C1-KR2").status.as_deref(), Some("missed"));

    // Roll-ups: O1 = mean(0.45, 0.6923, 0.8); O2 = mean(0.375, 0.5); C1-KR1 weighs O1 1.0,
    // O2 0.5 and O3 0.0; C1 = mean(C1-KR1, C1-KR2).
    let o1 = (0.45 + (100.0 * 47.0 / 52.0 - 80.0) / 15.0 + 0.8) / 3.0;
    close(objective(&report, "O1").progress, o1);
    close(
        objective(&report, "O1").score,
        (0.15 + (100.0 * 47.0 / 52.0 - 80.0) / 15.0 + 0.8) / 3.0,
    );
    close(objective(&report, "O2").progress, 0.4375);
    close(objective(&report, "O3").progress, 0.6);
    let c1_kr1 = (1.0 * o1 + 0.5 * 0.4375) / 1.5;
    close(kr(&report, "C1-KR1").progress, c1_kr1);
    close(kr(&report, "C1-KR1").value, 100.0 * c1_kr1);
    close(objective(&report, "C1").progress, (c1_kr1 + 0.8) / 2.0);
    assert_eq!(objective(&report, "C1").status.as_deref(), Some("missed"));

    // Looker, from the bundled archive (jobs/demo/raw/): EMEA demos 7 + 12 + 5 = 24 of
    // 50; April's payment success 0.9893 → 98.93 %, from 98 towards 99.5 = 0.62; the newest
    // week's 152 active teams, from 120 towards 200 = 0.4.
    close(kr(&report, "O4-KR1").value, 24.0);
    close(kr(&report, "O4-KR1").progress, 0.48);
    close(kr(&report, "O4-KR2").value, 98.93);
    close(kr(&report, "O4-KR2").progress, 0.62);
    close(kr(&report, "O4-KR3").value, 152.0);
    close(kr(&report, "O4-KR3").progress, 0.4);
    close(objective(&report, "O4").progress, (0.48 + 0.62 + 0.4) / 3.0);
    // Jira, from the same archive: 3 of 11 AE-786 stories done; 14 bugs closed of the goal's
    // 20; 3 + 5 + 2 story points done of 30.
    close(kr(&report, "O5-KR1").value, 100.0 * 3.0 / 11.0);
    close(kr(&report, "O5-KR1").progress, 3.0 / 11.0);
    close(kr(&report, "O5-KR2").value, 14.0);
    close(kr(&report, "O5-KR2").progress, 0.7);
    close(kr(&report, "O5-KR3").value, 10.0);
    close(kr(&report, "O5-KR3").progress, 1.0 / 3.0);
    // Each API value can be traced to what the API said: the responses used are archived.
    let raw = out.path().join("raw/as_of=2026-11-23");
    assert_eq!(files(&raw.join("looker_demo")).len(), 6);
    // Jira: the field list, then 3 pages of AE-786's 11 issues and 4 of the 18 bugs (pages of
    // 5). The quarter is over, so even the bug count is read from the issues' dates, not
    // counted by one request.
    assert_eq!(
        files(&raw.join("jira_demo")).len(),
        8,
        "{:?}",
        files(&raw.join("jira_demo"))
    );
}

#[tokio::test]
async fn mid_quarter_uses_the_snapshots_of_that_day_and_linear_expectation() {
    let out = tempfile::tempdir().unwrap();
    let report = run(&demo_plan(), "2026-03-15", out.path()).await;
    // By the end of 15 March: onb-05, 06, 07, 08, 09 are done (onb-11 finishes on the 19th).
    let k = kr(&report, "O1-KR1");
    close(k.value, 5.0);
    // 43 of the 74 days from 1 February to the 15 April due date have passed.
    close(k.expected, 43.0 / 74.0);
    assert_eq!(k.status.as_deref(), Some("at_risk")); // 0.25 vs 0.58
    // 43 of the quarter's 89 days.
    close(kr(&report, "O1-KR3").expected, 43.0 / 89.0);
    // ven-01 and ven-02 are done; ven-03 (started 10 March) is still running.
    close(kr(&report, "C1-KR2").value, 200.0 / 3.0);
    // Nothing is final yet: quarter scores are projections.
    let q = &report.tables["quarter_scores"];
    let finals = q
        .iter()
        .map(|b| {
            b.column_by_name("final")
                .unwrap()
                .as_any()
                .downcast_ref::<datafusion::arrow::array::BooleanArray>()
                .unwrap()
                .true_count()
        })
        .sum::<usize>();
    assert_eq!(finals, 0);
}

#[tokio::test]
async fn rerunning_a_date_replaces_its_partitions() {
    let out = tempfile::tempdir().unwrap();
    let plan = demo_plan();
    let first = run(&plan, "2026-04-10", out.path()).await;
    let second = run(&plan, "2026-04-10", out.path()).await;
    assert_ne!(first.run_id, second.run_id);
    for table in [
        "kr_snapshots",
        "objective_snapshots",
        "quarter_scores",
        "runs",
    ] {
        let dir = out.path().join(table).join("as_of=2026-04-10");
        assert_eq!(
            files(&dir),
            [format!("part-{}.parquet", second.run_id)],
            "{table}"
        );
    }
    // Only the partition folders and the (empty) staging area are left.
    assert_eq!(
        files(out.path()),
        [
            "_okrflow",
            "kr_snapshots",
            "objective_snapshots",
            "quarter_scores",
            "raw",
            "runs"
        ]
    );
    assert!(files(&out.path().join("_okrflow/staging")).is_empty());
}

#[tokio::test]
async fn output_files_are_athena_safe() {
    let out = tempfile::tempdir().unwrap();
    let report = run(&demo_plan(), "2026-11-23", out.path()).await;
    let file = out
        .path()
        .join("kr_snapshots/as_of=2026-11-23")
        .join(format!("part-{}.parquet", report.run_id));
    let reader = SerializedFileReader::new(std::fs::File::open(&file).unwrap()).unwrap();
    let meta = reader.metadata();
    assert_eq!(meta.file_metadata().num_rows(), 23);
    let schema = meta.file_metadata().schema_descr();
    let names: Vec<String> = schema
        .columns()
        .iter()
        .map(|c| c.name().to_string())
        .collect();
    assert!(
        !names.contains(&"as_of".to_string()),
        "the partition column stays out of the file"
    );
    for name in &names {
        assert_eq!(name, &name.to_lowercase());
    }
    for expected in [
        "run_id",
        "period",
        "objective_id",
        "kr_id",
        "kr_title",
        "owner",
        "source_kind",
        "connection",
        "value",
        "start_value",
        "target_value",
        "attainment",
        "progress",
        "expected_progress",
        "status",
        "score",
        "stale",
        "error",
        "computed_at",
    ] {
        assert!(
            names.iter().any(|n| n == expected),
            "missing column {expected}"
        );
    }
    // Read back as Arrow from the Parquet types alone (no embedded Arrow schema).
    let arrow = ParquetRecordBatchReaderBuilder::try_new(std::fs::File::open(&file).unwrap())
        .unwrap()
        .schema()
        .clone();
    for f in arrow.fields() {
        let ok = matches!(
            f.data_type(),
            DataType::Utf8
                | DataType::Float64
                | DataType::Int64
                | DataType::Boolean
                | DataType::Date32
                | DataType::Timestamp(ArrowTimeUnit::Millisecond, None)
        );
        assert!(ok, "{} has type {}", f.name(), f.data_type());
    }
    assert_eq!(
        arrow.field_with_name("computed_at").unwrap().data_type(),
        &DataType::Timestamp(ArrowTimeUnit::Millisecond, None)
    );
    assert_eq!(
        arrow.field_with_name("value").unwrap().data_type(),
        &DataType::Float64
    );
    assert_eq!(
        arrow.field_with_name("due").unwrap().data_type(),
        &DataType::Date32
    );
    for rg in meta.row_groups() {
        for col in rg.columns() {
            assert_eq!(col.compression(), Compression::SNAPPY);
        }
    }
    assert!(
        meta.file_metadata()
            .key_value_metadata()
            .is_none_or(|kv| kv.iter().all(|k| k.key != "ARROW:schema"))
    );
}

/// On the period's last day the statuses are still the running ones; the day after, final
/// (done or missed), and every display says the period is closed.
#[test]
fn a_closed_period_says_so_and_its_statuses_are_final() {
    let out = tempfile::tempdir().unwrap();
    let o = out.path().to_str().unwrap();
    let run = |d: &str| {
        std::process::Command::new(env!("CARGO_BIN_EXE_okrflow"))
            .current_dir(repo())
            .args(["run", "jobs/demo.toml", "--as-of", d, "--output", o])
            .output()
            .unwrap()
    };
    let last_day = run("2026-04-30");
    let text = String::from_utf8_lossy(&last_day.stdout);
    assert!(last_day.status.success(), "{text}");
    assert!(!text.contains("closed"), "{text}");
    let row = |d: &str, id: &str| {
        partition_rows(
            &out.path().join(format!("kr_snapshots/as_of={d}")),
            "kr_id",
            &[],
        )[id]["status"]
            .clone()
    };
    assert_eq!(row("2026-04-30", "O1-KR1"), "at_risk");
    let after = run("2026-12-01");
    let (text, log) = (
        String::from_utf8_lossy(&after.stdout),
        String::from_utf8_lossy(&after.stderr),
    );
    assert!(
        text.contains("FY27-Q1 closed — final, as of 2026-04-30"),
        "{text}"
    );
    assert!(
        log.contains(
            " as_of=2026-12-01 closed=\"FY27-Q1 closed — final, as of 2026-04-30; \
             amer_launch closed — final, as of 2026-04-30\""
        ) && log.contains("run finished job=demo job_file="),
        "{log}"
    );
    // stderr is a pipe here, not a terminal: no colour codes in the log
    assert!(!log.contains('\u{1b}'), "{log}");
    // the same numbers, a final status: 9 of 20 onboardings is missed, 4 of 5 reviews too
    assert_eq!(row("2026-12-01", "O1-KR1"), "missed");
    assert_eq!(row("2026-12-01", "C1-KR2"), "missed");
    let preview = preview("O1-KR1", "2026-12-01");
    let text = String::from_utf8_lossy(&preview.stdout);
    assert!(
        text.contains("FY27-Q1 closed — final, as of 2026-04-30"),
        "{text}"
    );
    // and the rows the count came from: 9 onboardings
    assert!(text.contains("9 row(s) aggregated"), "{text}");
    assert!(text.contains("value: 9"), "{text}");
}

/// `okrflow preview jobs/demo.toml --kr ID --as-of DATE`, from the repository's root.
fn preview(id: &str, as_of: &str) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_okrflow"))
        .current_dir(repo())
        .args(["preview", "jobs/demo.toml", "--kr", id, "--as-of", as_of])
        .output()
        .unwrap()
}

/// `preview` of every key result with a source works from the demo's archives, as `run`
/// computes it: a Jira key result sharing its JQL with another (O5-KR1 with O5-KR3) asks
/// for the fields the run's shared search asked for, so the archive answers it.
#[test]
fn every_key_result_of_the_demo_previews_from_its_archive() {
    let plan = demo_plan();
    let ids: Vec<&str> = plan
        .key_results
        .iter()
        .filter(|k| k.source.is_some())
        .map(|k| k.id.as_str())
        .collect();
    assert!(ids.contains(&"O5-KR1") && ids.len() > 10, "{ids:?}");
    for id in ids {
        let preview = preview(id, "2026-12-01");
        let (stdout, stderr) = (
            String::from_utf8_lossy(&preview.stdout),
            String::from_utf8_lossy(&preview.stderr),
        );
        assert_eq!(preview.status.code(), Some(0), "{id}: {stdout}\n{stderr}");
        assert!(
            !stdout.contains("not in the replay archive"),
            "{id}: {stdout}"
        );
    }
}

/// The demo's check-ins (jobs/demo/checkins/): a milestone key result measured by its owner,
/// health on a Tallyfy, a Looker and a Jira key result (the Jira one overdue), and an
/// objective that takes its weakest key result's status.
#[tokio::test]
async fn the_demo_check_ins_give_values_health_and_the_weakest_kr_status() {
    let out = tempfile::tempdir().unwrap();
    let plan = demo_plan();
    // Mid-March: O6-KR1 has reached "Present plan" (20 March) — milestone 2, progress 0.4;
    // O6-KR2's newest value on 25 March is the backdated 12 March row (50), entered later in
    // 2026-04.csv, not the 2 March one (40).
    let march = run(&plan, "2026-03-25", out.path()).await;
    assert!(march.failed.is_empty(), "{:?}", march.failed);
    close(kr(&march, "O6-KR1").value, 2.0);
    close(kr(&march, "O6-KR1").progress, 0.4);
    close(kr(&march, "O6-KR2").value, 50.0);
    // Expected on 25 March: 53 of 89 days. O6-KR1 at 0.4 is behind (−0.196), O6-KR2 at 0.5
    // behind too; weakest_kr: behind.
    close(kr(&march, "O6-KR1").expected, 53.0 / 89.0);
    assert_eq!(objective(&march, "O6").status.as_deref(), Some("behind"));
    let health = |r: &okrflow::pipeline::RunReport, id: &str| {
        let row = kr(r, id);
        (row.health, row.health_overdue)
    };
    // 25 March: O4-KR1's health (27 Feb, needs_attention) is 26 days old; O5-KR1's at_risk
    // of 10 March is 15 days old.
    assert_eq!(
        health(&march, "O4-KR1"),
        (Some("needs_attention".into()), false)
    );
    assert_eq!(health(&march, "O5-KR1"), (Some("at_risk".into()), false));
    // The guardrail O6-KR3, eNPS at or above 30: 31 since 16 March holds, so it is on track
    // (never `done` while the quarter runs), held on its one snapshot date so far.
    let guard = kr(&march, "O6-KR3");
    assert_eq!(guard.status.as_deref(), Some("on_track"));
    close(guard.value, 31.0);
    close(guard.progress, 1.0);
    close(guard.expected, 1.0);
    close(guard.score, 1.0);
    // 10 April: 28 since 6 April does not hold: at risk, and O6 with it (its weakest key
    // result); held on 1 of its 2 snapshot dates (25 March, 10 April).
    let april = run(&plan, "2026-04-10", out.path()).await;
    let guard = kr(&april, "O6-KR3");
    assert_eq!(guard.status.as_deref(), Some("at_risk"));
    close(guard.progress, 0.0);
    close(guard.score, 0.5);
    assert_eq!(objective(&april, "O6").status.as_deref(), Some("at_risk"));

    // The quarter closed on 30 April: the final state.
    let report = run(&plan, "2026-11-23", out.path()).await;
    assert!(report.failed.is_empty(), "{:?}", report.failed);
    // "Sign-off" reached on 28 April: milestone 3, progress 0.6; the bands at 85 of 100.
    close(kr(&report, "O6-KR1").value, 3.0);
    close(kr(&report, "O6-KR1").progress, 0.6);
    close(kr(&report, "O6-KR2").value, 85.0);
    // The guardrail held on the quarter's last day (32 since 27 April): done; its score stays
    // the share of its snapshot dates in the quarter it held, 1 of 2.
    let guard = kr(&report, "O6-KR3");
    assert_eq!(guard.status.as_deref(), Some("done"));
    close(guard.score, 0.5);
    // Tallyfy O1-KR1: on_track on 2 April; Looker O4-KR1: at_risk on 6 April; Jira O5-KR1:
    // at_risk on 10 March, 51 days before 30 April: overdue.
    assert_eq!(health(&report, "O1-KR1"), (Some("on_track".into()), false));
    assert_eq!(health(&report, "O4-KR1"), (Some("at_risk".into()), false));
    assert_eq!(health(&report, "O5-KR1"), (Some("at_risk".into()), true));
    // The computed status stays the numbers': O1-KR1 missed its target.
    assert_eq!(kr(&report, "O1-KR1").status.as_deref(), Some("missed"));
    // O6: needs_attention (O6-KR1, 28 April) is worse than on_track (O6-KR2, 24 April).
    assert_eq!(
        objective(&report, "O6").health.as_deref(),
        Some("needs_attention")
    );
    assert_eq!(objective(&report, "O5").health.as_deref(), Some("at_risk"));
    assert_eq!(objective(&report, "O2").health, None);
    // Priya's grade of the bands (2026-05.csv, 6 May: within 30 days of the quarter's end)
    // sits beside the computed score: 0.9 against 0.85 of the target.
    let graded = common::partition_rows(
        &out.path().join("kr_snapshots/as_of=2026-11-23"),
        "kr_id",
        &[],
    );
    assert_eq!(graded["O6-KR2"]["graded_score"], "0.9");
    assert_eq!(graded["O6-KR2"]["graded_by"], "priya");
    close(kr(&report, "O6-KR2").score, 0.85);
    assert_eq!(graded["O6-KR1"]["graded_score"], "");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_year_launch_roll_up_phases_and_offset() {
    let plan = demo_plan();
    let out = tempfile::tempdir().unwrap();
    // 25 March. O7-KR1 starts on 1 March: 25 of its 61 days to 30 April; 8 demos by 15 March.
    let march = run(&plan, "2026-03-25", out.path()).await;
    assert!(march.failed.is_empty(), "{:?}", march.failed);
    close(kr(&march, "O7-KR1").expected, 25.0 / 61.0);
    close(kr(&march, "O7-KR1").value, 8.0);
    // O7-KR2, phased over the launch (from 15 Feb): at the end of 25 March, 25 of the 31 days
    // from (end of 28 Feb, $20k) to (end of 31 Mar, $100k): 20 + 80 × 25/31 of 200 planned.
    close(
        kr(&march, "O7-KR2").expected,
        (20.0 + 80.0 * 25.0 / 31.0) / 200.0,
    );
    // Ten days' offset: the value as of 15 March is the 10 March booking, $40k.
    close(kr(&march, "O7-KR2").value, 40.0);
    // The year's demos: EMEA's February and March (7 + 12) and AMER's 8; the year's expected
    // progress on 25 March is 28 + 25 = 53 of 365 days.
    close(kr(&march, "O4-KR1").value, 19.0);
    close(kr(&march, "C2-KR1").value, 27.0);
    close(kr(&march, "C2-KR1").expected, 53.0 / 365.0);

    // 23 November: the quarter and the launch are closed, the year runs (296 of 365 days).
    let report = run(&plan, "2026-11-23", out.path()).await;
    assert!(report.failed.is_empty(), "{:?}", report.failed);
    close(kr(&report, "C2-KR1").value, 24.0 + 19.0);
    close(kr(&report, "C2-KR1").expected, 296.0 / 365.0);
    // Evaluated on 30 April, less ten days: the 15 April booking ($90k); the 25 April one had
    // not settled.
    close(kr(&report, "O7-KR2").value, 90.0);
    let krs = partition_rows(
        &out.path().join("kr_snapshots/as_of=2026-11-23"),
        "kr_id",
        &[],
    );
    assert_eq!(krs["O7-KR2"]["value_as_of"], "2026-04-20");
    assert_eq!(krs["O7-KR2"]["period"], "amer_launch");
    assert_eq!(krs["C2-KR1"]["period"], "FY27");
    // C3-KR1 is computed in Athena: the bundled archive's answer, 10 onboardings of 30, with
    // its query named; the run archives the answer with its own raw responses.
    close(kr(&report, "C3-KR1").value, 10.0);
    assert!(
        krs["C3-KR1"]["note"].starts_with(
            "Athena query 5b2f0c1e-7d4a-4c8e-9a61-3f0e2b9d7c10: 1843221 bytes scanned"
        ),
        "{}",
        krs["C3-KR1"]["note"]
    );
    assert!(
        out.path()
            .join("raw/as_of=2026-11-23/lake/athena-fd2044a6dd3f3c3e.json")
            .is_file()
    );
    // O4 has two parents: C2-KR2 counts it ×1 beside O7 ×0.5, C2-KR3 ×0.5 beside O5 ×1.
    let p = |id: &str| objective(&report, id).progress.unwrap();
    close(
        kr(&report, "C2-KR2").progress,
        (p("O4") + 0.5 * p("O7")) / 1.5,
    );
    close(
        kr(&report, "C2-KR3").progress,
        (0.5 * p("O4") + p("O5")) / 1.5,
    );
}
