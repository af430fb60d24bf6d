//! Tallyfy's snapshot rule where the data lives: `okrflow athena register` on a job whose
//! Tallyfy exports are on S3 makes tables and views that give the same rows as the engine's
//! own views over the same files (the demo's exports, copied to a loopback S3 server with
//! their times). The loopback Athena (`tests/common/athena/`) runs the statements in
//! DataFusion, with Athena's hidden columns `"$path"` and `"$file_modified_time"` emulated.
//!
//! What this does not prove: that Trino reads the views as DataFusion does. They are written
//! in the subset the two share (ATHENA-TABLES.md §3: no okrflow functions, timestamps cast
//! after a `T` becomes a space, integers through `floor`, epochs from `to_unixtime`), but no
//! Trino ran them here.

mod common;

use common::athena::FakeAthena;
use common::s3::FakeS3;
use common::{date, repo};
use datafusion::arrow::util::display::array_value_to_string;
use okrflow::model::Location;
use okrflow::sources::tallyfy::{self, athena, loader};
use std::path::Path;

/// Copies the Parquet files of `from` (and its `members/`) into `to`, keeping their times.
fn copy_exports(from: &Path, to: &Path) {
    for sub in ["", "members"] {
        std::fs::create_dir_all(to.join(sub)).unwrap();
        for entry in std::fs::read_dir(from.join(sub)).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_none_or(|e| e != "parquet") {
                continue;
            }
            let copy = to.join(sub).join(path.file_name().unwrap());
            std::fs::copy(&path, &copy).unwrap();
            let modified = std::fs::metadata(&path).unwrap().modified().unwrap();
            std::fs::File::options()
                .write(true)
                .open(&copy)
                .unwrap()
                .set_modified(modified)
                .unwrap();
        }
    }
}

/// `SELECT * FROM view` in the order of every column, each cell as text.
fn sorted(view: &str, columns: &[String]) -> String {
    let c = columns.join(", ");
    format!("SELECT {c} FROM {view} ORDER BY {c}")
}

#[tokio::test]
async fn athenas_tallyfy_views_give_the_engines_rows() {
    let s3 = FakeS3::start(&["okr-results", "tallyfy-org"]).await;
    let exports = s3.root.path().join("tallyfy-org/analytics");
    copy_exports(&repo().join("jobs/demo/tallyfy"), &exports);
    let dir = tempfile::tempdir().unwrap();
    let (fake, url) = FakeAthena::start(dir.path(), common::s3::ACCESS_KEY).await;
    fake.read_s3_from(s3.root.path());
    let job = dir.path().join("job.toml");
    std::fs::write(
        &job,
        "[job]\nname = \"lake\"\n\n[output]\nurl = \"s3://okr-results/prod/\"\n\n\
         [connections.tallyfy]\nkind = \"tallyfy\"\nurl = \"s3://tallyfy-org/analytics/\"\n",
    )
    .unwrap();
    let mut register = std::process::Command::new(env!("CARGO_BIN_EXE_okrflow"));
    register
        .args([
            "athena",
            "register",
            job.to_str().unwrap(),
            "--database",
            "okr",
        ])
        .env_remove("RUST_LOG")
        .env_remove("AWS_PROFILE")
        .envs(s3.env())
        .env("AWS_ENDPOINT_URL_ATHENA", &url);
    let done = tokio::task::spawn_blocking(move || register.output().unwrap())
        .await
        .unwrap();
    let said =
        String::from_utf8_lossy(&done.stdout).to_string() + &String::from_utf8_lossy(&done.stderr);
    assert_eq!(done.status.code(), Some(0), "{said}");
    // Tallyfy's two tables (each dropped first) and its views, after the output's
    assert_eq!(
        said.matches("statement=tallyfy: ").count(),
        4 + athena::VIEWS.len(),
        "{said}"
    );

    // The engine over the same files, as of a day after every snapshot.
    let engine = okrflow::engine::new_session();
    let scratch = tempfile::tempdir().unwrap();
    let loaded = loader::register(&engine, "tallyfy", &Location::Local(exports.clone()))
        .await
        .unwrap();
    tallyfy::register_views_once(&engine, &loaded, date("2030-01-01"), scratch.path(), None)
        .await
        .unwrap();

    // The views a reader queries (docs/job-file.md's): the inputs beneath them carry each
    // engine's own columns (the state's, a file's path) and are checked through them.
    for view in [
        "tallyfy_processes",
        "tallyfy_tasks",
        "tallyfy_form_fields",
        "tallyfy_comments",
        "tallyfy_members",
    ] {
        assert!(athena::VIEWS.iter().any(|(v, _)| *v == view), "{view}");
        let df = engine.table(view).await.unwrap();
        let columns: Vec<String> = df
            .schema()
            .fields()
            .iter()
            .map(|f| format!("\"{}\"", f.name()))
            .collect();
        let sql = sorted(view, &columns);
        let batches = engine.sql(&sql).await.unwrap().collect().await.unwrap();
        let mut ours = Vec::new();
        for b in &batches {
            for row in 0..b.num_rows() {
                ours.push(
                    b.columns()
                        .iter()
                        .map(|c| (!c.is_null(row)).then(|| array_value_to_string(c, row).unwrap()))
                        .collect::<Vec<_>>(),
                );
            }
        }
        let theirs = fake
            .rows(&sql, "okr")
            .await
            .unwrap_or_else(|e| panic!("{view}: {e}"));
        assert!(ours.len() >= 3, "{view}: {ours:?}");
        assert_eq!(ours, theirs, "{view} differs");
    }
}

/// Two Tallyfy connections on S3 would make the same tables and views in one database:
/// `athena ddl` refuses, naming both, rather than let the second replace the first.
#[test]
fn two_tallyfy_connections_on_s3_are_refused_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let job = dir.path().join("job.toml");
    std::fs::write(
        &job,
        "[job]\nname = \"lake\"\n\n[output]\nurl = \"s3://okr-results/prod/\"\n\n\
         [connections.emea]\nkind = \"tallyfy\"\nurl = \"s3://tallyfy-org/emea/\"\n\n\
         [connections.amer]\nkind = \"tallyfy\"\nurl = \"s3://tallyfy-org/amer/\"\n",
    )
    .unwrap();
    let ddl = std::process::Command::new(env!("CARGO_BIN_EXE_okrflow"))
        .args(["athena", "ddl", job.to_str().unwrap()])
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&ddl.stderr);
    assert_eq!(ddl.status.code(), Some(1), "{said}");
    assert!(
        said.contains(
            "connections `amer` and `emea` would both make `tallyfy_exports` in the database"
        ),
        "{said}"
    );
}

/// The demo's Tallyfy key results, each under an objective of its own period, reading
/// connection `tallyfy` at `connection` (its lines of `[connections.tallyfy]`).
fn demo_tallyfy_job(head: &str, connection: &str) -> String {
    let plan = common::demo_plan();
    let mut text = format!("{head}\n[connections.tallyfy]\nkind = \"tallyfy\"\n{connection}\n");
    for (i, k) in plan.key_results.iter().enumerate() {
        let Some(sql) = okrflow::sources::registry::link_of::<tallyfy::Tallyfy>(k) else {
            continue;
        };
        text.push_str(&format!(
            "\n[periods.p{i}]\nstart = {}\nend = {}\n\n[[objectives]]\nid = \"O-{}\"\n\
             title = \"{}\"\nowner = \"o\"\nperiod = \"p{i}\"\n\n[[objectives.key_results]]\n\
             id = \"{}\"\ntitle = \"{}\"\nowner = \"o\"\n\
             measure = {{ kpi = {{ start = 0, target = 100 }} }}\n\
             source = {{ tallyfy = {{ sql = \"\"\"{sql}\"\"\" }} }}\n",
            k.period.start, k.period.end, k.id, k.id, k.id, k.id
        ));
    }
    text
}

/// The demo's Tallyfy key results computed both ways on the same exports, on several dates:
/// by okrflow's engine from a folder, and in Athena (`engine = { athena = "lake" }`), where
/// each key result's SQL goes with the snapshot rule inlined over okrflow's external table
/// and the day's end as its first execution parameter. Every value the Athena engine accepts
/// is the engine's; O1-KR3's `median` (which Trino lacks) is refused, alone, before
/// anything is sent, and `validate` says so at its line.
///
/// What this does not prove: that Trino plans and computes the inlined text as DataFusion
/// does. The loopback Athena answers in DataFusion, with `"$path"` and
/// `"$file_modified_time"` emulated from the files; the text is written in what the two
/// share (ATHENA-TABLES.md §3), and `src/sources/tallyfy/trino.rs` refuses functions Trino
/// does not have, but nested `WITH`s, the `WHERE … < ?` placement of the parameter and the
/// timestamp literals are Athena's documented behaviour, not tested against Athena here.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demos_tallyfy_key_results_give_the_same_values_in_athena() {
    let dir = tempfile::tempdir().unwrap();
    let s3_root = dir.path().join("s3");
    let exports = s3_root.join("tallyfy-org/analytics");
    copy_exports(&repo().join("jobs/demo/tallyfy"), &exports);
    let (fake, url) = FakeAthena::start(dir.path(), common::athena::KEY).await;
    fake.read_s3_from(&s3_root);
    let head = |out: &str| {
        format!(
            "[job]\nname = \"both\"\nfiscal_year_start_month = 2\n\n[output]\nurl = \"{out}\"\n"
        )
    };
    let local = demo_tallyfy_job(
        &head("out-local"),
        &format!("url = {:?}", exports.to_str().unwrap()),
    );
    let lake = demo_tallyfy_job(
        &common::athena::lake_job("").replace("url = \"out\"", "url = \"out-lake\""),
        "url = \"s3://tallyfy-org/analytics/\"\nengine = { athena = \"lake\" }",
    );
    std::fs::write(dir.path().join("local.toml"), &local).unwrap();
    std::fs::write(dir.path().join("lake.toml"), &lake).unwrap();
    let okrflow = |args: Vec<String>| {
        let (dir, url) = (dir.path().to_path_buf(), url.clone());
        tokio::task::spawn_blocking(move || {
            let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_okrflow"));
            common::athena::reaching(&mut command, &url)
                .current_dir(&dir)
                .env_remove("RUST_LOG")
                .args(&args)
                .output()
                .unwrap()
        })
    };
    let said = |o: &std::process::Output| {
        String::from_utf8_lossy(&o.stdout).to_string() + &String::from_utf8_lossy(&o.stderr)
    };

    // validate refuses the median for the Athena engine, at its source's line, and nothing else
    let v = okrflow(vec!["validate".into(), "lake.toml".into()])
        .await
        .unwrap();
    let line = 1 + lake
        .lines()
        .position(|l| l.contains("sql = \"\"\"SELECT median("))
        .unwrap();
    let out = said(&v);
    let errors: Vec<&str> = out.lines().filter(|l| l.contains(": error: ")).collect();
    assert_eq!(v.status.code(), Some(1), "{out}");
    assert_eq!(errors.len(), 1, "{out}");
    assert!(
        errors[0].starts_with(&format!(
            "lake.toml:{line}:1: error: key result O1-KR3: for the Athena engine: `median` is \
             not a function of Athena's engine (Trino)"
        )),
        "{out}"
    );

    let dates = ["2026-02-20", "2026-03-15", "2026-04-30"];
    for day in dates {
        let ran = okrflow(vec![
            "run".into(),
            "local.toml".into(),
            "--as-of".into(),
            day.into(),
        ])
        .await
        .unwrap();
        assert_eq!(ran.status.code(), Some(0), "{}", said(&ran));
        let ran = okrflow(vec![
            "run".into(),
            "lake.toml".into(),
            "--as-of".into(),
            day.into(),
        ])
        .await
        .unwrap();
        // O1-KR3 cannot work as configured: exit 4, the others written
        assert_eq!(ran.status.code(), Some(4), "{}", said(&ran));
    }
    let mut compared = 0;
    for day in dates {
        let rows = |out: &str| {
            common::partition_rows(
                &dir.path().join(format!("{out}/kr_snapshots/as_of={day}")),
                "kr_id",
                &[],
            )
        };
        let (ours, theirs) = (rows("out-local"), rows("out-lake"));
        assert_eq!(ours.len(), 7, "{:?}", ours.keys());
        for (id, row) in &ours {
            let other = &theirs[id];
            if id == "O1-KR3" {
                assert!(
                    other["error"].contains("`median` is not a function of Athena's engine"),
                    "{}",
                    other["error"]
                );
                continue;
            }
            assert_eq!(other["error"], "", "{day} {id}");
            assert_eq!(
                row["value"].is_empty(),
                other["value"].is_empty(),
                "{day} {id}"
            );
            if !row["value"].is_empty() {
                let (a, b) = (common::number(row, "value"), common::number(other, "value"));
                assert!((a - b).abs() < 1e-9, "{day} {id}: engine {a}, Athena {b}");
                compared += 1;
            }
        }
    }
    // most of the values exist: the comparison is not of empty results
    assert!(compared >= 12, "{compared} values compared");

    // a preview sends the query a run would and shows the key result's own SQL
    let p = okrflow(
        [
            "preview",
            "lake.toml",
            "--kr",
            "O1-KR1",
            "--as-of",
            "2026-03-15",
        ]
        .map(String::from)
        .to_vec(),
    )
    .await
    .unwrap();
    let shown = said(&p);
    let local_value = common::partition_rows(
        &dir.path().join("out-local/kr_snapshots/as_of=2026-03-15"),
        "kr_id",
        &[],
    )["O1-KR1"]["value"]
        .clone();
    let value: f64 = shown
        .split("value: ")
        .nth(1)
        .and_then(|v| v.split(' ').next())
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("{shown}"));
    assert_eq!(Some(value), local_value.parse().ok(), "{shown}");
    assert!(
        shown.contains("O1-KR1 as of 2026-03-15 — tallyfy in Athena connection lake: SELECT")
            && shown.contains("-- sent inside the views it reads, as CTEs")
            && shown.contains("parameter 1 ($as_of_end): TIMESTAMP '2026-03-16 00:00:00.000'")
            && shown.contains("(from the Athena query q-"),
        "{shown}"
    );

    // each query's first parameter is its day's end; okrflow's table was made once a process,
    // and the runs record what the queries scanned
    let sent = fake.sent("StartQueryExecution");
    let firsts: std::collections::BTreeSet<String> = sent
        .iter()
        .filter_map(|s| s["ExecutionParameters"][0].as_str().map(String::from))
        .collect();
    assert_eq!(
        firsts.into_iter().collect::<Vec<_>>(),
        [
            "TIMESTAMP '2026-02-21 00:00:00.000'",
            "TIMESTAMP '2026-03-16 00:00:00.000'",
            "TIMESTAMP '2026-05-01 00:00:00.000'"
        ]
    );
    let made = fake.queries_with("CREATE EXTERNAL TABLE IF NOT EXISTS `okrflow_tallyfy_");
    assert_eq!(
        made.len(),
        dates.len() + 1,
        "three runs and the preview: {made:?}"
    );
    let runs = common::partition_rows(
        &dir.path().join("out-lake/runs/as_of=2026-03-15"),
        "job",
        &[],
    );
    assert!(
        common::number(&runs["lake"], "athena_bytes_scanned") > 0.0,
        "{:?}",
        runs["lake"]
    );
}

/// `validate --online` on a Tallyfy connection computing in Athena: the folder is listed with
/// the connection's own keys, and a CSV beside the exports is warned of (okrflow's engine skips
/// it, Athena would read it as Parquet); each key result is planned by Athena with `EXPLAIN`,
/// its parameters as literals, after okrflow's table is made. Nothing is scanned.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn validate_online_plans_each_key_result_in_athena_and_warns_of_other_files() {
    let s3 = FakeS3::start(&["tallyfy-org"]).await;
    let exports = s3.root.path().join("tallyfy-org/analytics");
    copy_exports(&repo().join("jobs/demo/tallyfy"), &exports);
    std::fs::write(exports.join("onb-01_01.csv"), "process_id\np1\n").unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (fake, url) = FakeAthena::start(dir.path(), common::athena::KEY).await;
    fake.read_s3_from(s3.root.path());
    let lake = demo_tallyfy_job(
        &common::athena::lake_job(""),
        "url = \"s3://tallyfy-org/analytics/\"\nengine = { athena = \"lake\" }",
    );
    // without O1-KR3, whose median `validate` refuses offline
    let blocks: Vec<&str> = lake.split("\n[periods.").collect();
    let lake = blocks[0].to_string()
        + &blocks[1..]
            .iter()
            .filter(|b| !b.contains("median("))
            .map(|b| format!("\n[periods.{b}"))
            .collect::<String>();
    std::fs::write(dir.path().join("lake.toml"), &lake).unwrap();
    let mut validate = std::process::Command::new(env!("CARGO_BIN_EXE_okrflow"));
    common::athena::reaching(&mut validate, &url)
        .current_dir(dir.path())
        .env_remove("RUST_LOG")
        .envs(s3.env())
        .args(["validate", "lake.toml", "--online"]);
    let done = tokio::task::spawn_blocking(move || validate.output().unwrap())
        .await
        .unwrap();
    let out =
        String::from_utf8_lossy(&done.stdout).to_string() + &String::from_utf8_lossy(&done.stderr);
    assert_eq!(done.status.code(), Some(0), "{out}");
    assert!(
        out.contains(
            "connection tallyfy: 1 file(s) under s3://tallyfy-org/analytics are not Parquet \
             (first: onb-01_01.csv): Athena reads every file of the folder as Parquet"
        ),
        "{out}"
    );
    let explained = fake.queries_with("EXPLAIN WITH\ntallyfy_");
    assert_eq!(explained.len(), 6, "{out}");
    assert_eq!(
        fake.queries_with("CREATE EXTERNAL TABLE IF NOT EXISTS `okrflow_tallyfy_")
            .len(),
        1
    );
    let sent = fake.sent("StartQueryExecution");
    let explain = sent
        .iter()
        .find_map(|s| {
            s["QueryString"]
                .as_str()
                .filter(|q| q.starts_with("EXPLAIN "))
        })
        .unwrap();
    assert!(!explain.contains('?'), "{explain}");
    assert!(
        explain.contains("WHERE snapshot_at < TIMESTAMP '"),
        "{explain}"
    );
}
