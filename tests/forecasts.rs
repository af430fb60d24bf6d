//! Forecasts and guardrails from the history of nightly runs, end to end: check-in key results
//! run every night from 1 to 10 March 2026 and once after their quarter closed (5 May), into
//! one output through the kept history, and into another that reads every snapshot on every
//! run; both give the same rows. The numbers are worked out by hand in the comments.

mod common;

use common::{close, kr, objective, partition_rows};
use okrflow::job::Plan;
use okrflow::pipeline::RunReport;
use std::collections::BTreeMap;
use std::path::Path;

/// The key results of these tests, each with its measure, all read from the check-ins.
const KEY_RESULTS: &[(&str, &str, &str)] = &[
    (
        "F-KR1",
        "Invoices sent",
        "{ kpi = { start = 0, target = 200 } }",
    ),
    ("F-KR2", "Audit done (%)", "{ percent_complete = {} }"),
    ("G-KR1", "Uptime (%)", "{ threshold = { above = 99.0 } }"),
    (
        "G-KR2",
        "Open P1 incidents",
        "{ threshold = { below = 5 } }",
    ),
];

/// The check-ins connection and objectives of FY27-Q1, each `(id, its key results' ids)`.
/// FY27-Q1 is 1 February – 30 April 2026: t = 1 on 1 February, t = 29 on 1 March, t_due = 89.
fn objectives(checkins: &Path, tree: &[(&str, &[&str])]) -> String {
    let mut out = format!(
        "[connections.ci]\nkind = \"checkins\"\nurl = \"{}\"\n",
        checkins.display()
    );
    for (objective, krs) in tree {
        out += &format!(
            "\n[[objectives]]\nid = \"{objective}\"\ntitle = \"{objective}\"\nowner = \"ops\"\nperiod = \"FY27-Q1\"\n"
        );
        for id in *krs {
            let (_, title, measure) = KEY_RESULTS.iter().find(|k| k.0 == *id).unwrap();
            out += &format!(
                "\n[[objectives.key_results]]\nid = \"{id}\"\ntitle = \"{title}\"\nmeasure = {measure}\nsource = {{ checkins = {{}} }}\n"
            );
        }
    }
    out
}

/// F-KR1 has a value every day from 1 to 10 March (t = 29 … 38); F-KR2 on 9 and 10 March
/// only. G-KR1: 99.5 from 1 March, 98.7 from the 4th, 99.0 from the 6th (at the threshold:
/// held), 98.0 from 20 April. G-KR2: 3 from 1 March, 5 from the 3rd (held), 7 from the 5th, 4
/// from the 7th, and from the 8th a row that is not a number, so it fails and keeps 4, stale.
const CSV: &str = "kr_id,date,value\n\
F-KR1,2026-03-01,10\nF-KR1,2026-03-02,13\nF-KR1,2026-03-03,15\nF-KR1,2026-03-04,16\n\
F-KR1,2026-03-05,19\nF-KR1,2026-03-06,22\nF-KR1,2026-03-07,22\nF-KR1,2026-03-08,25\n\
F-KR1,2026-03-09,28\nF-KR1,2026-03-10,30\n\
F-KR2,2026-03-09,40\nF-KR2,2026-03-10,45\n\
G-KR1,2026-03-01,99.5\nG-KR1,2026-03-04,98.7\nG-KR1,2026-03-06,99.0\nG-KR1,2026-04-20,98.0\n\
G-KR2,2026-03-01,3\nG-KR2,2026-03-03,5\nG-KR2,2026-03-05,7\nG-KR2,2026-03-07,4\n\
G-KR2,2026-03-08,lots\n";

const DATES: &[&str] = &[
    "2026-03-01",
    "2026-03-02",
    "2026-03-03",
    "2026-03-04",
    "2026-03-05",
    "2026-03-06",
    "2026-03-07",
    "2026-03-08",
    "2026-03-09",
    "2026-03-10",
    "2026-05-05",
];

/// A job over a check-ins folder holding [`CSV`], with these objectives.
fn setup(tree: &[(&str, &[&str])]) -> (tempfile::TempDir, Plan) {
    let dir = tempfile::tempdir().unwrap();
    let ci = dir.path().join("ci");
    std::fs::create_dir_all(&ci).unwrap();
    std::fs::write(ci.join("f.csv"), CSV).unwrap();
    let plan = common::job_with(dir.path(), &objectives(&ci, tree));
    (dir, plan)
}

/// Runs every date in order into `out`, as nightly runs: through the kept history, or (not
/// `kept`) with the kept history removed before each run, so each reads every snapshot.
async fn nightly(plan: &Plan, out: &Path, kept: bool) -> BTreeMap<&'static str, RunReport> {
    let mut reports = BTreeMap::new();
    for (i, d) in DATES.iter().enumerate() {
        let state = out.join("_okrflow/state/history");
        if !kept && state.exists() {
            std::fs::remove_dir_all(&state).unwrap();
        }
        reports.insert(*d, common::run(plan, d, out).await);
        // A run keeps the earlier dates' rows: from the second on there are some.
        assert_eq!(state.join("manifest.json").exists(), i > 0, "{d}");
    }
    reports
}

/// A number of a key result's row (None when NULL).
fn num(report: &RunReport, id: &str, column: &str) -> Option<f64> {
    use datafusion::arrow::array::{Array, AsArray};
    use datafusion::arrow::datatypes::{Float64Type, Int64Type};
    for b in &report.tables["kr_snapshots"] {
        let ids = b.column_by_name("kr_id").unwrap().as_string::<i32>();
        let c = b
            .column_by_name(column)
            .unwrap_or_else(|| panic!("no column {column}"));
        for i in (0..b.num_rows()).filter(|&i| ids.value(i) == id) {
            if c.is_null(i) {
                return None;
            }
            return Some(match c.as_primitive_opt::<Float64Type>() {
                Some(f) => f.value(i),
                None => c.as_primitive::<Int64Type>().value(i) as f64,
            });
        }
    }
    panic!("no row for {id}")
}

/// The rows a run wrote for a date, without what differs between runs.
fn written(
    out: &Path,
    table: &str,
    key: &str,
    day: &str,
) -> BTreeMap<String, BTreeMap<String, String>> {
    partition_rows(
        &out.join(format!("{table}/as_of={day}")),
        key,
        &["run_id", "computed_at"],
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forecasts_and_guardrails_over_nightly_runs_match_a_fresh_output() {
    let (dir, plan) = setup(&[("F", &["F-KR1", "F-KR2"]), ("G", &["G-KR1", "G-KR2"])]);
    let chain = dir.path().join("chain");
    let fresh = dir.path().join("fresh");
    let r = nightly(&plan, &chain, true).await;
    nightly(&plan, &fresh, false).await;

    // Through the kept history or from every snapshot: the same rows on every date.
    for d in DATES {
        for (table, key) in [
            ("kr_snapshots", "kr_id"),
            ("objective_snapshots", "objective_id"),
        ] {
            let (a, b) = (
                written(&chain, table, key, d),
                written(&fresh, table, key, d),
            );
            assert_eq!(a.len(), if table == "kr_snapshots" { 4 } else { 2 }, "{d}");
            assert_eq!(a, b, "{table} {d}");
        }
    }

    // --- Forecasts ---
    // 2 March: two valued dates, no line yet.
    assert_eq!(num(&r["2026-03-02"], "F-KR1", "forecast_value"), None);
    // 3 March: t = 29, 30, 31 and 10, 13, 15: mean t 30, mean value 38/3; slope
    // ((−1)(10 − 38/3) + (1)(15 − 38/3)) / 2 = 2.5, so at t_due = 89: 38/3 + 2.5·59 = 160.1666…
    let d3 = &r["2026-03-03"];
    close(num(d3, "F-KR1", "forecast_value"), 38.0 / 3.0 + 2.5 * 59.0);
    close(num(d3, "F-KR1", "forecast_points"), 3.0);
    // 10 March: ten dates, t = 29 … 38 (mean 33.5, Σ(t − 33.5)² = 82.5), values summing to
    // 200 (mean 20) with Σ(t − 33.5)(v − 20) = 178: slope 178/82.5, and at t_due = 89
    // 20 + 178/82.5·55.5 = 139.7454…: 69.87 % of the target 200 by 30 April.
    let d10 = &r["2026-03-10"];
    let value = 20.0 + 178.0 / 82.5 * 55.5;
    close(num(d10, "F-KR1", "forecast_value"), value);
    close(num(d10, "F-KR1", "forecast_attainment"), value / 200.0);
    close(num(d10, "F-KR1", "forecast_progress"), value / 200.0);
    close(num(d10, "F-KR1", "forecast_points"), 10.0);
    // F-KR2 has two dates (9 and 10 March): no forecast.
    close(kr(d10, "F-KR2").value, 45.0);
    for c in ["forecast_value", "forecast_attainment", "forecast_progress"] {
        assert_eq!(num(d10, "F-KR2", c), None, "{c}");
        // Guardrails have none; nor has a closed period, whatever its history.
        assert_eq!(num(d10, "G-KR1", c), None, "{c}");
        assert_eq!(num(&r["2026-05-05"], "F-KR1", c), None, "{c}");
    }

    // --- Guardrails ---
    // 5 March: G-KR1 held 1–3 March (99.5) and not 4–5 (98.7): 3 of 5 days, at risk today.
    let d5 = &r["2026-03-05"];
    let g1 = kr(d5, "G-KR1");
    assert_eq!(g1.status.as_deref(), Some("at_risk"));
    close(g1.progress, 0.0);
    close(g1.expected, 1.0);
    close(g1.score, 3.0 / 5.0);
    // 10 March: 99.0 from the 6th holds (inclusive): 8 of 10 days, on track, never `done`.
    let g1 = kr(d10, "G-KR1");
    assert_eq!(g1.status.as_deref(), Some("on_track"));
    close(g1.progress, 1.0);
    close(g1.score, 0.8);
    close(num(d10, "G-KR1", "threshold_above"), 99.0);
    let written_d10 = written(&chain, "kr_snapshots", "kr_id", "2026-03-10");
    assert_eq!(written_d10["G-KR1"]["value_unit"], "source");
    assert_eq!(written_d10["G-KR1"]["measure_kind"], "threshold");
    assert!(
        written_d10["G-KR1"]["kr_definition"]
            .contains("[key_result.measure.threshold]\nabove = 99.0"),
        "{}",
        written_d10["G-KR1"]["kr_definition"]
    );
    assert_eq!(num(d10, "G-KR1", "threshold_below"), None);
    assert_eq!(num(d10, "G-KR1", "target_value"), None);
    // G-KR2 held 1–4 March (3, then 5: inclusive) and the 7th (4), not 5–6 (7); from the 8th it
    // fails and keeps 4, stale: those days are left out. 5 of 7 days.
    let g2 = kr(d10, "G-KR2");
    assert!(g2.stale);
    close(g2.value, 4.0);
    assert_eq!(g2.status.as_deref(), Some("on_track"));
    close(g2.score, 5.0 / 7.0);
    close(num(d10, "G-KR2", "threshold_below"), 5.0);
    // The objective averages its two guardrails like any key results.
    close(objective(d10, "G").score, (0.8 + 5.0 / 7.0) / 2.0);
    // 5 May, the quarter closed: G-KR1's value on 30 April is 98.0, so it is `missed`; its
    // score is still the share of its snapshot dates in the window, 8 of 10, and so is its
    // quarter score.
    let may = &r["2026-05-05"];
    let g1 = kr(may, "G-KR1");
    assert_eq!(g1.status.as_deref(), Some("missed"));
    close(g1.score, 0.8);
    let quarter = written(&chain, "quarter_scores", "id", "2026-05-05");
    assert_eq!(quarter["G-KR1"]["quarter_score"], "0.8");
    assert_eq!(quarter["G-KR1"]["final"], "true");
    // While it ran, too, the quarter score was the share (not attainment ÷ expected).
    let quarter = written(&chain, "quarter_scores", "id", "2026-03-05");
    assert_eq!(quarter["G-KR1"]["quarter_score"], "0.6");
}

/// A first run after the quarter closed, into a new output: the guardrail has no snapshot date
/// in its window, so no score, and its objective's score is the mean of the others'.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_guardrail_without_a_snapshot_in_its_window_has_no_score() {
    let (dir, plan) = setup(&[("H", &["F-KR1", "G-KR1"])]);
    let r = common::run(&plan, "2026-05-05", &dir.path().join("out")).await;
    // G-KR1 on 30 April: 98.0, missed, and no date of the quarter was run: no score.
    let g1 = kr(&r, "G-KR1");
    assert_eq!(g1.status.as_deref(), Some("missed"));
    close(g1.progress, 0.0);
    assert_eq!(g1.score, None);
    // F-KR1: 30 of 200 (10 March's check-in), missed, score 0.15. H: progress the mean of
    // both (0 and 0.15), score F-KR1's alone.
    close(kr(&r, "F-KR1").score, 0.15);
    close(objective(&r, "H").progress, 0.075);
    close(objective(&r, "H").score, 0.15);
}
