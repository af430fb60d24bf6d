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
