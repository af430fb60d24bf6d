//! okrflow's benchmarks (never run by `cargo test`): `bench/run.sh` runs them all, with DuckDB
//! beside them, and prints the tables BENCHMARKS.md holds. Each prints one JSON line.
//!
//! - `tallyfy DIR [REPEAT]`: the demo job's seven Tallyfy key results over the exports in DIR
//!   (`okrflow demo-data --copies N`), as of the end of the demo quarter.
//! - `engine-baseline DIR [REPEAT]`: DuckDB's baseline SQL run by DataFusion over DIR, to
//!   tell the engine's share of okrflow's ratio to DuckDB from okrflow's (`engine_baseline.rs`).
//! - `api [LOOKER_KRS JIRA_KRS LATENCY_MS]`: that many Looker and Jira key results (two per
//!   tile, two per JQL) against loopback servers that wait LATENCY_MS before each answer;
//!   wall time against the latency bound, and requests made.
//! - `nightly DIR [LOOKER_KRS JIRA_KRS TALLYFY_KRS LATENCY_MS]`: a whole run of such a job
//!   plus Tallyfy key results over DIR, written to a temporary output: wall time and peak RSS.
//! - `incremental DIR [NEW_FILES]`: two whole runs of the demo's seven Tallyfy key results
//!   into one output, the first without the last NEW_FILES export files (default 3 of the 300,
//!   1 % of the rows) and with no state, the second after they were added (with the state the
//!   first kept); then a run of all the files into an empty output. Wall times, and whether
//!   the second and third runs' values are the same; each run's peak RSS (each run is a
//!   process of its own, `run JOB OUT`).
//! - `history [KRS DAYS]`: KRS key results' rows in DAYS daily `kr_snapshots` partitions on
//!   the loopback S3 server, read as a run reads them: every partition, then (with the history
//!   a run kept) the kept rows and the one day written since. Wall time and requests of each,
//!   and whether the rows the scoring SQL picks are the same.
//! - `explain DIR [analyze] [VIEW]`: DataFusion's physical plan of the whole `tallyfy_latest`
//!   view (or another Tallyfy view) over DIR (which side each join holds in memory); with
//!   `analyze`, run, with each operator's rows and time. It is every column's plan, not the
//!   narrowed one a run computes; `tallyfy_file_snapshots` reads all files as one part.

#[path = "bench_modes/engine_baseline.rs"]
mod engine_baseline;

#[path = "../tests/common/mod.rs"]
#[allow(dead_code, unused_imports)]
mod common;

use chrono::NaiveDate;
use common::jira::{FakeJira, Site, issue};
use common::looker::{FakeLooker, Instance, detail, query, tile};
use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::array::{Array, AsArray};
use datafusion::arrow::datatypes::Float64Type;
use datafusion::prelude::SessionContext;
use okrflow::job::{self, KrSource, Link};
use okrflow::model::Location;
use okrflow::pipeline;
use okrflow::sources::tallyfy;
use serde_json::json;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The demo quarter's end: the Tallyfy SQL reads every snapshot up to it.
const AS_OF: &str = "2026-04-30";

fn as_of() -> NaiveDate {
    AS_OF.parse().unwrap()
}

/// Peak resident memory of this process so far, in MiB (`VmHWM`).
fn peak_rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

/// The allocator the `okrflow` binary uses (src/main.rs), so the figures are the binary's.
#[cfg(not(target_env = "msvc"))]
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

#[tokio::main]
async fn main() {
    // RUST_LOG=okrflow=debug shows where a run spends its time.
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_writer(std::io::stderr)
        .try_init();
    let args: Vec<String> = std::env::args().skip(1).collect();
    let arg = |i: usize, default: &str| args.get(i).cloned().unwrap_or_else(|| default.into());
    match args.first().map(String::as_str) {
        Some("explain") => {
            // The physical plan of the materialised Tallyfy view over DIR.
            let ctx = okrflow::engine::new_session();
            let location = Location::Local(PathBuf::from(arg(1, "")));
            let loaded = tallyfy::loader::register(&ctx, "tallyfy", &location)
                .await
                .unwrap();
            let scratch = tempfile::tempdir().unwrap();
            tallyfy::register_views_once(&ctx, &loaded, as_of(), scratch.path(), None)
                .await
                .unwrap();
            let latest = <tallyfy::Tallyfy as okrflow::sources::SourceKind>::STATEMENTS
                .iter()
                .find(|s| s.name == arg(3, "tallyfy_latest"))
                .expect("a Tallyfy view's name");
            // tallyfy_file_index (and tallyfy_latest_read) over every file at once, as one part.
            let all = ctx.table("tallyfy_raw").await.unwrap().into_view();
            ctx.register_table("tallyfy_raw_part", all).unwrap();
            let sql = format!(
                "EXPLAIN {}{}",
                if arg(2, "") == "analyze" {
                    "ANALYZE "
                } else {
                    ""
                },
                latest.sql
            );
            let batches = ctx.sql(&sql).await.unwrap().collect().await.unwrap();
            println!(
                "{}",
                datafusion::arrow::util::pretty::pretty_format_batches(&batches).unwrap()
            );
        }
        Some("tallyfy") => {
            tallyfy_bench(Path::new(&arg(1, "")), arg(2, "3").parse().unwrap()).await
        }
        Some("engine-baseline") => {
            engine_baseline::run(
                Path::new(&arg(1, "")),
                arg(2, "3").parse().unwrap(),
                peak_rss_mib,
            )
            .await
        }
        Some("incremental") => {
            incremental_bench(Path::new(&arg(1, "")), arg(2, "3").parse().unwrap()).await
        }
        Some("history") => {
            history_bench(
                arg(1, "1000").parse().unwrap(),
                arg(2, "1095").parse().unwrap(),
            )
            .await
        }
        Some("api") => {
            api_bench(
                arg(1, "500").parse().unwrap(),
                arg(2, "500").parse().unwrap(),
                arg(3, "100").parse().unwrap(),
            )
            .await
        }
        Some("run") => {
            // One run of a job into an output, in a process of its own (incremental_bench).
            let plan = job::load(Path::new(&arg(1, ""))).unwrap();
            let (seconds, values) = timed_run(&plan, Path::new(&arg(2, ""))).await;
            println!(
                "{}",
                json!({"seconds": seconds, "peak_rss_mib": peak_rss_mib(), "values": values})
            );
        }
        Some("nightly") => {
            nightly_bench(
                Path::new(&arg(1, "")),
                arg(2, "450").parse().unwrap(),
                arg(3, "450").parse().unwrap(),
                arg(4, "100").parse().unwrap(),
                arg(5, "100").parse().unwrap(),
            )
            .await
        }
        _ => {
            eprintln!(
                "usage: bench tallyfy DIR [REPEAT] | engine-baseline DIR [REPEAT] | incremental DIR [NEW_FILES] | run JOB OUT | history [KRS DAYS] | api [LOOKER JIRA LATENCY_MS] | nightly DIR [LOOKER JIRA TALLYFY LATENCY_MS] | explain DIR [analyze] [VIEW]"
            );
            std::process::exit(2);
        }
    }
}

async fn tallyfy_bench(dir: &Path, repeat: usize) {
    let plan = job::load(&common::repo().join("jobs/demo.toml")).unwrap();
    let krs = pipeline::key_results_of(&plan, "tallyfy");
    let location = Location::Local(dir.to_path_buf());
    let mut seconds = Vec::new();
    let mut values = serde_json::Map::new();
    for _ in 0..repeat {
        let started = Instant::now();
        let extracted = tallyfy::extract_showing("tallyfy", &location, &krs, as_of(), None, None)
            .await
            .unwrap()
            .0;
        seconds.push(started.elapsed().as_secs_f64());
        for v in extracted {
            values.insert(v.kr_id.clone(), json!(v.number()));
        }
    }
    println!(
        "{}",
        json!({"engine": "okrflow", "seconds": seconds, "values": values, "peak_rss_mib": peak_rss_mib()})
    );
}

/// A Looker instance with `tiles` tiles over dashboards of ten, each tile its own query with
/// a monthly time axis; and a Jira site with `jqls` projects of 20 issues each.
fn servers_data(tiles: usize, jqls: usize) -> (Instance, Site) {
    let mut inst = Instance {
        client_id: "bench-client".into(),
        client_secret: "bench-secret".into(),
        token_ttl_secs: 3600,
        ..Instance::default()
    };
    for d in 0..tiles.div_ceil(10) {
        inst.dashboards
            .push(json!({"id": format!("{d}"), "title": format!("Dashboard {d}")}));
        let mut elements = Vec::new();
        for t in (d * 10)..((d + 1) * 10).min(tiles) {
            let q = format!("{}", 1000 + t);
            elements.push(tile(&format!("e{t}"), &format!("Tile {t}"), &q));
            inst.queries
                .insert(q.clone(), query(&q, &["m.month", "m.count"], &[]));
            inst.results.insert(
                q,
                detail(
                    &[("m.month", true)],
                    &["m.count"],
                    None,
                    &[
                        (&["2026-02"], &[json!(t % 7 + 1)]),
                        (&["2026-03"], &[json!(t % 5 + 2)]),
                        (&["2026-04"], &[json!(t % 3 + 3)]),
                    ],
                ),
            );
        }
        inst.elements.insert(format!("{d}"), json!(elements));
    }
    let mut site = Site::new(okrflow::sources::jira::config::Deployment::Cloud);
    site.email = "bench@acme.test".into();
    site.token = "bench-token".into();
    site.page_max = 50;
    for j in 0..jqls {
        let jql = format!("project = P{j}");
        for n in 0..20 {
            let category = if n % 3 == 0 { "done" } else { "new" };
            site.add(
                issue(
                    &format!("P{j}-{n}"),
                    category,
                    [None; 3],
                    None,
                    Some((n % 5 + 1) as f64),
                ),
                &[jql.as_str()],
            );
        }
    }
    (inst, site)
}

/// A job with the given key results, two per tile and two per JQL, reading the fakes, and
/// `tallyfy` Tallyfy key results (the demo's seven, repeated) over `exports`. Its memory
/// budget is 8 GiB, not the default 2: the 100M-row set's views hold more than 2 GiB in
/// hash tables that cannot spill, and the benchmark measures the peak rather than the limit.
fn bench_job(
    dir: &Path,
    looker: &FakeLooker,
    jira: &FakeJira,
    looker_krs: usize,
    jira_krs: usize,
    tallyfy_krs: usize,
    exports: Option<&Path>,
) -> PathBuf {
    let mut text = format!(
        "[job]\nname = \"bench\"\nfiscal_year_start_month = 2\nmemory_limit_mib = 8192\n[output]\nurl = \"out\"\n\
         [connections.lk]\nkind = \"looker\"\nbase_url = \"{}\"\nclient_id_env = \"BENCH_LK_ID\"\nclient_secret_env = \"BENCH_LK_SECRET\"\n\
         [connections.jr]\nkind = \"jira\"\nbase_url = \"{}\"\ndeployment = \"cloud\"\nemail_env = \"BENCH_JR_EMAIL\"\ntoken_env = \"BENCH_JR_TOKEN\"\n",
        looker.url(),
        jira.url()
    );
    if let Some(exports) = exports {
        text.push_str(&format!(
            "[connections.tallyfy]\nkind = \"tallyfy\"\nurl = \"{}\"\n",
            exports.display()
        ));
    }
    let demo = job::load(&common::repo().join("jobs/demo.toml")).unwrap();
    let demo_sql: Vec<String> = pipeline::key_results_of(&demo, "tallyfy")
        .iter()
        .filter_map(|k| match &k.source {
            Some(KrSource {
                link: Link::Tallyfy(sql),
                ..
            }) => Some(sql.clone()),
            _ => None,
        })
        .collect();
    let mut krs = Vec::new();
    for i in 0..looker_krs {
        let t = i / 2;
        let x = if i % 2 == 0 { "latest" } else { "all" };
        krs.push(format!(
            "source = {{ looker = {{ dashboard = \"Dashboard {}\", tile = \"Tile {t}\", x = \"{x}\", aggregate = \"sum\" }} }}\nmeasure = {{ kpi = {{ start = 0, target = 50 }} }}",
            t / 10
        ));
    }
    for i in 0..jira_krs {
        let metric = if i % 2 == 0 { "count" } else { "story_points" };
        krs.push(format!(
            "source = {{ jira = {{ jql = \"project = P{}\", metric = \"{metric}\" }} }}\nmeasure = {{ percent_complete = {{}} }}",
            i / 2
        ));
    }
    for i in 0..tallyfy_krs {
        krs.push(format!(
            "source = {{ tallyfy = {{ sql = '''{}''' }} }}\nmeasure = {{ kpi = {{ start = 0, target = 100 }} }}",
            demo_sql[i % demo_sql.len()]
        ));
    }
    for (o, chunk) in krs.chunks(3).enumerate() {
        text.push_str(&format!(
            "[[objectives]]\nid = \"O{o}\"\ntitle = \"Objective {o}\"\nowner = \"team\"\nperiod = \"FY27-Q1\"\n"
        ));
        for (k, source) in chunk.iter().enumerate() {
            text.push_str(&format!(
                "[[objectives.key_results]]\nid = \"O{o}-KR{k}\"\ntitle = \"Key result {o}.{k}\"\nowner = \"o\"\n{source}\n"
            ));
        }
    }
    let path = dir.join("bench.toml");
    std::fs::write(&path, text).unwrap();
    // SAFETY: set before any thread reads them.
    unsafe {
        std::env::set_var("BENCH_LK_ID", "bench-client");
        std::env::set_var("BENCH_LK_SECRET", "bench-secret");
        std::env::set_var("BENCH_JR_EMAIL", "bench@acme.test");
        std::env::set_var("BENCH_JR_TOKEN", "bench-token");
    }
    path
}

/// The least wall time a connection's requests can take: `latency` times the requests that
/// must go alone (a login before everything, a logout after) plus the others divided among the
/// concurrent slots.
fn bound(alone: usize, parallel: usize, concurrency: usize, latency: Duration) -> Duration {
    latency * ((alone + parallel.div_ceil(concurrency)) as u32)
}

async fn start_servers(
    looker_krs: usize,
    jira_krs: usize,
    latency_ms: u64,
) -> (FakeLooker, FakeJira, usize, usize) {
    let tiles = looker_krs.div_ceil(2);
    let jqls = jira_krs.div_ceil(2);
    let (inst, site) = servers_data(tiles, jqls);
    let looker = FakeLooker::start(inst).await;
    let jira = FakeJira::start(site).await;
    for rec in [&looker.server.rec, &jira.server.rec] {
        *rec.latency.lock().unwrap() = Duration::from_millis(latency_ms);
    }
    (looker, jira, tiles, jqls)
}

/// Requests in a log, and how many repeat an earlier one.
fn counts(log: &[String]) -> (usize, usize) {
    let distinct: std::collections::BTreeSet<&String> = log.iter().collect();
    (log.len(), log.len() - distinct.len())
}

async fn api_bench(looker_krs: usize, jira_krs: usize, latency_ms: u64) {
    let (looker, jira, tiles, jqls) = start_servers(looker_krs, jira_krs, latency_ms).await;
    let dir = tempfile::tempdir().unwrap();
    let job = bench_job(dir.path(), &looker, &jira, looker_krs, jira_krs, 0, None);
    let plan = job::load(&job).unwrap();
    let api = okrflow::sources::ApiOptions {
        as_of: Some(as_of()),
        ..Default::default()
    };
    let started = Instant::now();
    let values = pipeline::extract(&plan, as_of(), &api)
        .await
        .unwrap()
        .values;
    let wall = started.elapsed();
    let failed = values.iter().filter(|v| v.value.is_err()).count();
    let latency = Duration::from_millis(latency_ms);
    let dashboards = tiles.div_ceil(10);
    // Looker: a login, then a search and the tiles of each dashboard and a run per tile, then
    // a logout. Jira: the field list, then one search page per JQL (20 issues, pages of 50).
    let looker_requests = 2 + 2 * dashboards + tiles;
    let jira_requests = 1 + jqls;
    let concurrency = okrflow::sources::http::HttpDefaults::concurrency();
    let looker_bound = bound(2, 2 * dashboards + tiles, concurrency, latency);
    let jira_bound = bound(1, jqls, concurrency, latency);
    let bound = looker_bound.max(jira_bound);
    let (looker_made, looker_repeats) = counts(&looker.log());
    let (jira_made, jira_repeats) = counts(&jira.server.rec.log());
    println!(
        "{}",
        json!({
            "looker_krs": looker_krs, "jira_krs": jira_krs, "latency_ms": latency_ms,
            "concurrency": concurrency, "failed": failed,
            "wall_s": wall.as_secs_f64(), "bound_s": bound.as_secs_f64(),
            "ratio": wall.as_secs_f64() / bound.as_secs_f64(),
            "looker": {"requests": looker_made, "expected": looker_requests, "repeated": looker_repeats, "bound_s": looker_bound.as_secs_f64()},
            "jira": {"requests": jira_made, "expected": jira_requests, "repeated": jira_repeats, "bound_s": jira_bound.as_secs_f64()},
        })
    );
}

/// A whole run of `plan` as of the demo quarter's end into `out`: wall time and the values.
async fn timed_run(
    plan: &okrflow::sources::Plan,
    out: &Path,
) -> (f64, serde_json::Map<String, serde_json::Value>) {
    let options = pipeline::RunOptions {
        as_of: as_of(),
        output: Some(Location::Local(out.to_path_buf())),
        replay: None,
        stop: Default::default(),
    };
    let started = Instant::now();
    let report = pipeline::run(plan, &options).await.unwrap();
    let wall = started.elapsed().as_secs_f64();
    assert!(report.failed.is_empty(), "{:?}", report.failed);
    let mut values = serde_json::Map::new();
    for b in &report.tables["kr_snapshots"] {
        let ids = b.column_by_name("kr_id").unwrap().as_string::<i32>();
        let raw = b
            .column_by_name("value")
            .unwrap()
            .as_primitive::<Float64Type>();
        for i in 0..b.num_rows() {
            values.insert(
                ids.value(i).to_string(),
                json!(raw.is_valid(i).then(|| raw.value(i))),
            );
        }
    }
    (wall, values)
}

async fn incremental_bench(exports: &Path, new_files: usize) {
    let (looker, jira, _, _) = start_servers(0, 0, 0).await;
    let dir = tempfile::tempdir().unwrap();
    let folder = dir.path().join("exports");
    std::fs::create_dir_all(folder.join("members")).unwrap();
    let mut files: Vec<PathBuf> = common::walk(exports)
        .into_iter()
        .filter(|p| p.extension().is_some_and(|e| e == "parquet"))
        .collect();
    files.sort();
    let (members, mut processes): (Vec<_>, Vec<_>) = files
        .into_iter()
        .partition(|p| p.parent().is_some_and(|d| d.ends_with("members")));
    let added = processes.split_off(processes.len().saturating_sub(new_files));
    // Hard links: the same bytes and times, no copy.
    let link = |from: &PathBuf| {
        let to = folder.join(from.strip_prefix(exports).unwrap());
        std::fs::hard_link(from, to).unwrap();
    };
    members.iter().chain(&processes).for_each(link);
    let job = bench_job(dir.path(), &looker, &jira, 0, 0, 7, Some(&folder));
    let out = dir.path().join("out");
    // Each run in a process of its own: memory freed by one run stays with the process, so
    // a run after it in the same process would report the earlier run's peak.
    let run = |out: PathBuf| {
        let child = std::process::Command::new(std::env::current_exe().unwrap())
            .arg("run")
            .arg(&job)
            .arg(out)
            .stderr(std::process::Stdio::inherit())
            .output()
            .unwrap();
        assert!(child.status.success(), "the run failed");
        let line: serde_json::Value = serde_json::from_slice(&child.stdout).unwrap();
        let number = |k: &str| line[k].as_f64().unwrap();
        (
            number("seconds"),
            number("peak_rss_mib"),
            line["values"].clone(),
        )
    };
    let (first, first_peak, _) = run(out.clone());
    added.iter().for_each(link);
    let (nightly, nightly_peak, with_state) = run(out);
    let (fresh, fresh_peak, without_state) = run(dir.path().join("fresh"));
    println!(
        "{}",
        json!({
            "engine": "okrflow", "files": processes.len() + added.len(), "added_files": added.len(),
            "first_run_seconds": first, "second_run_seconds": nightly,
            "run_without_state_seconds": fresh, "second_over_first": nightly / first,
            "same_values": with_state == without_state, "values": with_state,
            "values_without_state": if with_state == without_state { json!(null) } else { json!(without_state) },
            "first_run_peak_rss_mib": first_peak, "second_run_peak_rss_mib": nightly_peak,
            "run_without_state_peak_rss_mib": fresh_peak,
        })
    );
}

/// `kr_snapshots` rows of `krs` key results for `day`, the `day_number`-th: values grow, a
/// tenth of the key results fail on every seventh day, and a quarter are done from day 400.
fn history_day(krs: usize, day: NaiveDate, day_number: usize) -> RecordBatch {
    use datafusion::arrow::array::{BooleanArray, Date32Array, Float64Array, StringArray};
    let failing = |i: usize| day_number % 7 == 0 && i % 10 == 0;
    let columns: Vec<(&str, Arc<dyn Array>)> = vec![
        (
            "run_id",
            Arc::new(StringArray::from_iter_values(
                (0..krs).map(|_| format!("run-{day}")),
            )),
        ),
        (
            "kr_id",
            Arc::new(StringArray::from_iter_values(
                (0..krs).map(|i| format!("KR{i:04}")),
            )),
        ),
        (
            "value",
            Arc::new(Float64Array::from_iter(
                (0..krs).map(|i| (!failing(i)).then_some((i + day_number) as f64)),
            )),
        ),
        (
            "status",
            Arc::new(StringArray::from_iter_values((0..krs).map(|i| {
                if i % 4 == 0 && day_number >= 400 {
                    "done"
                } else {
                    "on_track"
                }
            }))),
        ),
        (
            "stale",
            Arc::new(BooleanArray::from_iter((0..krs).map(|i| Some(failing(i))))),
        ),
        (
            "stale_since",
            Arc::new(Date32Array::from_iter(
                (0..krs).map(|i| failing(i).then(|| okrflow::engine::date32(day))),
            )),
        ),
        (
            "error",
            Arc::new(StringArray::from_iter(
                (0..krs).map(|i| failing(i).then_some("HTTP 500")),
            )),
        ),
        (
            "note",
            Arc::new(StringArray::from_iter((0..krs).map(|_| None::<&str>))),
        ),
        (
            "kr_definition_hash",
            Arc::new(StringArray::from_iter_values((0..krs).map(|_| "h"))),
        ),
    ];
    RecordBatch::try_from_iter(columns).unwrap()
}

async fn history_bench(krs: usize, days: usize) {
    use okrflow::sink::{history, history_state};
    let s3 = common::s3::FakeS3::start(&["out"]).await;
    for (k, v) in s3.env() {
        // SAFETY: set before any other thread reads the environment.
        unsafe { std::env::set_var(k, v) };
    }
    let first = NaiveDate::from_ymd_opt(2024, 1, 1).unwrap();
    let write_day = |n: usize| {
        let day = first + chrono::TimeDelta::days(n as i64);
        let batch = history_day(krs, day, n);
        let bytes = okrflow::parquet_io::encode(batch.schema(), &[batch]).unwrap();
        let path = s3.object(
            "out",
            &format!("kr_snapshots/as_of={day}/part-00000.parquet"),
        );
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, bytes).unwrap();
        // The day's run, recorded in `runs`: only recorded runs are history.
        let run = RecordBatch::try_from_iter(vec![(
            "run_id",
            Arc::new(datafusion::arrow::array::StringArray::from(vec![format!(
                "run-{day}"
            )])) as Arc<dyn Array>,
        )])
        .unwrap();
        let bytes = okrflow::parquet_io::encode(run.schema(), &[run]).unwrap();
        let path = s3.object("out", &format!("runs/as_of={day}/part-00000.parquet"));
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, bytes).unwrap();
        day
    };
    let last = (0..days).map(write_day).last().unwrap();
    let location = Location::parse("s3://out/", Path::new("."), &Default::default()).unwrap();
    let opened = okrflow::storage::open(&location, true).await.unwrap();
    let session = |as_of: NaiveDate| {
        let ctx = okrflow::engine::new_session();
        let run = okrflow::engine::date32(as_of);
        let batch = RecordBatch::try_from_iter(vec![(
            "as_of",
            Arc::new(datafusion::arrow::array::Date32Array::from(vec![run])) as Arc<dyn Array>,
        )])
        .unwrap();
        okrflow::engine::register_batches(&ctx, "run_info", vec![batch.clone()], batch.schema())
            .unwrap();
        // Every key result's window: a running quarter, 60 days before the last day written
        // to 30 after (the same for every run, so the kept rows serve the next).
        let day = |offset: i64| {
            let d = okrflow::engine::date32(last + chrono::TimeDelta::days(offset));
            Arc::new(datafusion::arrow::array::Date32Array::from(vec![d; krs])) as Arc<dyn Array>
        };
        let ids = datafusion::arrow::array::StringArray::from_iter_values(
            (0..krs).map(|i| format!("KR{i:04}")),
        );
        let definitions = RecordBatch::try_from_iter(vec![
            ("kr_id", Arc::new(ids) as Arc<dyn Array>),
            ("window_start", day(-60)),
            ("due", day(30)),
            ("period_end", day(30)),
        ])
        .unwrap();
        okrflow::engine::register_batches(
            &ctx,
            "kr_definitions",
            vec![definitions.clone()],
            definitions.schema(),
        )
        .unwrap();
        ctx
    };
    let kept_rows = |ctx: SessionContext| async move {
        let (_, rows) = okrflow::engine::collect(&ctx, &okrflow::engine::registry::HISTORY_KEPT)
            .await
            .unwrap();
        let mut text: Vec<String> = datafusion::arrow::util::pretty::pretty_format_batches(&rows)
            .unwrap()
            .to_string()
            .lines()
            .map(str::to_string)
            .collect();
        text.sort();
        text
    };
    let requests = || s3.requests.lock().unwrap().len();
    let measure = |what: &'static str| {
        let (started, before) = (Instant::now(), requests());
        move |rows: usize| json!({"read": what, "seconds": started.elapsed().as_secs_f64(), "requests": requests() - before, "rows": rows})
    };
    let next = last + chrono::TimeDelta::days(1);
    // Every day's partition, as before the state.
    let ctx = session(next);
    let done = measure("every partition");
    let every = done(history::register(&ctx, &opened).await.unwrap());
    // The first run with the state reads every partition too, and keeps the rows.
    let ctx = session(next);
    let done = measure("every partition, then keeping the rows");
    let keeping = done(history_state::register(&ctx, &opened, next).await.unwrap());
    // The run's own partition, then the next day's run.
    write_day(days);
    let after = next + chrono::TimeDelta::days(1);
    let ctx = session(after);
    let done = measure("the kept rows and the day since");
    let bounded = done(history_state::register(&ctx, &opened, after).await.unwrap());
    let from_state = kept_rows(ctx).await;
    let ctx = session(after);
    history::register(&ctx, &opened).await.unwrap();
    let same = from_state == kept_rows(ctx).await;
    println!(
        "{}",
        json!({"engine": "okrflow", "key_results": krs, "days": days, "reads": [every, keeping, bounded], "same_rows_picked": same})
    );
}

async fn nightly_bench(
    exports: &Path,
    looker_krs: usize,
    jira_krs: usize,
    tallyfy_krs: usize,
    latency_ms: u64,
) {
    let (looker, jira, _, _) = start_servers(looker_krs, jira_krs, latency_ms).await;
    let dir = tempfile::tempdir().unwrap();
    let job = bench_job(
        dir.path(),
        &looker,
        &jira,
        looker_krs,
        jira_krs,
        tallyfy_krs,
        Some(exports),
    );
    let plan = job::load(&job).unwrap();
    let options = pipeline::RunOptions {
        as_of: as_of(),
        output: Some(Location::Local(dir.path().join("out"))),
        replay: None,
        stop: Default::default(),
    };
    let started = Instant::now();
    let report = pipeline::run(&plan, &options).await.unwrap();
    let wall = started.elapsed();
    println!(
        "{}",
        json!({
            "key_results": plan.key_results.len(), "tallyfy_krs": tallyfy_krs,
            "latency_ms": latency_ms, "failed": report.failed.len(),
            "wall_s": wall.as_secs_f64(), "peak_rss_mib": peak_rss_mib(),
        })
    );
}
