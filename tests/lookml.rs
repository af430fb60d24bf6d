//! Issue 36: `okrflow lookml` writes a folder a Looker project takes as it is. The written
//! files are parsed (`lookml_check/`: a small LookML brace parser, the dashboards with a YAML parser),
//! not taken from the generator, and every reference is resolved the way Looker's validator
//! would: each dashboard tile's fields, sorts, pivots, filters and `listen` against its
//! explore's fields (base view and joins, `extends` resolved, dimension groups by their
//! listed timeframes), filters' fields, model and explore names, includes, the grid.
//! The checker is itself checked: it passes the contract's hand-written example
//! (`tests/fixtures/lookml/acme_gen`) and catches broken copies of the generated files.

mod lookml_check;

use lookml_check::{Value, glob, parse_lkml, problems, view_of};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Files a Looker project already has, that the model must not include.
const FOREIGN: [&str; 5] = [
    "/views/orders.view.lkml",
    "/dashboards/sales.dashboard.lookml",
    "/okr_looker_old/okr_kr_snapshots.view.lkml",
    "/okr_looker/notes/okr_extra.view.lkml",
    "/okr_looker/orders.view.lkml",
];

/// Runs `okrflow lookml jobs/demo.toml --out <tmp>/<folder>` with `args`.
fn generate(folder: &str, args: &[&str]) -> (tempfile::TempDir, PathBuf, std::process::Output) {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join(folder);
    let output = Command::new(env!("CARGO_BIN_EXE_okrflow"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(["lookml", "jobs/demo.toml", "--out", out.to_str().unwrap()])
        .args(args)
        .output()
        .unwrap();
    (tmp, out, output)
}

fn file_names(dir: &Path) -> BTreeSet<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect()
}

#[test]
fn the_contracts_hand_written_example_passes_the_checks() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/lookml/acme_gen");
    assert_eq!(
        problems(&dir, &["/views/orders.view.lkml"]),
        Vec::<String>::new()
    );
}

#[test]
fn every_reference_of_the_generated_project_resolves() {
    let (_tmp, out, output) = generate("okr_looker", &[]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let names = file_names(&out);
    let expect = |n: &str| assert!(names.contains(n), "{n} not in {names:?}");
    expect("okr_okrflow.model.lkml");
    for view in [
        "kr_snapshots",
        "objective_snapshots",
        "quarter_scores",
        "runs",
        "kr_latest",
        "objective_latest",
        "quarter_scores_latest",
    ] {
        expect(&format!("okr_{view}.view.lkml"));
    }
    for d in [
        "company_overview",
        "key_result_detail",
        "owners",
        "checkins_health",
    ] {
        expect(&format!("okr_{d}.dashboard.lookml"));
    }
    assert!(names.iter().all(|n| n.starts_with("okr_")), "{names:?}");
    assert_eq!(problems(&out, &FOREIGN), Vec::<String>::new());

    let model = std::fs::read_to_string(out.join("okr_okrflow.model.lkml")).unwrap();
    assert!(!model.contains("/**/"), "{model}");
    assert!(
        model.contains("include: \"/okr_looker/okr_*.view.lkml\""),
        "{model}"
    );
    assert!(
        model.contains("SELECT max(finished_at) FROM okr.runs"),
        "{model}"
    );
    let view = std::fs::read_to_string(out.join("okr_kr_snapshots.view.lkml")).unwrap();
    assert!(
        view.starts_with("view: okr_kr_snapshots {\n  sql_table_name: okr.kr_snapshots ;;"),
        "{view}"
    );
    // A count per status and per health, of stale and failed rows.
    let kr = view_of(match &parse_lkml(&view).unwrap()[0].1 {
        Value::Block(_, body) => body,
        v => panic!("{v:?}"),
    });
    for m in [
        "on_track",
        "behind",
        "at_risk",
        "done",
        "missed",
        "no_data",
        "stale",
        "failed",
        "health_on_track",
        "health_needs_attention",
        "health_at_risk",
        "health_overdue",
    ] {
        assert!(kr.fields.contains(&format!("{m}_count")), "{m}_count");
    }
}

#[test]
fn the_prefix_and_folder_name_everything() {
    let (_tmp, out, output) = generate(
        "acme_gen",
        &["--prefix", "acme_", "--database", "warehouse"],
    );
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let names = file_names(&out);
    assert!(names.contains("acme_okrflow.model.lkml"), "{names:?}");
    assert!(names.iter().all(|n| n.starts_with("acme_")), "{names:?}");
    assert_eq!(
        problems(
            &out,
            &[
                "/okr_looker/okr_kr_snapshots.view.lkml",
                "/acme_gen/orders.view.lkml"
            ]
        ),
        Vec::<String>::new()
    );
    let latest = std::fs::read_to_string(out.join("acme_kr_latest.view.lkml")).unwrap();
    assert!(
        latest.contains("extends: [acme_kr_snapshots]") && latest.contains("warehouse.kr_latest"),
        "{latest}"
    );

    // A folder whose name an include cannot hold is refused before anything is written.
    let (_tmp, out, output) = generate("okr looker", &[]);
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("the folder okr looker has no name usable"),
        "{stderr}"
    );
    assert!(!out.exists());

    let (_tmp, _, output) = generate("x", &["--prefix", "Acme-"]);
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("--prefix \"Acme-\""), "{stderr}");
}

/// Copies `from` to a new folder of the same name, replacing `old` by `new` in `file`.
fn broken_copy(from: &Path, file: &str, old: &str, new: &str) -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join(from.file_name().unwrap());
    std::fs::create_dir(&dir).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let p = e.unwrap().path();
        std::fs::copy(&p, dir.join(p.file_name().unwrap())).unwrap();
    }
    let path = dir.join(file);
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.contains(old), "{file} has no {old:?}");
    std::fs::write(&path, text.replacen(old, new, 1)).unwrap();
    (tmp, dir)
}

#[test]
fn the_checks_catch_broken_copies() {
    let (_tmp, out, output) = generate("okr_looker", &[]);
    assert!(output.status.success());
    let dash = "okr_key_result_detail.dashboard.lookml";
    for (file, old, new, expect) in [
        (
            dash,
            "okr_kr_snapshots.average_progress",
            "okr_kr_snapshots.average_progres",
            "Unknown or inaccessible field okr_kr_snapshots.average_progres",
        ),
        (
            dash,
            "- okr_kr_snapshots.as_of_date",
            "- okr_kr_snapshots.as_of_day",
            "Unknown or inaccessible field okr_kr_snapshots.as_of_day",
        ),
        (
            dash,
            "okr_kr_snapshots.as_of_date desc",
            "okr_kr_snapshots.as_of desc",
            "sorts: Unknown or inaccessible field okr_kr_snapshots.as_of",
        ),
        (
            dash,
            "    key_result: okr_kr_snapshots.kr_id",
            "    kr: okr_kr_snapshots.kr_id",
            "listens to no filter kr",
        ),
        (dash, "    width: 24", "    width: 25", "> 24"),
        (
            dash,
            "model: okr_okrflow",
            "model: okrflow",
            "model okrflow is not okr_okrflow",
        ),
        (
            dash,
            "explore: okr_kr_snapshots",
            "explore: kr_snapshots",
            "no explore kr_snapshots",
        ),
        (
            dash,
            "field: okr_kr_snapshots.kr_id",
            "field: okr_kr_latest.kr_id",
            "Unknown or inaccessible field okr_kr_latest.kr_id",
        ),
        (
            dash,
            "  - name: values_by_date",
            "  - name: progress_vs_expected",
            "element name \"progress_vs_expected\" missing or repeated",
        ),
        (dash, "    row: 0\n", "    row: 2\n", "overlaps"),
        (dash, "  elements:", "  elements: [", "not YAML"),
        (
            "okr_kr_snapshots.view.lkml",
            "measure: done_count",
            "measure: behind_count",
            "Redefinition of field 'okr_kr_snapshots.behind_count'",
        ),
        (
            "okr_kr_latest.view.lkml",
            "extends: [okr_kr_snapshots]",
            "extends: [kr_snapshots]",
            "unknown view kr_snapshots",
        ),
        (
            "okr_okrflow.model.lkml",
            "include: \"/okr_looker/okr_*.view.lkml\"",
            "include: \"/**/*.view.lkml\"",
            "the model includes /**/",
        ),
        (
            "okr_okrflow.model.lkml",
            "include: \"/okr_looker/okr_*.view.lkml\"",
            "include: \"/**/*.view.lkml\"",
            "takes the project's /views/orders.view.lkml",
        ),
        (
            "okr_okrflow.model.lkml",
            "persist_with: okr_okrflow_run",
            "persist_with: okr_run",
            "persist_with okr_run: no such datagroup",
        ),
        (
            "okr_okrflow.model.lkml",
            "${okr_kr_snapshots.as_of_raw}",
            "${okr_kr_snapshots.as_of}",
            "Unknown or inaccessible field okr_kr_snapshots.as_of",
        ),
        (
            "okr_okrflow.model.lkml",
            "join: okr_objective_latest",
            "join: okr_objective_lates",
            "unknown view okr_objective_lates",
        ),
    ] {
        let (_t, dir) = broken_copy(&out, file, old, new);
        let found = problems(&dir, &FOREIGN);
        assert!(
            found.iter().any(|p| p.contains(expect)),
            "{file}: {old:?} -> {new:?}: expected {expect:?} in {found:#?}"
        );
    }
}

#[test]
fn the_parser_reads_one_line_blocks_and_lists() {
    let pairs = parse_lkml("view: v { dimension: a { sql: ${TABLE}.a ;; } dimension_group: d { type: time timeframes: [raw, date] sql: x ;; } measure: m { type: count filters: [a: \"x, y\"] } }").unwrap();
    let v = match &pairs[0].1 {
        Value::Block(name, body) => {
            assert_eq!(name, "v");
            view_of(body)
        }
        other => panic!("{other:?}"),
    };
    assert_eq!(v.fields, ["a", "d_raw", "d_date", "m"]);
    assert_eq!(v.uses, ["a"]);
    assert!(glob("/f/okr_*.view.lkml", "/f/okr_x.view.lkml"));
    assert!(!glob("/f/okr_*.view.lkml", "/f/sub/okr_x.view.lkml"));
    assert!(glob("/**/*.view.lkml", "/f/sub/x.view.lkml"));
}
