//! The whole OKR tree through the real binary: an annual objective, a custom period closed
//! with its final score, a key result started mid-quarter, a two-parent objective counted in
//! both parents, sum and average roll-ups with a failing child, a phased target, closing-period
//! offsets (check-ins and Tallyfy), the summary's tree, and every validation error with its
//! file:line. Values come from check-in CSVs, so every number is worked out by hand below.

mod common;

use common::{close, number, partition_rows, repo};
use std::path::Path;
use std::process::{Command, Output};

/// The fiscal year starts in February: FY27 is 1 Feb 2026 – 31 Jan 2027 (365 days), FY27-Q1
/// 1 Feb – 30 Apr 2026 (89 days). `launch` is a custom period, 15 Feb – 31 Mar 2026.
const JOB: &str = r#"[job]
name = "tree"
fiscal_year_start_month = 2

[periods.launch]
start = 2026-02-15
end = 2026-03-31

[output]
url = "out"

[connections.ci]
kind = "checkins"
url = "ci"

[connections.tallyfy]
kind = "tallyfy"
url = "TALLYFY"

[[objectives]]
id = "C"
title = "The year"
owner = "ceo"
level = "company"
period = "FY27"

[[objectives.key_results]]
id = "C-KR1"
title = "Book 100 demos"
owner = "ceo"
measure = { kpi = { start = 0, target = 100 } }
source = { aligned = { rollup = "sum" } }

[[objectives.key_results]]
id = "C-KR2"
title = "Average NPS of 50"
owner = "ceo"
measure = { kpi = { start = 0, target = 50 } }
source = { aligned = { rollup = "average" } }

[[objectives.key_results]]
id = "C-KR3"
title = "Regions deliver"
owner = "ceo"
measure = { aligned = {} }

[[objectives.key_results]]
id = "C-KR4"
title = "Reach 100 partners"
owner = "ceo"
measure = { kpi = { start = 0, target = 100 } }
source = { checkins = {} }

[[objectives]]
id = "D"
title = "Sales department"
owner = "vp"
level = "department"
period = "FY27"

[[objectives.key_results]]
id = "D-KR1"
title = "EMEA delivers"
owner = "vp"
measure = { aligned = {} }

[[objectives]]
id = "E"
title = "EMEA"
owner = "emea"
period = "FY27-Q1"
aligns_to = [{ key_result = "C-KR3", contribution = 1.0 }, { key_result = "D-KR1", contribution = 0.5 }]

[[objectives.key_results]]
id = "E-KR1"
title = "EMEA demos"
owner = "emea"
measure = { kpi = { start = 0, target = 50 } }
aligns_to = { key_result = "C-KR1" }
source = { checkins = {} }

[[objectives.key_results]]
id = "E-KR2"
title = "EMEA NPS"
owner = "emea"
measure = { kpi = { start = 0, target = 50 } }
aligns_to = { key_result = "C-KR2" }
source = { checkins = {} }

[[objectives]]
id = "A"
title = "AMER"
owner = "amer"
period = "FY27-Q1"
aligns_to = { key_result = "C-KR3" }

[[objectives.key_results]]
id = "A-KR1"
title = "AMER demos"
owner = "amer"
measure = { kpi = { start = 0, target = 50 } }
aligns_to = { key_result = "C-KR1" }
source = { checkins = {} }

[[objectives.key_results]]
id = "A-KR2"
title = "AMER NPS"
owner = "amer"
measure = { kpi = { start = 0, target = 50 } }
aligns_to = { key_result = "C-KR2" }
source = { checkins = {} }

[[objectives]]
id = "P"
title = "APAC"
owner = "apac"
period = "FY27-Q1"

[[objectives.key_results]]
id = "P-KR1"
title = "APAC demos"
owner = "apac"
measure = { kpi = { start = 0, target = 50 } }
aligns_to = { key_result = "C-KR1" }
source = { checkins = {} }

[[objectives.key_results]]
id = "P-KR2"
title = "APAC NPS"
owner = "apac"
measure = { kpi = { start = 0, target = 50 } }
aligns_to = { key_result = "C-KR2" }
source = { checkins = {} }

[[objectives]]
id = "L"
title = "Launch"
owner = "pm"
period = "launch"

[[objectives.key_results]]
id = "L-KR1"
title = "Ten launch customers"
owner = "pm"
measure = { kpi = { start = 0, target = 10 } }
source = { checkins = {} }

[[objectives]]
id = "M"
title = "Timing"
owner = "ops"
period = "FY27-Q1"

[[objectives.key_results]]
id = "M-KR1"
title = "Started in March"
owner = "ops"
measure = { kpi = { start = 0, target = 100 } }
starts = 2026-03-01
source = { checkins = {} }

[[objectives.key_results]]
id = "M-KR2"
title = "Phased"
owner = "ops"
measure = { kpi = { start = 0, target = 100, phases = [
  { on = 2026-02-28, target = 10 },
  { on = 2026-03-31, target = 60 },
] } }
source = { checkins = {} }

[[objectives.key_results]]
id = "M-KR3"
title = "Settles late"
owner = "ops"
measure = { kpi = { start = 0, target = 100 } }
offset_days = 10
source = { checkins = {} }

[[objectives]]
id = "T"
title = "Tallyfy offsets"
owner = "ops"
period = "FY27-Q1"

[[objectives.key_results]]
id = "T-KR1"
title = "Completed onboardings"
owner = "ops"
measure = { kpi = { start = 0, target = 50 } }
source = { tallyfy = { sql = "SELECT count(*) FROM tallyfy_processes WHERE process_status = 'complete' AND done_at < $as_of_end" } }

[[objectives.key_results]]
id = "T-KR2"
title = "Completed onboardings, ten days late"
owner = "ops"
measure = { kpi = { start = 0, target = 50 } }
offset_days = 10
source = { tallyfy = { sql = "SELECT count(*) FROM tallyfy_processes WHERE process_status = 'complete' AND done_at < $as_of_end" } }
"#;

/// P-KR1 and P-KR2's rows are not numbers: both fail (no earlier value, so not stale).
const CHECKINS: &str = "kr_id,date,value,health,note,author\n\
C-KR4,2026-03-18,12,,,ceo\n\
E-KR1,2026-03-10,20,,,emea\n\
E-KR2,2026-03-10,40,,,emea\n\
A-KR1,2026-03-12,15,,,amer\n\
A-KR2,2026-03-12,30,,,amer\n\
P-KR1,2026-03-01,lots,,,apac\n\
P-KR2,2026-03-01,high,,,apac\n\
L-KR1,2026-03-20,6,,,pm\n\
L-KR1,2026-04-05,9,,,pm\n\
M-KR1,2026-03-19,25,,,ops\n\
M-KR2,2026-03-19,40,,,ops\n\
M-KR3,2026-03-05,30,,,ops\n\
M-KR3,2026-03-15,50,,,ops\n";

/// A folder with the job and its check-ins.
fn setup() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("ci")).unwrap();
    std::fs::write(dir.path().join("ci/2026.csv"), CHECKINS).unwrap();
    let tallyfy = repo().join("jobs/demo/tallyfy");
    std::fs::write(
        dir.path().join("job.toml"),
        JOB.replace("TALLYFY", tallyfy.to_str().unwrap()),
    )
    .unwrap();
    dir
}

fn okrflow(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_okrflow"))
        .current_dir(dir)
        .args(args)
        .output()
        .unwrap()
}

type Rows = std::collections::BTreeMap<String, std::collections::BTreeMap<String, String>>;

/// `okrflow run job.toml --as-of D`: its exit code, summary, and the kr and objective rows.
fn run(dir: &Path, as_of: &str) -> (Option<i32>, String, Rows, Rows) {
    let o = okrflow(dir, &["run", "job.toml", "--as-of", as_of]);
    let stdout = String::from_utf8_lossy(&o.stdout).into_owned();
    let out = dir.join("out");
    let krs = partition_rows(
        &out.join(format!("kr_snapshots/as_of={as_of}")),
        "kr_id",
        &[],
    );
    let objectives = partition_rows(
        &out.join(format!("objective_snapshots/as_of={as_of}")),
        "objective_id",
        &[],
    );
    (o.status.code(), stdout, krs, objectives)
}

#[test]
fn the_whole_tree_on_20_march() {
    let dir = setup();
    let (code, summary, krs, objectives) = run(dir.path(), "2026-03-20");
    // P-KR1 and P-KR2 fail: the run says so with exit code 3, the others are computed.
    assert_eq!(code, Some(3), "{summary}");
    let k = |id: &str| &krs[id];
    let n = |id: &str, col: &str| number(&krs[id], col);

    // An annual key result on 20 March: 1 Feb – 20 Mar is 28 + 20 = 48 of FY27's 365 days.
    close(Some(n("C-KR4", "expected_progress")), 48.0 / 365.0);
    close(Some(n("C-KR4", "progress")), 0.12);
    assert_eq!(k("C-KR4")["period"], "FY27");
    // The roll-up is annual too.
    close(Some(n("C-KR1", "expected_progress")), 48.0 / 365.0);

    // Sum: E-KR1 20 + A-KR1 15; P-KR1 failed and is left out, named in the note.
    close(Some(n("C-KR1", "value")), 35.0);
    close(Some(n("C-KR1", "progress")), 0.35);
    assert_eq!(
        k("C-KR1")["note"],
        "sum of 2 key result(s): A-KR1, E-KR1; left out, no value: P-KR1 (failed)"
    );
    assert_eq!(k("C-KR1")["rollup"], "sum");
    assert_eq!(k("C-KR1")["source_kind"], "aligned");
    assert_eq!(k("E-KR1")["aligns_to_kr"], "C-KR1");
    // Average: (40 + 30) / 2 = 35 of 50.
    close(Some(n("C-KR2", "value")), 35.0);
    close(Some(n("C-KR2", "progress")), 0.7);
    assert!(
        k("C-KR2")["note"].ends_with("left out, no value: P-KR2 (failed)"),
        "{}",
        k("C-KR2")["note"]
    );
    assert!(
        k("P-KR1")["error"].contains("lots"),
        "{}",
        k("P-KR1")["error"]
    );

    // Two parents. E = mean(20/50, 40/50) = 0.6; A = mean(15/50, 30/50) = 0.45.
    // C-KR3 ← E ×1 and A ×1: (0.6 + 0.45) / 2 = 0.525. D-KR1 ← E ×0.5 alone: 0.6.
    close(Some(n("C-KR3", "progress")), 0.525);
    close(Some(n("D-KR1", "progress")), 0.6);
    close(Some(n("D-KR1", "value")), 60.0);
    let e = &objectives["E"];
    assert_eq!(e["aligns_to_kr"], "C-KR3");
    assert_eq!(e["aligns_to"], "C-KR3 ×1.0, D-KR1 ×0.5");
    // C: four key results of share 1/4; C-KR3's quarter goes half to E, half to A, an
    // eighth to each, a sixteenth to each of their key results:
    // (0.35 + 0.7 + 0.12) / 4 + (0.4 + 0.8 + 0.3 + 0.6) / 16 = 0.2925 + 0.13125.
    close(Some(number(&objectives["C"], "progress")), 0.42375);
    close(Some(number(&objectives["D"], "progress")), 0.6);

    // A key result started on 1 March: 1 – 20 March is 20 of its 61 days to 30 April.
    close(Some(n("M-KR1", "expected_progress")), 20.0 / 61.0);
    assert_eq!(k("M-KR1")["starts"], "2026-03-01");
    // Phases: between (end of 28 Feb, 10) and (end of 31 Mar, 60), the end of 20 March is 20
    // of 31 days along: 10 + 50 × 20/31 planned, of a target of 100.
    close(
        Some(n("M-KR2", "expected_progress")),
        (10.0 + 50.0 * 20.0 / 31.0) / 100.0,
    );
    close(Some(n("M-KR2", "progress")), 0.4);
    // An offset of 10 days: the value as of 10 March is the 5 March check-in (30), not the
    // 15 March one; expected stays at 20 March (48/89).
    close(Some(n("M-KR3", "value")), 30.0);
    assert_eq!(k("M-KR3")["value_as_of"], "2026-03-10");
    assert_eq!(k("M-KR3")["evaluated_on"], "2026-03-20");
    close(Some(n("M-KR3", "expected_progress")), 48.0 / 89.0);
    assert_eq!(k("M-KR1")["value_as_of"], "2026-03-20");

    // The summary shows the tree: E under C-KR3 with D-KR1 naming it, the roll-up's
    // children under C-KR1.
    let at = |needle: &str| {
        summary
            .find(needle)
            .unwrap_or_else(|| panic!("`{needle}` not in:\n{summary}"))
    };
    assert!(at("│ C ") < at("│   C-KR1 "), "{summary}");
    assert!(at("│   C-KR1 ") < at("│     ↳ A-KR1 "), "{summary}");
    assert!(at("│     ↳ P-KR1 ") < at("│   C-KR2 "), "{summary}");
    assert!(at("│   C-KR3 ") < at("│     E "), "{summary}");
    assert!(at("│     E ") < at("│       E-KR1 "), "{summary}");
    assert!(summary.contains("→ see under C-KR3"), "{summary}");
    assert!(summary.contains("→ C-KR3 ×1, D-KR1 ×0.5"), "{summary}");

    // preview says which date the offset key result's value is read as of.
    let o = okrflow(
        dir.path(),
        &[
            "preview",
            "job.toml",
            "--kr",
            "M-KR3",
            "--as-of",
            "2026-03-20",
        ],
    );
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "{text}");
    assert!(
        text.contains("value as of 2026-03-10 (offset_days = 10: evaluated on 2026-03-20)"),
        "{text}"
    );
    assert!(
        text.contains("value: 30 (from the check-in of 2026-03-05"),
        "{text}"
    );
}

#[test]
fn a_closed_custom_period_keeps_its_final_score_and_tallyfy_reads_the_offset_date() {
    let dir = setup();
    // 10 April: `launch` ended on 31 March. Its key result is evaluated that day: the 20 March
    // check-in (6 of 10), not the 5 April one. Final: 0.6, missed.
    let (_, summary, krs, _) = run(dir.path(), "2026-04-10");
    let l = &krs["L-KR1"];
    assert_eq!(l["period"], "launch");
    assert_eq!(l["evaluated_on"], "2026-03-31");
    close(Some(number(l, "score")), 0.6);
    assert_eq!(l["status"], "missed");
    assert!(
        summary.contains("launch closed — final, as of 2026-03-31"),
        "{summary}"
    );
    let scores = partition_rows(
        &dir.path().join("out/quarter_scores/as_of=2026-04-10"),
        "id",
        &[],
    );
    assert_eq!(scores["L-KR1"]["period"], "launch");
    assert_eq!(scores["L-KR1"]["final"], "true");
    close(Some(number(&scores["L-KR1"], "quarter_score")), 0.6);

    // Tallyfy with an offset: T-KR2 on 10 April is T-KR1 (same SQL) on 31 March.
    let t_kr2 = number(&krs["T-KR2"], "value");
    assert_eq!(krs["T-KR2"]["value_as_of"], "2026-03-31");
    let (_, _, earlier, _) = run(dir.path(), "2026-03-31");
    assert_eq!(t_kr2, number(&earlier["T-KR1"], "value"));
    assert_ne!(
        t_kr2,
        number(&krs["T-KR1"], "value"),
        "the bundled exports change between 31 March and 10 April, so the offset shows"
    );
}

#[test]
fn a_roll_up_with_no_child_valued_is_no_data() {
    let dir = setup();
    // 10 February: no region has checked in yet, and P-KR1's bad row (1 March) is not due.
    let (code, summary, krs, _) = run(dir.path(), "2026-02-10");
    assert_eq!(code, Some(0), "{summary}");
    let c = &krs["C-KR1"];
    assert_eq!(c["status"], "no_data");
    assert_eq!(c["value"], "");
    assert_eq!(
        c["note"],
        "no key result aligned to it has a value yet: A-KR1 (no data), E-KR1 (no data), P-KR1 (no data)"
    );
}

#[test]
fn the_report_shows_the_tree() {
    let dir = setup();
    run(dir.path(), "2026-03-20");
    let o = okrflow(
        dir.path(),
        &[
            "report", "job.toml", "--period", "fy27-q1", "--out", "q1.html",
        ],
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let html = std::fs::read_to_string(dir.path().join("q1.html")).unwrap();
    // A quarter's objective names its annual parents; a child names its roll-up.
    assert!(
        html.contains("Aligns to C-KR3 · Regions deliver (C, FY27) ×1"),
        "{html}"
    );
    assert!(html.contains("Aligns to D-KR1 · EMEA delivers (D, FY27) ×0.5"));
    assert!(html.contains("Adds to C-KR1 · Book 100 demos (FY27)"));
    let o = okrflow(
        dir.path(),
        &["report", "job.toml", "--period", "FY27", "--out", "y.html"],
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let html = std::fs::read_to_string(dir.path().join("y.html")).unwrap();
    assert!(
        html.contains("Rolls up: sum of E-KR1, A-KR1, P-KR1"),
        "{html}"
    );
    assert!(!html.contains("id=\"objective-E\""), "E is FY27-Q1's");
}

/// The 1-based line of the first line of `text` containing `needle`.
fn line_of(text: &str, needle: &str) -> usize {
    text.lines()
        .position(|l| l.contains(needle))
        .unwrap_or_else(|| panic!("{needle} not in the job"))
        + 1
}

#[test]
fn every_tree_error_is_reported_with_its_line() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("ci")).unwrap();
    let job = r#"[job]
name = "bad"
fiscal_year_start_month = 2

[periods.backwards]
start = 2026-03-01
end = 2026-02-01

[periods.FY27]
start = 2026-03-01
end = 2026-04-01

[output]
url = "out"

[connections.ci]
kind = "checkins"
url = "ci"
offset_days = 31

[[objectives]]
id = "X"
title = "x"
owner = "o"
period = "FY27-Q1"
aligns_to = [{ key_result = "Y-KR1" }, { key_result = "Y-KR1", contribution = 0.5 }]

[[objectives.key_results]]
id = "X-KR1"
title = "phases out of order"
owner = "o"
measure = { kpi = { start = 0, target = 100, phases = [{ on = 2026-03-31, target = 60 }, { on = 2026-02-28, target = 10 }] } }
source = { checkins = {} }

[[objectives.key_results]]
id = "X-KR2"
title = "phase outside the window, target past the target"
owner = "o"
measure = { kpi = { start = 0, target = 100, phases = [{ on = 2026-05-15, target = 120 }] } }
starts = 2026-05-01
offset_days = 0
source = { checkins = {} }

[[objectives.key_results]]
id = "X-KR3"
title = "valid"
owner = "o"
measure = { kpi = { start = 0, target = 10 } }
source = { checkins = {} }

[[objectives]]
id = "Y"
title = "y"
owner = "o"
period = "FY27-Q1"
aligns_to = { key_result = "X-KR3" }

[[objectives.key_results]]
id = "Y-KR1"
title = "aligns to a key result that is no roll-up"
owner = "o"
measure = { kpi = { start = 0, target = 10 } }
aligns_to = { key_result = "X-KR3" }   # not a roll-up
source = { checkins = {} }

[[objectives.key_results]]
id = "Y-KR2"
title = "a roll-up nothing adds to"
owner = "o"
measure = { kpi = { start = 0, target = 10 } }
source = { aligned = { rollup = "sum" } }
"#;
    std::fs::write(dir.path().join("job.toml"), job).unwrap();
    let o = okrflow(dir.path(), &["validate", "job.toml"]);
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(!o.status.success(), "{text}");
    let expect = |needle_in_job: &str, message: &str| {
        let line = line_of(job, needle_in_job);
        let want = format!("job.toml:{line}:");
        assert!(
            text.lines()
                .any(|l| l.contains(&want) && l.contains(message)),
            "no `{want} … {message}` in:\n{text}"
        );
    };
    expect(
        "[periods.backwards]",
        "period backwards: ends (2026-02-01) before it starts (2026-03-01)",
    );
    expect("[periods.FY27]", "`FY27` cannot name a custom period");
    expect("[connections.ci]", "offset_days must be 1 to 30, not 31");
    expect(
        "phases = [{ on = 2026-03-31",
        "key result X-KR1: phase on 2026-02-28 must come after the phase on 2026-03-31",
    );
    expect(
        "starts = 2026-05-01",
        "key result X-KR2: starts 2026-05-01 is outside its period",
    );
    expect(
        "phases = [{ on = 2026-05-15",
        "key result X-KR2: phase on 2026-05-15: target 120 is not between start (0) and target (100)",
    );
    expect(
        "phases = [{ on = 2026-05-15",
        "phase on 2026-05-15 is outside the key result's window",
    );
    expect(
        "offset_days = 0",
        "key result X-KR2: offset_days must be 1 to 30, not 0",
    );
    expect(
        "aligns_to = [{ key_result = \"Y-KR1\" }",
        "objective X: alignment cycle: X → Y-KR1 (Y) → X-KR3 (X)",
    );
    expect(
        "aligns_to = [{ key_result = \"Y-KR1\" }",
        "objective X: aligns to `Y-KR1` twice",
    );
    expect(
        "not a roll-up",
        "key result Y-KR1: aligns to `X-KR3`, which does not roll up its children",
    );
    expect(
        "id = \"Y-KR2\"",
        "key result Y-KR2: rolls up the key results aligned to it, but none aligns to it",
    );
}
