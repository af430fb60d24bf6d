//! The Tallyfy state under `<output>/_okrflow/state/tallyfy/<connection>/`: a run that uses
//! what earlier runs kept gives exactly what a run into an empty output gives, after files
//! were added, changed and deleted, for an earlier date, and with a damaged state; and a run
//! reads again only the files it must (the manifest says which were indexed when).

mod common;

use common::{assert_same_rows, demo_plan, partition_rows, repo};
use okrflow::model::Location;
use okrflow::sources::Connection;
use serde_json::Value;
use std::path::{Path, PathBuf};

/// Columns that differ between two runs of the same numbers; and the forecast, which reads the
/// earlier dates an output holds (runs of other dates here, none afresh: tests/forecasts.rs
/// compares it through the kept history with a fresh output).
const RUN_COLUMNS: &[&str] = &[
    "run_id",
    "computed_at",
    "started_at",
    "finished_at",
    "forecast_value",
    "forecast_attainment",
    "forecast_progress",
    "forecast_points",
];

/// The demo job, reading its Tallyfy exports from `exports`.
fn plan_reading(exports: &Path) -> okrflow::sources::Plan {
    let mut plan = demo_plan();
    plan.connections.insert(
        "tallyfy".into(),
        Connection::Tallyfy(okrflow::sources::tallyfy::Exports {
            location: Location::Local(exports.to_path_buf()),
            engine: okrflow::sources::tallyfy::Engine::Local,
        }),
    );
    plan
}

/// The demo's export files, members included, as paths below `jobs/demo/tallyfy`.
fn demo_exports() -> Vec<PathBuf> {
    let root = repo().join("jobs/demo/tallyfy");
    common::walk(&root)
        .into_iter()
        .map(|p| p.strip_prefix(&root).unwrap().to_path_buf())
        .collect()
}

fn copy_in(exports: &Path, files: &[PathBuf]) {
    for f in files {
        let to = exports.join(f);
        std::fs::create_dir_all(to.parent().unwrap()).unwrap();
        std::fs::copy(repo().join("jobs/demo/tallyfy").join(f), to).unwrap();
    }
}

/// The key results' rows of a run of `exports` as of `as_of` into `out`.
async fn run(
    exports: &Path,
    as_of: &str,
    out: &Path,
) -> std::collections::BTreeMap<String, std::collections::BTreeMap<String, String>> {
    let report = common::run(&plan_reading(exports), as_of, out).await;
    assert!(report.failed.is_empty(), "{:?}", report.failed);
    partition_rows(
        &out.join(format!("kr_snapshots/as_of={as_of}")),
        "kr_id",
        RUN_COLUMNS,
    )
}

/// The same run into an empty output: no state.
async fn run_afresh(
    exports: &Path,
    as_of: &str,
) -> std::collections::BTreeMap<String, std::collections::BTreeMap<String, String>> {
    let fresh = tempfile::tempdir().unwrap();
    run(exports, as_of, fresh.path()).await
}

fn manifest(out: &Path) -> Value {
    let path = out.join("_okrflow/state/tallyfy/tallyfy/manifest.json");
    serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap()
}

/// The export files each index file of the state covers, in order.
fn indexed(out: &Path) -> Vec<Vec<String>> {
    manifest(out)["index"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            i["files"]
                .as_array()
                .unwrap()
                .iter()
                .map(|f| f["key"].as_str().unwrap().to_string())
                .collect()
        })
        .collect()
}

fn segments(out: &Path) -> usize {
    manifest(out)["latest"]["segments"]
        .as_array()
        .map_or(0, Vec::len)
}

fn value(
    rows: &std::collections::BTreeMap<String, std::collections::BTreeMap<String, String>>,
    kr: &str,
) -> String {
    rows[kr]["value"].clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runs_with_the_state_give_what_runs_without_it_give() {
    let exports = tempfile::tempdir().unwrap();
    let out = tempfile::tempdir().unwrap();
    let all = demo_exports();
    // The last snapshots of the vendor processes come later.
    let later: Vec<PathBuf> = [
        "ven-00_03.parquet",
        "ven-02_03.parquet",
        "ven-05_03.parquet",
    ]
    .map(PathBuf::from)
    .to_vec();
    let first: Vec<PathBuf> = all.iter().filter(|f| !later.contains(f)).cloned().collect();
    copy_in(exports.path(), &first);
    let as_of = "2026-04-30";

    let before = run(exports.path(), as_of, out.path()).await;
    assert_same_rows(
        &before,
        &run_afresh(exports.path(), as_of).await,
        "the first run",
    );
    let process_files = first.iter().filter(|f| !f.starts_with("members")).count();
    assert_eq!(
        indexed(out.path()).iter().map(Vec::len).sum::<usize>(),
        process_files
    );
    assert_eq!(segments(out.path()), 1);

    // Three new files: only they are indexed, and their snapshots make a second segment.
    copy_in(exports.path(), &later);
    let after = run(exports.path(), as_of, out.path()).await;
    assert_same_rows(
        &after,
        &run_afresh(exports.path(), as_of).await,
        "after new files",
    );
    let index = indexed(out.path());
    assert_eq!(index.len(), 2, "{index:?}");
    let mut new = index[1].clone();
    new.sort();
    assert_eq!(
        new,
        [
            "ven-00_03.parquet",
            "ven-02_03.parquet",
            "ven-05_03.parquet"
        ]
    );
    assert_eq!(segments(out.path()), 2);
    // The new snapshots matter: the vendor key result's value moved (C1-KR2, vendors
    // onboarded in the quarter, complete).
    assert_ne!(value(&before, "C1-KR2"), value(&after, "C1-KR2"));

    // A file changed (another snapshot's bytes under its name) is indexed again, alone.
    std::fs::copy(
        repo().join("jobs/demo/tallyfy/ven-01_01.parquet"),
        exports.path().join("ven-01_03.parquet"),
    )
    .unwrap();
    let changed = run(exports.path(), as_of, out.path()).await;
    assert_same_rows(
        &changed,
        &run_afresh(exports.path(), as_of).await,
        "after a change",
    );
    assert_eq!(indexed(out.path()).last().unwrap(), &["ven-01_03.parquet"]);

    // A deleted file's snapshots are gone (its index entries are left out, as its rows in
    // the segments), and nothing is indexed.
    let entries = indexed(out.path()).len();
    std::fs::remove_file(exports.path().join("ven-05_03.parquet")).unwrap();
    let deleted = run(exports.path(), as_of, out.path()).await;
    assert_same_rows(
        &deleted,
        &run_afresh(exports.path(), as_of).await,
        "after a deletion",
    );
    assert_eq!(indexed(out.path()).len(), entries);
    assert_ne!(value(&deleted, "C1-KR2"), value(&after, "C1-KR2"));

    // An earlier date: the snapshots of its day, not the newest the state holds.
    for day in ["2026-02-15", "2026-03-20"] {
        let earlier = run(exports.path(), day, out.path()).await;
        assert_same_rows(&earlier, &run_afresh(exports.path(), day).await, day);
    }
    // And back to the quarter's end.
    let again = run(exports.path(), as_of, out.path()).await;
    assert_same_rows(&again, &deleted, "back at the quarter's end");
}

/// A damaged state (a segment's rows unreadable, a file the manifest names missing, a
/// manifest that is not JSON) costs reading, never a value.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_damaged_state_is_read_around() {
    let exports = tempfile::tempdir().unwrap();
    copy_in(exports.path(), &demo_exports());
    let out = tempfile::tempdir().unwrap();
    let as_of = "2026-04-30";
    let expected = run(exports.path(), as_of, out.path()).await;
    let state = out.path().join("_okrflow/state/tallyfy/tallyfy");
    let folder = manifest(out.path())["latest"]["segments"][0]["folder"]
        .as_str()
        .unwrap()
        .to_string();
    for file in common::walk(&state.join(&folder)) {
        std::fs::write(file, b"not parquet").unwrap();
    }
    assert_same_rows(
        &run(exports.path(), as_of, out.path()).await,
        &expected,
        "damaged rows",
    );

    let chosen = manifest(out.path())["latest"]["segments"][0]["chosen"]
        .as_str()
        .unwrap()
        .to_string();
    std::fs::remove_file(state.join(chosen)).unwrap();
    assert_same_rows(
        &run(exports.path(), as_of, out.path()).await,
        &expected,
        "a missing file",
    );

    std::fs::write(state.join("manifest.json"), b"{").unwrap();
    assert_same_rows(
        &run(exports.path(), as_of, out.path()).await,
        &expected,
        "a bad manifest",
    );
    assert_eq!(segments(out.path()), 1, "the state is whole again");
}

/// Copies a folder (an output) to `to`.
fn copy_dir(from: &Path, to: &Path) {
    for f in common::walk(from) {
        let target = to.join(f.strip_prefix(from).unwrap());
        std::fs::create_dir_all(target.parent().unwrap()).unwrap();
        std::fs::copy(&f, target).unwrap();
    }
}

/// Day after day, with the exports unreadable for two of the days (stale values, then good
/// again): a run that reads the kept history (`_okrflow/state/history`) and the days after
/// it gives the rows a run that reads every day's snapshots gives.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_kept_history_gives_what_every_days_snapshots_give() {
    let exports = tempfile::tempdir().unwrap();
    copy_in(exports.path(), &demo_exports());
    let out = tempfile::tempdir().unwrap();
    let broken = exports.path().join("zz-broken.parquet");
    for (day, unreadable) in [
        ("2026-03-02", false),
        ("2026-03-03", false),
        ("2026-03-04", true),
        ("2026-03-05", true),
        ("2026-03-06", false),
    ] {
        if unreadable {
            std::fs::write(&broken, b"not parquet").unwrap();
        } else if broken.exists() {
            std::fs::remove_file(&broken).unwrap();
        }
        // The same output without the kept history: every snapshot is read.
        let whole = tempfile::tempdir().unwrap();
        copy_dir(out.path(), whole.path());
        let _ = std::fs::remove_dir_all(whole.path().join("_okrflow/state/history"));
        let plan = plan_reading(exports.path());
        let kept = common::run(&plan, day, out.path()).await;
        let read = common::run(&plan, day, whole.path()).await;
        assert_eq!(kept.failed.len(), read.failed.len(), "{day}");
        let part = format!("kr_snapshots/as_of={day}");
        let rows = partition_rows(&out.path().join(&part), "kr_id", RUN_COLUMNS);
        assert_same_rows(
            &rows,
            &partition_rows(&whole.path().join(&part), "kr_id", RUN_COLUMNS),
            day,
        );
        assert_eq!(rows["O1-KR1"]["stale"], unreadable.to_string(), "{day}");
        let manifest = out.path().join("_okrflow/state/history/manifest.json");
        // The first day has no history to keep.
        assert_eq!(manifest.exists(), day != "2026-03-02", "{day}");
        if manifest.exists() {
            let history: Value = serde_json::from_slice(&std::fs::read(manifest).unwrap()).unwrap();
            // It keeps the days before the run's.
            let before = (common::date(day) - chrono::TimeDelta::days(1)).to_string();
            assert_eq!(history["through"], before.as_str(), "{day}");
        }
    }
    // On the last day O1-KR1 is read again: not stale, and its stale days are in the history.
    let last = partition_rows(
        &out.path().join("kr_snapshots/as_of=2026-03-06"),
        "kr_id",
        RUN_COLUMNS,
    );
    assert_eq!(last["O1-KR1"]["stale"], "false");
}

/// Export files added one a night: past 32 index files the state merges them; each night
/// ranks the last night's newest snapshots and the new file's entries (some new entries older
/// than the snapshot chosen the night before); and the snapshots chosen at the end are those
/// chosen from all files read at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_index_files_are_merged_and_choose_the_same_snapshots() {
    use okrflow::sources::tallyfy::{loader, register_views, register_views_once, state::StateDir};
    let generated = tempfile::tempdir().unwrap();
    okrflow::demo_data::write_scaled(generated.path(), 2, 40, 1).unwrap();
    let mut files: Vec<PathBuf> = common::walk(generated.path())
        .into_iter()
        .filter(|p| !p.starts_with(generated.path().join("members")))
        .collect();
    files.sort();
    assert_eq!(files.len(), 40);
    let exports = tempfile::tempdir().unwrap();
    let out = tempfile::tempdir().unwrap();
    let output = okrflow::storage::open(&Location::Local(out.path().into()), true)
        .await
        .unwrap();
    let location = Location::Local(exports.path().into());
    let chosen = "SELECT process_id, src_file, snapshot_at FROM tallyfy_snapshots ORDER BY 1";
    let mut most = 0;
    for (night, f) in files.iter().enumerate() {
        std::fs::copy(f, exports.path().join(f.file_name().unwrap())).unwrap();
        let ctx = okrflow::engine::new_session();
        let loaded = loader::register(&ctx, "tallyfy", &location).await.unwrap();
        let scratch = tempfile::tempdir().unwrap();
        let mut state = StateDir::open(Some(&output), "tallyfy", scratch.path())
            .await
            .unwrap();
        let built = register_views(
            &ctx,
            &loaded,
            common::date("2026-04-30"),
            scratch.path(),
            None,
            &mut state,
        )
        .await
        .unwrap();
        assert_eq!(built.indexed_files, 1);
        // From the second night on, the last night's newest snapshots and the new entries are
        // ranked, not the whole index.
        assert_eq!(built.ranked_since_chosen, night > 0, "night {night}");
        state.save().await.unwrap();
        most = most.max(indexed(out.path()).len());
        if f == files.last().unwrap() {
            let with_state = query(&ctx, chosen).await;
            let ctx = okrflow::engine::new_session();
            let loaded = loader::register(&ctx, "t", &location).await.unwrap();
            register_views_once(
                &ctx,
                &loaded,
                common::date("2026-04-30"),
                scratch.path(),
                None,
            )
            .await
            .unwrap();
            assert_eq!(with_state, query(&ctx, chosen).await);
            // Files hold a process's snapshots in order, wrapping round at the last file, so
            // some process's newest snapshot came in a file added before one holding an older
            // snapshot of it: that night, the earlier night's choice had to win the ranking.
            let older_later = "SELECT count(*) AS n FROM tallyfy_snapshots s \
                JOIN (SELECT process_id, max(src_path) AS last_path FROM tallyfy_raw \
                      GROUP BY process_id) r ON r.process_id = s.process_id \
                WHERE s.src_path <> r.last_path";
            let table = query(&ctx, older_later).await;
            let n: usize = table
                .lines()
                .find_map(|l| l.trim_matches(|c| c == '|' || c == ' ').parse().ok())
                .unwrap();
            assert_eq!(n, 7, "processes whose newest file came first:\n{table}");
        }
    }
    assert!(most <= 33, "{most} index files");
    assert!(indexed(out.path()).len() < 40);
    assert_eq!(indexed(out.path()).iter().map(Vec::len).sum::<usize>(), 40);
}

async fn query(ctx: &datafusion::prelude::SessionContext, sql: &str) -> String {
    let batches = ctx.sql(sql).await.unwrap().collect().await.unwrap();
    datafusion::arrow::util::pretty::pretty_format_batches(&batches)
        .unwrap()
        .to_string()
}
