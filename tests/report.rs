//! The progress report: built through the binary from snapshots a backfill and a run with a
//! failing source wrote, and its numbers checked against those snapshots.

mod common;

use common::{date, demo_plan, number, partition_rows, repo};
use okrflow::backfill::{self, Mode, RangeOptions};
use okrflow::job::Connection;
use okrflow::model::Location;
use std::collections::BTreeMap;
use std::process::Command;

/// The `data-*` attributes of every element that has `data-{key}`, keyed by its value.
fn elements(html: &str, key: &str) -> BTreeMap<String, BTreeMap<String, String>> {
    let mut out = BTreeMap::new();
    let marker = format!(" data-{key}=\"");
    for (start, _) in html.match_indices(&marker) {
        let tag_start = html[..start].rfind('<').unwrap();
        let tag = &html[tag_start..tag_start + html[tag_start..].find('>').unwrap()];
        let mut attrs = BTreeMap::new();
        for part in tag.split(" data-").skip(1) {
            let (name, rest) = part.split_once("=\"").unwrap();
            attrs.insert(
                name.to_string(),
                rest[..rest.find('"').unwrap()].to_string(),
            );
        }
        out.insert(attrs[key].clone(), attrs);
    }
    out
}

fn approx(html_value: &str, snapshot: &str, what: &str) {
    let (a, b): (f64, f64) = (html_value.parse().unwrap(), snapshot.parse().unwrap());
    assert!(
        (a - b).abs() < 1e-9,
        "{what}: report says {a}, snapshot {b}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_report_shows_the_snapshots_numbers_and_marks_stale_key_results() {
    let out = tempfile::tempdir().unwrap();
    let plan = demo_plan();
    let options = RangeOptions {
        mode: Mode::Backfill,
        from: date("2026-03-02"),
        to: date("2026-03-08"),
        krs: Vec::new(),
        force: false,
        concurrency: 2,
        output: Some(Location::Local(out.path().to_path_buf())),
        stop: Default::default(),
    };
    backfill::run(&plan, &options, &|_| {}).await.unwrap();
    // On 9 March the Jira archive is gone: its three key results keep 8 March's values, stale.
    let mut broken = plan.clone();
    let empty = tempfile::tempdir().unwrap();
    let Some(Connection::Jira(jira)) = broken.connections.get_mut("jira_demo") else {
        unreachable!()
    };
    jira.replay = Some(empty.path().to_path_buf());
    let report = common::run(&broken, "2026-03-09", out.path()).await;
    assert_eq!(report.failed.len(), 3);

    let html_path = out.path().join("report.html");
    let done = Command::new(env!("CARGO_BIN_EXE_okrflow"))
        .current_dir(repo())
        .args(["report", "jobs/demo.toml", "--period", "FY27-Q1"])
        .args(["--output", out.path().to_str().unwrap()])
        .args(["--out", html_path.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(
        done.status.success(),
        "{}",
        String::from_utf8_lossy(&done.stderr)
    );
    let html = std::fs::read_to_string(&html_path).unwrap();
    // Self-contained: nothing to fetch when it is opened.
    for needle in ["<script", "<link", " src=", "url("] {
        assert!(!html.contains(needle), "the report refers to `{needle}`");
    }
    assert_eq!(
        html.matches("<svg").count(),
        34,
        "two charts per key result"
    );

    let mar8 = partition_rows(
        &out.path().join("kr_snapshots/as_of=2026-03-08"),
        "kr_id",
        &[],
    );
    let mar9 = partition_rows(
        &out.path().join("kr_snapshots/as_of=2026-03-09"),
        "kr_id",
        &[],
    );
    let krs = elements(&html, "kr");
    assert_eq!(krs.len(), 17);
    let forecasts = elements(&html, "forecast-of");
    for (id, k) in &krs {
        let row = &mar9[id];
        assert_eq!(k["date"], "2026-03-09", "{id}");
        assert_eq!(k["points"], "8", "{id}: 2 to 9 March");
        approx(&k["value"], &row["value"], &format!("{id} value"));
        approx(&k["progress"], &row["progress"], &format!("{id} progress"));
        approx(
            &k["expected"],
            &row["expected_progress"],
            &format!("{id} expected"),
        );
        assert_eq!(k["status"], row["status"], "{id}");
        assert_eq!(k["stale"], row["stale"], "{id}");
        // "At this pace": the forecast's attainment, where 9 March's row has one.
        match row["forecast_attainment"].as_str() {
            "" => assert!(!forecasts.contains_key(id), "{id}"),
            f => approx(&forecasts[id]["forecast"], f, &format!("{id} forecast")),
        }
    }
    assert!(forecasts.len() >= 5, "{forecasts:?}");
    // The guardrail O6-KR3: eNPS 34 since 16 February, at or above 30 every day of 2–9 March.
    assert_eq!(krs["O6-KR3"]["status"], "on_track");
    assert!(html.contains("(to stay at or above 30: held on 100.0% of its days)"));
    // The stale ones carry 8 March's values, and say so.
    for id in ["O5-KR1", "O5-KR2", "O5-KR3"] {
        assert_eq!(krs[id]["stale"], "true");
        assert_eq!(number(&mar9[id], "value"), number(&mar8[id], "value"));
    }
    assert_eq!(
        krs["O5-KR2"]["value"], "6.0",
        "6 bugs closed by 8 March (1 Feb + 4n + 9 days)"
    );
    assert!(html.contains("stale since an error"));

    let objectives = elements(&html, "objective");
    // The report is of FY27-Q1, the period of most of the newest snapshot's key results: the
    // year's objective (C2) and the AMER launch's (O7) are in their own reports.
    let mut rows = partition_rows(
        &out.path().join("objective_snapshots/as_of=2026-03-09"),
        "objective_id",
        &[],
    );
    rows.retain(|_, r| r["period"] == "FY27-Q1");
    assert_eq!(objectives.len(), 7);
    assert_eq!(objectives.len(), rows.len());
    for (id, o) in &objectives {
        approx(
            &o["progress"],
            &rows[id]["progress"],
            &format!("{id} progress"),
        );
        approx(
            &o["expected"],
            &rows[id]["expected_progress"],
            &format!("{id} expected"),
        );
        assert_eq!(o["status"], rows[id]["status"]);
        assert_eq!(o["krs-stale"], rows[id]["krs_stale"]);
    }
    assert_eq!(objectives["O5"]["krs-stale"], "3");

    // The report opens on the answer: before the first chart, every objective of the period in
    // the tree, the status counts, and every key result that needs attention on 9 March (at
    // risk, behind, no data, failed, stale or with an overdue health) with why.
    let opening = &html[..html.find("<svg").unwrap()];
    let tree = elements(opening, "tree-objective");
    assert_eq!(
        tree.keys().collect::<Vec<_>>(),
        objectives.keys().collect::<Vec<_>>()
    );
    let counted = |key: &str| -> usize {
        elements(opening, key)
            .values()
            .map(|c| c["count"].parse::<usize>().unwrap())
            .sum()
    };
    assert_eq!(counted("objective-count"), 7);
    assert_eq!(counted("kr-count"), 17);
    let needs: Vec<&String> = mar9
        .iter()
        .filter(|(id, _)| krs.contains_key(*id))
        .filter(|(_, r)| {
            ["at_risk", "behind", "no_data"].contains(&r["status"].as_str())
                || r["stale"] == "true"
                || !r["error"].is_empty()
                || r.get("health_overdue").is_some_and(|h| h == "true")
        })
        .map(|(id, _)| id)
        .collect();
    let attention = elements(opening, "attention");
    assert_eq!(attention.keys().collect::<Vec<_>>(), needs);
    for id in ["O5-KR1", "O5-KR2", "O5-KR3"] {
        let at = opening.find(&format!("data-attention=\"{id}\"")).unwrap();
        let item = opening[at..at + opening[at..].find("</li>").unwrap()]
            .replace("&#x2f;", "/")
            .replace("&amp;", "&");
        assert!(item.contains("stale"), "{item}");
        assert!(item.contains(&mar9[id]["error"]), "{id} says why: {item}");
    }
    // Each dated row of a key result's table is that date's snapshot.
    let o4_kr3_on_mar5 = partition_rows(
        &out.path().join("kr_snapshots/as_of=2026-03-05"),
        "kr_id",
        &[],
    )["O4-KR3"]["value"]
        .clone();
    let at = html.find("id=\"kr-O4-KR3\"").unwrap();
    let block = &html[html[..at].rfind('<').unwrap()..];
    let points = elements(&block[..block.find("</details>").unwrap()], "date");
    approx(
        &points["2026-03-05"]["value"],
        &o4_kr3_on_mar5,
        "O4-KR3 on 5 March",
    );
    assert_eq!(points.len(), 8, "a row per date, 2 to 9 March");

    // A period without snapshots is named with the ones there are.
    let stderr = report_fails(out.path(), &["--period", "FY27-Q3"]);
    assert!(
        stderr.contains("no snapshots of period FY27-Q3") && stderr.contains("FY27-Q1"),
        "{stderr}"
    );
}

/// Runs `report` on `out` with `args`, expects it to exit 1, and returns its stderr.
fn report_fails(out: &std::path::Path, args: &[&str]) -> String {
    let done = Command::new(env!("CARGO_BIN_EXE_okrflow"))
        .current_dir(repo())
        .args([
            "report",
            "jobs/demo.toml",
            "--output",
            out.to_str().unwrap(),
        ])
        .args(["--out", "/dev/null"])
        .args(args)
        .output()
        .unwrap();
    assert_eq!(done.status.code(), Some(1), "{args:?}");
    String::from_utf8_lossy(&done.stderr).to_string()
}

/// Runs `report` on `out` with `args`, and returns the HTML.
fn report_html(out: &std::path::Path, args: &[&str]) -> String {
    let html_path = out.join("report.html");
    let done = Command::new(env!("CARGO_BIN_EXE_okrflow"))
        .current_dir(repo())
        .args([
            "report",
            "jobs/demo.toml",
            "--output",
            out.to_str().unwrap(),
        ])
        .args(["--out", html_path.to_str().unwrap()])
        .args(args)
        .output()
        .unwrap();
    assert!(
        done.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&done.stderr)
    );
    std::fs::read_to_string(&html_path).unwrap()
}

fn title(html: &str) -> &str {
    let at = html.find("<title>").unwrap() + "<title>".len();
    &html[at..at + html[at..].find("</title>").unwrap()]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_report_picks_the_running_period_says_a_closed_one_is_final_and_what_carries_a_parent()
{
    let out = tempfile::tempdir().unwrap();
    let plan = demo_plan();
    common::run(&plan, "2026-03-31", out.path()).await;
    // 10 May: FY27-Q1 (February to April) is over, the year FY27 runs on.
    common::run(&plan, "2026-05-10", out.path()).await;

    // By default the report is of a period still running on the newest snapshot's date.
    let current = report_html(out.path(), &[]);
    assert_eq!(title(&current), "demo — FY27 progress");
    let through = elements(&current, "days-through");
    let days = through.values().next().unwrap();
    assert_eq!(
        (days["days-through"].as_str(), days["days-total"].as_str()),
        ("99", "365"),
        "1 February to 10 May"
    );
    assert!(!current.contains("is closed"));

    // As of 31 March, the quarter was running: its report, C1's drivers named.
    let march = report_html(out.path(), &["--as-of", "2026-03-31"]);
    assert_eq!(title(&march), "demo — FY27-Q1 progress");
    let days = elements(&march, "days-through");
    assert_eq!(days.values().next().unwrap()["days-through"], "59");
    assert!(
        !march.contains("2026-05-10"),
        "a later snapshot is left out"
    );
    let objectives = partition_rows(
        &out.path().join("objective_snapshots/as_of=2026-03-31"),
        "objective_id",
        &[],
    );
    let krs = partition_rows(
        &out.path().join("kr_snapshots/as_of=2026-03-31"),
        "kr_id",
        &[],
    );
    // By hand: what is under each objective of the quarter (its key results and the objectives
    // aligned to them), and which of those is on the other side of on track.
    let ahead = |s: &str| ["on_track", "done"].contains(&s);
    let short = |s: &str| ["behind", "at_risk", "missed"].contains(&s);
    let opening = &march[..march.find("<svg").unwrap()];
    let drivers = elements(opening, "drivers");
    let mut expected_drivers = Vec::new();
    for (id, o) in objectives.iter().filter(|(_, o)| o["period"] == "FY27-Q1") {
        let own: Vec<(&String, &String)> = krs
            .iter()
            .filter(|(_, k)| &k["objective_id"] == id)
            .map(|(k, r)| (k, &r["status"]))
            .collect();
        let aligned: Vec<(&String, &String)> = objectives
            .iter()
            .filter(|(_, c)| {
                own.iter()
                    .any(|(kr, _)| c["aligns_to"].contains(&format!("{kr} ×")))
            })
            .map(|(c, r)| (c, &r["status"]))
            .collect();
        let side = |s: &str| (ahead(s), short(s));
        let mine = side(&o["status"]);
        let children: Vec<_> = own.iter().chain(&aligned).collect();
        let against: Vec<_> = children
            .iter()
            .filter(|(_, s)| (ahead(s) || short(s)) && side(s) != mine)
            .collect();
        if against.len() * 2 > children.len() && (mine.0 || mine.1) {
            expected_drivers.push(id.clone());
            let at = opening.find(&format!("data-drivers=\"{id}\"")).unwrap();
            let text = &opening[at..at + opening[at..].find("</div>").unwrap()];
            assert!(
                text.contains(&format!("{} of {}", against.len(), children.len())),
                "{id}: {text}"
            );
            for (child, _) in &against {
                assert!(text.contains(child.as_str()), "{id} names {child}: {text}");
            }
        }
    }
    // The demo's case: C1 is on track, carried by its done C1-KR2, while C1-KR1 and the three
    // team objectives aligned to it are behind.
    assert_eq!(objectives["C1"]["status"], "on_track");
    assert!(expected_drivers.contains(&"C1".to_string()));
    assert_eq!(
        drivers.keys().cloned().collect::<Vec<_>>(),
        expected_drivers
    );
    let c1 = opening.find("data-drivers=\"C1\"").unwrap();
    assert!(opening[c1..].starts_with("data-drivers=\"C1\">On track though"));
    assert!(opening[c1..c1 + 400].contains("Carried by C1-KR2 done (100%)"));

    // The quarter asked for after its end: closed, its final scores first.
    let closed = report_html(out.path(), &["--period", "FY27-Q1"]);
    let opening = &closed[..closed.find("<svg").unwrap()];
    assert!(opening.contains("FY27-Q1 is closed: these are its final scores"));
    assert!(opening.contains("<h2>Final scores</h2>"));
    let may = partition_rows(
        &out.path().join("kr_snapshots/as_of=2026-05-10"),
        "kr_id",
        &[],
    );
    let rows = elements(opening, "tree-kr");
    assert_eq!(rows.len(), 17);
    for (id, row) in &rows {
        approx(
            &row["score"],
            &may[id]["score"],
            &format!("{id} final score"),
        );
    }
    // The guardrail's final score says what it is a share of.
    assert!(
        opening.contains("of days held at or above 30"),
        "the guardrail's final score is not explained"
    );
    // Priya's grade of O6-KR2 (6 May: 0.9) beside its computed final score (0.85), in the
    // table and in its details; no other key result is graded.
    assert_eq!(may["O6-KR2"]["graded_score"], "0.9");
    assert!(
        opening.contains("85.0% <span class=\"aside\">· graded 90.0%</span>"),
        "{opening}"
    );
    assert_eq!(closed.matches(" data-graded=\"").count(), 1);
    assert!(closed.contains(" data-graded=\"0.9\""));
    assert!(closed.contains(
        "Owner's grade 90.0% by priya (computed score 85.0%): Sales and support bands done"
    ));

    // Before the first snapshot there is nothing to report, and the error says so.
    let stderr = report_fails(out.path(), &["--as-of", "2026-01-01"]);
    assert!(
        stderr.contains("on or before 2026-01-01") && stderr.contains("FY27-Q1"),
        "{stderr}"
    );
}
