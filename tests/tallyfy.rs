//! The Tallyfy source on small hand-written snapshots (tests/fixtures/tallyfy/dedup/): the
//! newest whole snapshot per process, the as-of cut, older layouts and empty markers.

mod common;
use common::date;
use datafusion::arrow::util::pretty::pretty_format_batches;
use datafusion::prelude::SessionContext;
use okrflow::demo_data::write_export;
use okrflow::model::Location;
use okrflow::sources::tallyfy::query::QueryParams;
use okrflow::sources::tallyfy::{loader, register_views_once};
use std::path::Path;

/// Turns every fixture TSV into a Parquet export under `dir`.
fn exports(dir: &Path) {
    let fixtures = common::repo().join("tests/fixtures/tallyfy/dedup");
    for entry in std::fs::read_dir(&fixtures).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "tsv") {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        let mut lines = text.lines();
        let header: Vec<&str> = lines.next().unwrap().split('\t').collect();
        let rows: Vec<Vec<String>> = lines
            .map(|l| l.split('\t').map(str::to_string).collect())
            .collect();
        let name = path.file_stem().unwrap().to_string_lossy().into_owned();
        write_export(&dir.join(format!("{name}.parquet")), &header, &rows).unwrap();
    }
}

async fn query(ctx: &SessionContext, sql: &str) -> String {
    pretty_format_batches(&ctx.sql(sql).await.unwrap().collect().await.unwrap())
        .unwrap()
        .to_string()
}

async fn session(as_of: &str) -> (tempfile::TempDir, SessionContext) {
    session_for(as_of, None).await
}

/// A session whose `tallyfy_latest` has only the columns `queries` read (`None`: all).
async fn session_for(
    as_of: &str,
    queries: Option<&[(&str, QueryParams)]>,
) -> (tempfile::TempDir, SessionContext) {
    let dir = tempfile::tempdir().unwrap();
    exports(dir.path());
    let ctx = okrflow::engine::new_session();
    let loaded = loader::register(&ctx, "t", &Location::Local(dir.path().to_path_buf()))
        .await
        .unwrap();
    assert_eq!(loaded.stats.process_files, 5);
    register_views_once(
        &ctx,
        &loaded,
        date(as_of),
        &dir.path().join("_scratch"),
        queries,
    )
    .await
    .unwrap();
    (dir, ctx)
}

#[tokio::test]
async fn the_newest_whole_snapshot_wins_and_rows_are_never_mixed() {
    let (_dir, ctx) = session("2026-02-20").await;
    let snapshots = query(
        &ctx,
        "SELECT process_id, src_file FROM tallyfy_snapshots ORDER BY process_id",
    )
    .await;
    assert_eq!(
        snapshots
            .lines()
            .filter(|l| l.starts_with("| P"))
            .collect::<Vec<_>>(),
        [
            "| P1         | p1_newer.parquet      |",
            "| P2         | p2_b.parquet          |",
            "| P3         | p3_45_columns.parquet |"
        ],
        "{snapshots}"
    );
    // P1's newer snapshot deleted task 2 and its comment: neither comes back.
    let tasks = query(
        &ctx,
        "SELECT process_task_id FROM tallyfy_tasks WHERE process_id = 'P1'",
    )
    .await;
    assert!(
        tasks.contains("P1-t1") && !tasks.contains("P1-t2"),
        "{tasks}"
    );
    let comments = query(&ctx, "SELECT count(*) AS n FROM tallyfy_comments").await;
    assert!(comments.contains("| 0 "), "{comments}");
}

#[tokio::test]
async fn as_of_an_earlier_day_the_older_snapshot_is_used() {
    let (_dir, ctx) = session("2026-02-11").await;
    let tasks = query(&ctx, "SELECT process_task_id, completed_on FROM tallyfy_tasks WHERE process_id = 'P1' ORDER BY 1").await;
    assert!(
        tasks.contains("| P1-t1           | 2026-02-09T10:00:00 |"),
        "{tasks}"
    );
    assert!(
        tasks.contains("| P1-t2           |                     |"),
        "{tasks}"
    );
    let issues = query(
        &ctx,
        "SELECT no_of_issue_reported, no_of_issue_resolved FROM tallyfy_comments",
    )
    .await;
    assert!(
        issues.contains("| 2                    | 0                    |"),
        "{issues}"
    );
}

#[tokio::test]
async fn older_layouts_and_empty_markers_are_typed_once() {
    let (_dir, ctx) = session("2026-02-20").await;
    let p = query(&ctx, "SELECT process_id, process_status, process_completed_at, done_at, started_at, duration_days, total_tasks_in_process FROM tallyfy_processes ORDER BY 1").await;
    // P1 (49 columns) has process_completed_at; P3 (older layout) falls back to its last
    // task's completion.
    assert!(
        p.contains("| P1         | complete       | 2026-02-12T08:30:00  | 2026-02-12T08:30:00 |"),
        "{p}"
    );
    // P3: `Complete` → complete, done 5 Feb 09:00 (its file has no assigned_or_shown_on
    // column, so no start and no duration); `3.0` → 3.
    assert!(
        p.contains("| P3         | complete       |                      | 2026-02-05T09:00:00 |"),
        "{p}"
    );
    assert!(p.contains("| 3                      |"), "{p}");
    let t = query(&ctx, "SELECT process_task_id, process_task_status, due_by, has_form_fields FROM tallyfy_tasks WHERE process_id = 'P3' ORDER BY 1").await;
    assert!(
        t.contains(
            "| P3-t1           | shown               | 2026-02-04T09:00:00 | true            |"
        ),
        "{t}"
    );
    assert!(
        t.contains(
            "| P3-t2           | shown               |                     | false           |"
        ),
        "{t}"
    );
    assert!(
        t.contains(
            "| P3-t3           | hidden              |                     |                 |"
        ),
        "{t}"
    );
}

/// `tallyfy_latest` is computed with only the columns the key results read (through the
/// views, in subqueries, in `tallyfy_processes`): their answers are those of the whole table,
/// and a column nobody reads is left NULL.
#[tokio::test]
async fn only_the_columns_the_queries_read_are_computed_and_answers_stay() {
    let params = QueryParams {
        as_of: date("2026-02-20"),
        period_start: date("2026-01-01"),
        period_end: date("2026-03-31"),
    };
    let queries = [
        "SELECT count(*) FROM tallyfy_tasks WHERE due_by IS NOT NULL",
        "SELECT count(*) FROM tallyfy_latest WHERE process_task_id IN \
         (SELECT process_task_id FROM tallyfy_latest WHERE completed_on < $period_end)",
        "SELECT sum(duration_days) FROM tallyfy_processes WHERE done_at >= $period_start",
    ];
    let planned: Vec<(&str, QueryParams)> = queries.iter().map(|q| (*q, params)).collect();
    let (_a, whole) = session_for("2026-02-20", None).await;
    let (_b, narrow) = session_for("2026-02-20", Some(&planned)).await;
    for sql in queries {
        let answer = |ctx| async move {
            let df = okrflow::sources::tallyfy::query::plan(ctx, sql, Some(&params));
            pretty_format_batches(&df.await.unwrap().collect().await.unwrap())
                .unwrap()
                .to_string()
        };
        let (expected, got) = (answer(&whole).await, answer(&narrow).await);
        assert_eq!(got, expected, "{sql}");
    }
    let counts =
        "SELECT count(due_by) AS due, count(process_task_status) AS status FROM tallyfy_latest";
    let (whole, narrow) = (query(&whole, counts).await, query(&narrow, counts).await);
    assert!(whole.contains("| 3   | 5      |"), "{whole}");
    assert!(narrow.contains("| 3   | 0      |"), "{narrow}");
}

/// Before the first snapshot no row is chosen: the views are empty, not an error, and a key
/// result counts 0.
#[tokio::test]
async fn before_the_first_snapshot_the_views_are_empty() {
    let params = QueryParams {
        as_of: date("2020-01-01"),
        period_start: date("2020-01-01"),
        period_end: date("2020-03-31"),
    };
    let queries = [("SELECT count(*) AS n FROM tallyfy_tasks", params)];
    let (_dir, ctx) = session_for("2020-01-01", Some(&queries)).await;
    for view in ["tallyfy_latest", "tallyfy_tasks", "tallyfy_processes"] {
        let n = query(&ctx, &format!("SELECT count(*) AS n FROM {view}")).await;
        assert!(n.contains("| 0 |"), "{view}: {n}");
    }
}

/// `tallyfy_snapshots` of the exports in `dir` as of `day`, read in parts of at most
/// `part_rows` rows (and ranked in groups of at most as many index entries), with how many
/// parts that made and how many process files there are.
async fn snapshots_in_parts(
    dir: &Path,
    day: &str,
    part_rows: usize,
) -> (usize, usize, Vec<String>) {
    let ctx = okrflow::engine::new_session();
    let location = Location::Local(dir.to_path_buf());
    let loaded = loader::register_in_parts(&ctx, "t", &location, part_rows)
        .await
        .unwrap();
    let scratch = tempfile::tempdir().unwrap();
    let built = register_views_once(&ctx, &loaded, date(day), scratch.path(), None)
        .await
        .unwrap();
    assert_eq!(built.indexed_files, loaded.stats.process_files);
    // A group per part: each part's entries are ranked with the newest of the parts before.
    assert_eq!(built.rank_groups, built.index_parts.max(1));
    let chosen = "SELECT process_id, src_file, snapshot_at FROM tallyfy_snapshots ORDER BY 1";
    // tallyfy_processes and tallyfy_latest were computed a part at a time too.
    let processes = "SELECT * FROM tallyfy_processes ORDER BY process_id";
    let latest = "SELECT type, count(*) AS n, count(DISTINCT process_id) AS processes, \
        max(snapshot_file) AS newest FROM tallyfy_latest GROUP BY 1 ORDER BY 1";
    let mut found = Vec::new();
    for sql in [chosen, processes, latest] {
        found.push(query(&ctx, sql).await);
    }
    (built.index_parts, loaded.stats.process_files, found)
}

/// Read a few files at a time (as large exports are), and ranked a part at a time, the same
/// snapshots are chosen as when all are read at once: on the dedup fixtures at three dates,
/// and on scaled data where every snapshot is repeated in two files, so ties are broken
/// across parts.
#[tokio::test]
async fn snapshots_chosen_part_by_part_are_those_chosen_at_once() {
    let fixtures = tempfile::tempdir().unwrap();
    exports(fixtures.path());
    let scaled = tempfile::tempdir().unwrap();
    okrflow::demo_data::write_scaled(scaled.path(), 2, 20, 2).unwrap();
    // Two export ids of one process ('P9' and ' P9', in two files): two chosen snapshots,
    // one tallyfy_processes row over the rows of both, though they are read in two parts.
    let padded = tempfile::tempdir().unwrap();
    exports(padded.path());
    let header = [
        "process_id",
        "process_status",
        "process_last_modified",
        "type",
    ];
    for (file, id, status) in [("p9_a", "P9", "active"), ("p9_b", " P9", "complete")] {
        let row = [id, status, "2026-02-11 09:00:00", "process_task"];
        let rows = vec![row.map(str::to_string).to_vec()];
        write_export(
            &padded.path().join(format!("{file}.parquet")),
            &header,
            &rows,
        )
        .unwrap();
    }
    for (dir, day, processes) in [
        (fixtures.path(), "2026-02-11", 3),
        (fixtures.path(), "2026-02-20", 3),
        (fixtures.path(), "2020-01-01", 0),
        (scaled.path(), "2026-04-30", 2 * 24),
        (padded.path(), "2026-02-20", 5),
    ] {
        let (one, _, at_once) = snapshots_in_parts(dir, day, usize::MAX).await;
        let (many, files, in_parts) = snapshots_in_parts(dir, day, 1).await;
        assert_eq!(one, 1, "one part");
        assert!(files >= 5, "{files} files");
        assert_eq!(many, files, "a part per file");
        assert_eq!(at_once, in_parts, "{} as of {day}", dir.display());
        let rows = at_once[0]
            .lines()
            .filter(|l| l.starts_with("| ") && !l.contains("process_id"));
        assert_eq!(rows.count(), processes, "{}", at_once[0]);
        let p9 = at_once[1].lines().filter(|l| l.starts_with("| P9 "));
        let p9: Vec<_> = p9.collect();
        assert_eq!(
            p9.len(),
            usize::from(dir == padded.path()),
            "{}",
            at_once[1]
        );
        // max() of the two snapshots' columns: 'complete' over 'active'.
        assert!(p9.iter().all(|l| l.contains("| complete ")), "{p9:?}");
    }
}

/// A folder without process exports gives empty views with their columns (no part to read).
#[tokio::test]
async fn without_exports_the_views_are_empty() {
    let dir = tempfile::tempdir().unwrap();
    let ctx = okrflow::engine::new_session();
    let location = Location::Local(dir.path().to_path_buf());
    let loaded = loader::register(&ctx, "t", &location).await.unwrap();
    assert_eq!(loaded.stats.process_files, 0);
    register_views_once(
        &ctx,
        &loaded,
        date("2026-04-30"),
        &dir.path().join("_scratch"),
        None,
    )
    .await
    .unwrap();
    let snapshots = query(
        &ctx,
        "SELECT count(*) AS n, min(src_file) AS f FROM tallyfy_snapshots",
    )
    .await;
    assert!(snapshots.contains("| 0 |"), "{snapshots}");
    let tasks = query(&ctx, "SELECT count(*) AS n FROM tallyfy_tasks").await;
    assert!(tasks.contains("| 0 |"), "{tasks}");
}

/// The benchmark data set is the demo organisation copied: counts multiply, ratios,
/// medians and maxima stay — so benchmarks measure the demo's work at scale.
#[tokio::test]
async fn the_scaled_data_set_gives_the_demo_numbers_times_the_copies() {
    let dir = tempfile::tempdir().unwrap();
    let exports = dir.path().join("exports");
    // Every snapshot twice, in two files: twice the rows, the same processes and values.
    let stats = okrflow::demo_data::write_scaled(&exports, 3, 17, 2).unwrap();
    assert_eq!(
        stats.files, 17,
        "16 export files (8 a repeat) and the members file"
    );
    let once = dir.path().join("once");
    let single = okrflow::demo_data::write_scaled(&once, 3, 8, 1).unwrap();
    assert_eq!(
        (stats.rows, stats.processes),
        (2 * single.rows, single.processes)
    );
    let crowded = okrflow::demo_data::write_scaled(&once, 3, 4, 1);
    assert!(crowded.unwrap_err().to_string().contains("use at least"));
    let demo = common::demo_plan();
    let mut scaled = demo.clone();
    let Some(okrflow::job::Connection::Tallyfy(location)) = scaled.connections.get_mut("tallyfy")
    else {
        unreachable!()
    };
    location.location = okrflow::model::Location::Local(exports);
    let a = common::run(&demo, "2026-11-23", &dir.path().join("a")).await;
    let b = common::run(&scaled, "2026-11-23", &dir.path().join("b")).await;
    for (kr, factor) in [
        ("O1-KR1", 3.0),
        ("O2-KR1", 3.0),
        ("O1-KR2", 1.0),
        ("O1-KR3", 1.0),
        ("O2-KR2", 1.0),
        ("C1-KR2", 1.0),
        ("O3-KR1", 1.0),
    ] {
        let (x, y) = (
            common::kr(&a, kr).value.unwrap(),
            common::kr(&b, kr).value.unwrap(),
        );
        assert!((y - x * factor).abs() < 1e-9, "{kr}: demo {x}, scaled {y}");
    }
}
