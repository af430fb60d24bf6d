//! Tallyfy's snapshot rule where the data lives: the views `athena ddl` makes over a
//! connection's exports on S3 give the same rows as the engine's own views, on the demo's
//! exports. The Athena views run here in DataFusion over the export files, each row with the
//! pseudo-columns Athena gives it (`"$path"`, and `"$file_modified_time"` as the file's time).
//!
//! What this does not prove: that Trino reads the views as DataFusion does. They are written
//! in the subset the two share (ATHENA-TABLES.md §3: no okrflow functions, timestamps cast
//! after a `T` becomes a space, integers through `floor`), but no Trino ran them here; nor
//! that Athena lists only the exports under the table's `LOCATION` (the CSV originals Tallyfy
//! keeps beside them would be read too: docs/sources.md says to point it at the Parquet).

mod common;

use chrono::{DateTime, Utc};
use common::{date, repo};
use datafusion::arrow::util::pretty::pretty_format_batches;
use datafusion::prelude::{ParquetReadOptions, SessionContext};
use okrflow::model::Location;
use okrflow::sources::tallyfy::{self, athena, loader};
use std::path::Path;

/// Registers `name`: the Parquet files of `dir` (not below it) with `columns` as strings
/// (a file without one reads NULL), each row with its file's `"$path"` and
/// `"$file_modified_time"`, as Athena's external table gives them.
async fn external_table(ctx: &SessionContext, name: &str, dir: &Path, columns: &[&str]) {
    use datafusion::arrow::datatypes::{DataType, Field, Schema};
    let schema = Schema::new(
        columns
            .iter()
            .map(|c| Field::new(*c, DataType::Utf8, true))
            .collect::<Vec<_>>(),
    );
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "parquet"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "{}", dir.display());
    let mut parts = Vec::new();
    for (i, file) in files.iter().enumerate() {
        let part = format!("{name}_{i}");
        let options = ParquetReadOptions::default().schema(&schema);
        ctx.register_parquet(&part, file.to_str().unwrap(), options)
            .await
            .unwrap();
        let mtime: DateTime<Utc> = std::fs::metadata(file).unwrap().modified().unwrap().into();
        parts.push(format!(
            "SELECT *, 's3://tallyfy-bucket/org/{}' AS \"$path\", \
             CAST('{}' AS TIMESTAMP) AS \"$file_modified_time\" FROM {part}",
            file.file_name().unwrap().to_string_lossy(),
            mtime.format("%Y-%m-%d %H:%M:%S%.f")
        ));
    }
    let all = ctx.sql(&parts.join(" UNION ALL ")).await.unwrap();
    ctx.register_table(name, all.into_view()).unwrap();
}

/// Every row of `view` in `ctx`, sorted, as text.
async fn rows(ctx: &SessionContext, view: &str) -> String {
    let df = ctx.table(view).await.unwrap();
    let columns: Vec<String> = df
        .schema()
        .fields()
        .iter()
        .map(|f| format!("\"{}\"", f.name()))
        .collect();
    let sql = format!(
        "SELECT {c} FROM \"{view}\" ORDER BY {c}",
        c = columns.join(", ")
    );
    let batches = ctx.sql(&sql).await.unwrap().collect().await.unwrap();
    pretty_format_batches(&batches).unwrap().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn athenas_tallyfy_views_give_the_engines_rows() {
    let exports = repo().join("jobs/demo/tallyfy");

    // The engine, as of a day after every snapshot.
    let engine = okrflow::engine::new_session();
    let scratch = tempfile::tempdir().unwrap();
    let loaded = loader::register(&engine, "tallyfy", &Location::Local(exports.clone()))
        .await
        .unwrap();
    tallyfy::register_views_once(&engine, &loaded, date("2030-01-01"), scratch.path(), None)
        .await
        .unwrap();

    // Athena's tables and views, made from the statements `athena ddl` sends.
    let lake = SessionContext::new();
    external_table(&lake, athena::EXPORTS, &exports, &tallyfy::PROCESS_COLUMNS).await;
    external_table(
        &lake,
        athena::MEMBER_EXPORTS,
        &exports.join("members"),
        &tallyfy::MEMBER_COLUMNS,
    )
    .await;
    for (view, _) in athena::VIEWS {
        let sql = athena::view_sql(view).unwrap();
        let df = lake
            .sql(sql)
            .await
            .unwrap_or_else(|e| panic!("{view}: {e}"));
        lake.register_table(view, df.into_view()).unwrap();
    }

    for (view, _) in athena::VIEWS {
        if view == "tallyfy_latest" {
            continue; // the engine's keeps a column of its state's; its views are compared
        }
        let (ours, theirs) = (rows(&engine, view).await, rows(&lake, view).await);
        assert!(ours.lines().count() > 4, "{view} is empty:\n{ours}");
        assert_eq!(ours, theirs, "{view} differs");
    }
}
