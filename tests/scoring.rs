//! The scoring rules in sql/, fed with values directly (no source), including the worked
//! examples of the OKR seeds.

mod common;
use common::*;
use okrflow::engine::tables::RunInfo;
use okrflow::pipeline::{self, RunReport};
use okrflow::sources::{KrValue, Measured, SourceError};
use std::collections::BTreeMap;

const SQL: &str = r#"source = { tallyfy = { sql = "SELECT 1" } }"#;

fn kr(id: &str, measure: &str, extra: &str) -> String {
    format!(
        "[[objectives.key_results]]\nid = \"{id}\"\ntitle = \"{id}\"\nowner = \"o\"\nmeasure = {measure}\n{extra}\n{SQL}\n"
    )
}

/// Scores `values` as of `as_of` for a job with one FY27-Q1 objective holding `krs`.
async fn score(krs: &str, values: &[(&str, Result<f64, &str>)], as_of: &str) -> RunReport {
    let dir = tempfile::tempdir().unwrap();
    let plan = job_with(
        dir.path(),
        &format!(
            "[[objectives]]\nid = \"O\"\ntitle = \"o\"\nowner = \"o\"\nperiod = \"FY27-Q1\"\n{krs}"
        ),
    );
    let values: Vec<KrValue> = values
        .iter()
        .map(|(id, v)| KrValue {
            kr_id: id.to_string(),
            value: v.map(Measured::Value).map_err(|m| SourceError::Query {
                kr_id: id.to_string(),
                message: m.to_string(),
            }),
        })
        .collect();
    let run = RunInfo {
        run_id: "r".into(),
        as_of: date(as_of),
        started_at: chrono::Utc::now(),
        computed_at: chrono::Utc::now(),
        definition_hash: "h".into(),
    };
    let location = okrflow::model::Location::Local(dir.path().join("out"));
    let out = okrflow::storage::open(&location, true).await.unwrap();
    let tables: BTreeMap<String, _> = pipeline::score(&plan, &run, &values.into(), Some(&out))
        .await
        .unwrap()
        .into_iter()
        .map(|(n, _, b)| (n, b))
        .collect();
    RunReport {
        run_id: "r".into(),
        as_of: date(as_of),
        output: location,
        failed: vec![],
        misconfigured: vec![],
        tables,
        partitions: vec![],
    }
}

#[tokio::test]
async fn worked_examples_of_the_seeds() {
    let krs = [
        kr("THREE_OF_TEN", "{ percent_complete = {} }", ""),
        kr("ELEVENTH", "{ percent_complete = {} }", ""),
        kr("EXPERIMENTS", "{ kpi = { start = 0, target = 5 } }", ""),
    ]
    .concat();
    let r = score(
        &krs,
        &[
            ("THREE_OF_TEN", Ok(30.0)),
            ("ELEVENTH", Ok(300.0 / 11.0)),
            ("EXPERIMENTS", Ok(4.0)),
        ],
        "2026-03-15",
    )
    .await;
    close(common::kr(&r, "THREE_OF_TEN").progress, 0.30);
    let eleventh = common::kr(&r, "ELEVENTH").progress.unwrap();
    assert_eq!(format!("{:.0}%", eleventh * 100.0), "27%");
    close(common::kr(&r, "EXPERIMENTS").progress, 0.80);
}

#[tokio::test]
async fn milestone_table_20_40_60_100() {
    let table = r#"{ milestones = [{ title = "a", progress = 0.2 }, { title = "b", progress = 0.4 }, { title = "c", progress = 0.6 }, { title = "d", progress = 1.0 }] }"#;
    let ids = ["M0", "M1", "M2_5", "M3", "M4"];
    let krs: String = ids.iter().map(|id| kr(id, table, "")).collect();
    let r = score(
        &krs,
        &[
            ("M0", Ok(0.0)),
            ("M1", Ok(1.0)),
            ("M2_5", Ok(2.5)),
            ("M3", Ok(3.0)),
            ("M4", Ok(4.0)),
        ],
        "2026-03-15",
    )
    .await;
    let progress: Vec<f64> = ids
        .iter()
        .map(|id| common::kr(&r, id).progress.unwrap())
        .collect();
    assert_eq!(progress, [0.0, 0.2, 0.4, 0.6, 1.0]);
    assert_eq!(common::kr(&r, "M4").status.as_deref(), Some("done"));
}

#[tokio::test]
async fn kpi_both_directions_and_clipping() {
    let krs = [
        kr("DOWN", "{ kpi = { start = 20, target = 5 } }", ""),
        kr("WORSE", "{ kpi = { start = 20, target = 5 } }", ""),
        kr("OVER", "{ kpi = { start = 0, target = 10 } }", ""),
    ]
    .concat();
    let r = score(
        &krs,
        &[("DOWN", Ok(11.0)), ("WORSE", Ok(25.0)), ("OVER", Ok(12.0))],
        "2026-03-15",
    )
    .await;
    close(common::kr(&r, "DOWN").progress, 0.6);
    let worse = common::kr(&r, "WORSE");
    close(worse.progress, 0.0);
    assert_eq!(worse.status.as_deref(), Some("at_risk"));
    let over = common::kr(&r, "OVER");
    close(over.progress, 1.0);
    assert_eq!(over.status.as_deref(), Some("done"));
}

#[tokio::test]
async fn status_against_linear_expected_progress() {
    // As of 15 March, 43 of the quarter's 89 days have passed: expected 0.4831.
    let krs = [
        kr("AHEAD", "{ percent_complete = {} }", ""),
        kr("BEHIND", "{ percent_complete = {} }", ""),
        kr("EDGE", "{ percent_complete = {} }", ""),
        kr("RISK", "{ percent_complete = {} }", ""),
    ]
    .concat();
    let expected = 43.0 / 89.0;
    let edge = (expected - 0.25) * 100.0 + 1e-9; // just inside `behind`
    let r = score(
        &krs,
        &[
            ("AHEAD", Ok(50.0)),
            ("BEHIND", Ok(30.0)),
            ("EDGE", Ok(edge)),
            ("RISK", Ok(20.0)),
        ],
        "2026-03-15",
    )
    .await;
    close(common::kr(&r, "AHEAD").expected, expected);
    assert_eq!(common::kr(&r, "AHEAD").status.as_deref(), Some("on_track"));
    assert_eq!(common::kr(&r, "BEHIND").status.as_deref(), Some("behind"));
    assert_eq!(common::kr(&r, "EDGE").status.as_deref(), Some("behind"));
    assert_eq!(common::kr(&r, "RISK").status.as_deref(), Some("at_risk"));
    // The objective is the mean of its key results, against the same expectation.
    close(
        objective(&r, "O").progress,
        (0.5 + 0.3 + edge / 100.0 + 0.2) / 4.0,
    );
    close(objective(&r, "O").expected, expected);
}

#[tokio::test]
async fn late_penalties_count_started_weeks_after_the_due_date() {
    let krs = [
        kr(
            "PER_WEEK",
            "{ percent_complete = {} }",
            "due = 2026-04-01\nlate_penalty = { per_week = 0.1 }",
        ),
        kr(
            "ZERO",
            "{ percent_complete = {} }",
            "due = 2026-04-01\nlate_penalty = \"zero_if_missed\"",
        ),
        kr(
            "ON_TIME",
            "{ percent_complete = {} }",
            "due = 2026-04-01\nlate_penalty = \"zero_if_missed\"",
        ),
    ]
    .concat();
    // 15 April is 14 days = 2 weeks after 1 April.
    let r = score(
        &krs,
        &[
            ("PER_WEEK", Ok(70.0)),
            ("ZERO", Ok(70.0)),
            ("ON_TIME", Ok(100.0)),
        ],
        "2026-04-15",
    )
    .await;
    close(common::kr(&r, "PER_WEEK").score, 0.5);
    close(common::kr(&r, "PER_WEEK").expected, 1.0);
    close(common::kr(&r, "ZERO").score, 0.0);
    // Done as of today with no history: done on the evaluation day, which is late too.
    close(common::kr(&r, "ON_TIME").score, 0.0);
    // Before the due date nothing is taken off.
    let r = score(
        &krs,
        &[
            ("PER_WEEK", Ok(70.0)),
            ("ZERO", Ok(70.0)),
            ("ON_TIME", Ok(100.0)),
        ],
        "2026-03-31",
    )
    .await;
    close(common::kr(&r, "PER_WEEK").score, 0.7);
    close(common::kr(&r, "ON_TIME").score, 1.0);
}

#[tokio::test]
async fn a_failed_key_result_without_history_has_no_status() {
    let krs = [
        kr("OK", "{ percent_complete = {} }", ""),
        kr("BAD", "{ percent_complete = {} }", ""),
    ]
    .concat();
    let r = score(
        &krs,
        &[("OK", Ok(40.0)), ("BAD", Err("boom"))],
        "2026-03-15",
    )
    .await;
    let bad = common::kr(&r, "BAD");
    assert_eq!(
        (bad.value, bad.progress, bad.status.as_deref(), bad.stale),
        (None, None, None, false)
    );
    assert_eq!(
        bad.error.as_deref(),
        Some("key result BAD: query failed: boom")
    );
    // The objective is the mean of what could be computed.
    close(objective(&r, "O").progress, 0.4);
}

#[tokio::test]
async fn contributions_weight_aligned_objectives() {
    let krs = format!(
        "{}\n[[objectives]]\nid = \"A\"\ntitle = \"a\"\nowner = \"a\"\nperiod = \"FY27-Q1\"\naligns_to = {{ key_result = \"PARENT\", contribution = 3.0 }}\n{}\n\
         [[objectives]]\nid = \"B\"\ntitle = \"b\"\nowner = \"b\"\nperiod = \"FY27-Q1\"\naligns_to = {{ key_result = \"PARENT\", contribution = 1.0 }}\n{}\n\
         [[objectives]]\nid = \"Z\"\ntitle = \"z\"\nowner = \"z\"\nperiod = \"FY27-Q1\"\naligns_to = {{ key_result = \"OWN\", contribution = 0.0 }}\n{}",
        [
            kr("PARENT", "{ aligned = {} }", "").replace(SQL, ""),
            kr("OWN", "{ percent_complete = {} }", "")
        ]
        .concat(),
        kr("A1", "{ percent_complete = {} }", ""),
        kr("B1", "{ percent_complete = {} }", ""),
        kr("Z1", "{ percent_complete = {} }", ""),
    );
    let r = score(
        &krs,
        &[
            ("OWN", Ok(10.0)),
            ("A1", Ok(80.0)),
            ("B1", Ok(40.0)),
            ("Z1", Ok(100.0)),
        ],
        "2026-03-15",
    )
    .await;
    // PARENT = (3 × 0.8 + 1 × 0.4) / 4
    close(common::kr(&r, "PARENT").progress, 0.7);
    // O = mean(PARENT, OWN); Z aligns to OWN with weight 0: shown, counts nothing.
    close(objective(&r, "O").progress, (0.7 + 0.1) / 2.0);
    close(objective(&r, "Z").progress, 1.0);
}
