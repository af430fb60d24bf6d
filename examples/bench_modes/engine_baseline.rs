//! `bench engine-baseline DIR [REPEAT]`: DuckDB's baseline (`bench/tallyfy_duckdb.py`, its
//! default form) run by DataFusion, as a user of DataFusion would write it: the same
//! statements, materialised the same way (in memory), over a table of the export files in a
//! session with DataFusion's defaults (strings read as `Utf8View`) on as many threads. It
//! measures the engine, not okrflow: how long DataFusion takes for the same work DuckDB does,
//! so that okrflow's ratio to DuckDB can be read against the engine's own (BENCHMARKS.md).
//!
//! Both read the statements from `bench/tallyfy_baseline.sql`; only the view of the files
//! differs (`input_file_name()` for DuckDB's `filename`).

use datafusion::arrow::array::{Array, AsArray};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Float64Type};
use datafusion::prelude::{ParquetReadOptions, SessionConfig, SessionContext};
use serde_json::json;
use std::path::Path;
use std::time::Instant;

/// DuckDB's statements (`bench/tallyfy_baseline.sql`): `-- <kind> <name>` sections.
const BASELINE: &str = include_str!("../../bench/tallyfy_baseline.sql");

/// The sections of [`BASELINE`] of `kind` (`columns`, `step`, `query`): name and text, in
/// order, parsed as `bench/tallyfy_duckdb.py` parses them.
fn sections(kind: &str) -> Vec<(&'static str, String)> {
    let mut all: Vec<(&str, &str, String)> = Vec::new();
    for line in BASELINE.lines() {
        let head: Vec<&str> = line.split_whitespace().collect();
        match head[..] {
            ["--", k @ ("columns" | "step" | "query"), name] => all.push((k, name, String::new())),
            _ => {
                if let Some((_, _, text)) = all.last_mut() {
                    text.push_str(line);
                    text.push('\n');
                }
            }
        }
    }
    all.into_iter()
        .filter(|(k, _, _)| *k == kind)
        .map(|(_, name, text)| (name, text))
        .collect()
}

/// The first cell of `sql`'s answer as a number (`None`: NULL).
async fn number(ctx: &SessionContext, kr: &str, sql: &str) -> Option<f64> {
    let batches = match ctx.sql(sql).await {
        Ok(df) => df.collect().await,
        Err(e) => Err(e),
    }
    .unwrap_or_else(|e| panic!("{kr}: {e}"));
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
        let columns = &sections("columns")[0].1;
        let clean =
            format!("SELECT {columns} FROM (SELECT *, input_file_name() AS filename FROM raw)");
        ctx.register_table("clean", ctx.sql(&clean).await.unwrap().into_view())
            .unwrap();
        for (name, sql) in sections("step") {
            let step = Instant::now();
            let df = ctx
                .sql(&sql)
                .await
                .unwrap_or_else(|e| panic!("{name}: {e}"));
            let schema = df.schema().inner().clone();
            let batches = df.collect().await.unwrap_or_else(|e| panic!("{name}: {e}"));
            let table = datafusion::datasource::MemTable::try_new(schema, vec![batches]).unwrap();
            ctx.register_table(name, std::sync::Arc::new(table))
                .unwrap();
            steps.insert(name.into(), json!(step.elapsed().as_secs_f64()));
        }
        let step = Instant::now();
        for (kr, sql) in sections("query") {
            values.insert(kr.into(), json!(number(&ctx, kr, &sql).await));
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
