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
    assert_eq!(html.matches("<svg").count(), 16, "a chart per key result");

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
    assert_eq!(krs.len(), 16);
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
    }
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
    assert_eq!(counted("kr-count"), 16);
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
    let none = Command::new(env!("CARGO_BIN_EXE_okrflow"))
        .current_dir(repo())
        .args(["report", "jobs/demo.toml", "--period", "FY27-Q3"])
        .args([
            "--output",
            out.path().to_str().unwrap(),
            "--out",
            "/dev/null",
        ])
        .output()
        .unwrap();
    assert_eq!(none.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&none.stderr);
    assert!(
        stderr.contains("no snapshots of period FY27-Q3") && stderr.contains("FY27-Q1"),
        "{stderr}"
    );
}
