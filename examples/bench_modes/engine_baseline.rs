//! `bench engine-baseline DIR [REPEAT]`: DuckDB's baseline (`bench/tallyfy_duckdb.py`, its
//! default form) run by DataFusion, as a user of DataFusion would write it: the same
//! statements, materialised the same way (in memory), over a table of the export files in a
//! session with DataFusion's defaults (strings read as `Utf8View`) on as many threads. It
//! measures the engine, not okrflow: how long DataFusion takes for the same work DuckDB does,
//! so that okrflow's ratio to DuckDB can be read against the engine's own (BENCHMARKS.md).
//!
//! Only the spelling differs from the DuckDB script: `input_file_name()` for `filename`,
//! `max` for DuckDB's `any_value` (the values are the same on every row of a process), and
//! the epoch difference for `date_diff('second', …)`.

use datafusion::arrow::array::{Array, AsArray};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Float64Type};
use datafusion::prelude::{ParquetReadOptions, SessionConfig, SessionContext};
use serde_json::json;
use std::path::Path;
use std::time::Instant;

/// The columns the queries read (and the snapshot rule's), as DuckDB's script reads them.
const COLUMNS: &str = "process_id, filename, process_last_modified, type, blueprint_id,
  process_status, process_task_status, assigned_or_shown_on, no_of_issue_reported,
  no_of_issue_resolved, process_task_id, process_task_data_id, answer_in_form_field,
  milestone_position,
  CASE WHEN completed_on IN ('', 'nan', 'NaN') THEN NULL ELSE completed_on END AS completed_on,
  CASE WHEN due_by IN ('', 'nan', 'NaN') THEN NULL ELSE due_by END AS due_by";

/// The materialised layers, in order: name and query.
const STEPS: [(&str, &str); 3] = [
    (
        "latest_file",
        "SELECT process_id, filename FROM (
  SELECT process_id, filename, row_number() OVER (PARTITION BY process_id
    ORDER BY max(process_last_modified::TIMESTAMP) DESC) rn
  FROM clean WHERE process_last_modified::TIMESTAMP < TIMESTAMP '2026-05-01'
  GROUP BY process_id, filename) WHERE rn = 1",
    ),
    (
        "latest",
        "SELECT c.* FROM clean c JOIN latest_file l
  ON c.process_id = l.process_id AND c.filename = l.filename",
    ),
    (
        "procs",
        "SELECT process_id, max(blueprint_id) bp, max(process_status) st,
  CASE WHEN max(process_status) = 'complete' THEN max(completed_on::TIMESTAMP) END done_at,
  min(CASE WHEN assigned_or_shown_on NOT IN ('', 'nan', 'NaN') THEN assigned_or_shown_on::TIMESTAMP END) started
  FROM latest WHERE type = 'process_task' GROUP BY process_id",
    ),
];

const W: &str = "done_at >= TIMESTAMP '2026-02-01' AND done_at < TIMESTAMP '2026-05-01'";

/// The seven key results' queries, by key result.
fn queries() -> Vec<(&'static str, String)> {
    vec![
        ("O1-KR1", format!("SELECT count(*) FROM procs WHERE bp = 'bp-onboarding' AND {W}")),
        ("O1-KR2", "SELECT 100.0 * count(*) FILTER (WHERE completed_on::TIMESTAMP <= due_by::TIMESTAMP) / count(*)
      FROM latest WHERE type = 'process_task' AND blueprint_id = 'bp-onboarding' AND process_task_status = 'shown'
      AND due_by IS NOT NULL AND completed_on::TIMESTAMP >= TIMESTAMP '2026-02-01' AND completed_on::TIMESTAMP < TIMESTAMP '2026-05-01'".into()),
        ("O1-KR3", format!("SELECT median((date_part('epoch', done_at) - date_part('epoch', started)) / 86400.0) FROM procs WHERE bp = 'bp-onboarding' AND {W}")),
        ("O2-KR1", "SELECT sum(o) FROM (SELECT greatest(0, max(no_of_issue_reported::INT) - max(no_of_issue_resolved::INT)) o
      FROM latest WHERE type = 'process_task_comment' GROUP BY process_task_id)".into()),
        ("O2-KR2", format!("SELECT avg(TRY_CAST(answer_in_form_field AS DOUBLE)) FROM latest l JOIN procs p ON l.process_id = p.process_id
      WHERE l.process_task_data_id = 'ff-csat' AND {W}")),
        ("C1-KR2", "SELECT 100.0 * count(*) FILTER (WHERE st = 'complete') / count(*) FROM procs
      WHERE bp = 'bp-vendor' AND started >= TIMESTAMP '2026-02-01' AND started < TIMESTAMP '2026-05-01'".into()),
        ("O3-KR1", "SELECT max(milestone_position::INT) FROM latest WHERE blueprint_id = 'bp-rollout'
      AND type = 'process_task' AND completed_on IS NOT NULL".into()),
    ]
}

/// The first cell of `sql`'s answer as a number (`None`: NULL).
async fn number(ctx: &SessionContext, sql: &str) -> Option<f64> {
    let batches = ctx.sql(sql).await.unwrap().collect().await.unwrap();
    let column = batches.iter().find(|b| b.num_rows() > 0)?.column(0).clone();
    let column = cast(&column, &DataType::Float64).unwrap();
    let values = column.as_primitive::<Float64Type>();
    (!values.is_null(0)).then(|| values.value(0))
}

/// Runs the baseline `repeat` times over DIR; prints seconds, values and peak memory.
pub async fn run(dir: &Path, repeat: usize, peak_rss_mib: fn() -> f64) {
    let (mut seconds, mut values) = (Vec::new(), serde_json::Map::new());
    // Each step's seconds in the last repetition, and the queries' together.
    let mut steps = serde_json::Map::new();
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
    for _ in 0..repeat {
        let started = Instant::now();
        let mut config = SessionConfig::new().with_target_partitions(threads);
        config.options_mut().execution.time_zone = Some("UTC".into());
        let ctx = SessionContext::new_with_config(config);
        let options = ParquetReadOptions::default().file_extension(".parquet");
        ctx.register_parquet("raw", dir.to_str().unwrap(), options)
            .await
            .unwrap();
        let clean = format!(
            "SELECT {} FROM (SELECT *, input_file_name() AS filename FROM raw)",
            COLUMNS
        );
        ctx.register_table("clean", ctx.sql(&clean).await.unwrap().into_view())
            .unwrap();
        for (name, sql) in STEPS {
            let step = Instant::now();
            let df = ctx.sql(sql).await.unwrap();
            let schema = df.schema().inner().clone();
            let batches = df.collect().await.unwrap();
            let table = datafusion::datasource::MemTable::try_new(schema, vec![batches]).unwrap();
            ctx.register_table(name, std::sync::Arc::new(table))
                .unwrap();
            steps.insert(name.into(), json!(step.elapsed().as_secs_f64()));
        }
        let step = Instant::now();
        for (kr, sql) in queries() {
            values.insert(kr.into(), json!(number(&ctx, &sql).await));
        }
        steps.insert("queries".into(), json!(step.elapsed().as_secs_f64()));
        seconds.push(started.elapsed().as_secs_f64());
    }
    println!(
        "{}",
        json!({"engine": format!("datafusion {}", datafusion::DATAFUSION_VERSION),
               "baseline": "DuckDB's baseline SQL, dedup materialised once",
               "threads": threads, "seconds": seconds, "steps": steps, "values": values,
               "peak_rss_mib": peak_rss_mib()})
    );
}
