//! Clean stops: SIGTERM or SIGINT sent to the `okrflow` binary while its Athena query hangs on
//! the loopback Athena (`common::athena`, a query RUNNING until stopped). The stopped command
//! exits 143 or 130, stops its queries with `StopQueryExecution`, releases the lock, leaves
//! no staging and leaves every committed file byte for byte as it was. And a backfill
//! stopped between dates keeps the dates it committed and no other.

mod common;

use common::athena::{FakeAthena, KEY, lake_job};
use common::{date, walk};
use okrflow::backfill::{self, BackfillError, DatePlan, Mode, RangeOptions};
use okrflow::model::Location;
use okrflow::stop::{Signal, Stop, Stopped};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

const HANG: &str = "/* hang */";

/// A job of one Athena key result; `hang` makes its query hang until stopped.
fn job(hang: bool) -> String {
    let sql = format!(
        "SELECT {} count(*) FROM processes WHERE status = 'completed' AND completed_at < $as_of_end",
        if hang { HANG } else { "" }
    );
    lake_job("timeout_secs = 600")
        + &format!(
            r#"
[[objectives]]
id = "A"
title = "Onboarding, in the lake"
owner = "o"
period = "FY27-Q1"

[[objectives.key_results]]
id = "A-KR1"
title = "Completed processes"
owner = "o"
measure = {{ kpi = {{ start = 0, target = 10 }} }}
source = {{ athena = {{ connection = "lake", sql = """{sql}""" }} }}
"#
        )
}

fn okrflow(dir: &Path, url: &str, args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_okrflow"));
    common::athena::reaching(&mut command, url)
        .current_dir(dir)
        .args(args);
    command
}

/// Every file under `dir` with its bytes.
fn files(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    walk(dir)
        .into_iter()
        .map(|p| {
            let bytes = std::fs::read(&p).unwrap();
            (p.strip_prefix(dir).unwrap().to_path_buf(), bytes)
        })
        .collect()
}

/// `okrflow` started with `args` in `dir`, its output captured.
fn spawn(dir: &Path, url: &str, args: &[&str]) -> Child {
    okrflow(dir, url, args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// What a test starts from: a folder with the jobs `ok.toml` and `hang.toml`, the fake
/// Athena and its URL, and the output's files once `ok.toml` has run (exit 0).
struct Before {
    dir: tempfile::TempDir,
    fake: Arc<FakeAthena>,
    url: String,
    files: BTreeMap<PathBuf, Vec<u8>>,
}

/// `ok.toml` run as of `as_of` into `out/`.
async fn committed_before(as_of: &str) -> Before {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("ok.toml"), job(false)).unwrap();
    std::fs::write(dir.path().join("hang.toml"), job(true)).unwrap();
    let (fake, url) = FakeAthena::start(dir.path(), KEY).await;
    let mut run = okrflow(dir.path(), &url, &["run", "ok.toml", "--as-of", as_of]);
    let done = tokio::task::spawn_blocking(move || run.output().unwrap())
        .await
        .unwrap();
    assert_eq!(done.status.code(), Some(0), "{}", text(&done));
    let files = files(&dir.path().join("out"));
    let partition = format!("kr_snapshots/as_of={as_of}");
    assert!(
        files.keys().any(|p| p.starts_with(&partition)),
        "{:?}",
        files.keys()
    );
    Before {
        dir,
        fake,
        url,
        files,
    }
}

fn text(o: &Output) -> String {
    format!(
        "{}\n{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// Waits until `hung` queries hang and each has been polled (so okrflow waits on it), then
/// sends `signal` and waits for the process to end; its output and the hung queries' ids.
async fn signal_when_hung(
    fake: &FakeAthena,
    mut child: Child,
    hung: usize,
    signal: libc::c_int,
) -> (Output, Vec<String>) {
    let deadline = Instant::now() + Duration::from_secs(120);
    let ids = loop {
        let queries = fake.queries_with(HANG);
        if queries.len() >= hung && queries.iter().all(|(_, polls)| *polls > 0) {
            break queries.into_iter().map(|(id, _)| id).collect::<Vec<_>>();
        }
        if let Some(status) = child.try_wait().unwrap() {
            panic!("okrflow ended before its query hung: {status}");
        }
        assert!(Instant::now() < deadline, "no hung query: {queries:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    // SAFETY: kill(2) on the child's pid, which it still is (the child is not yet reaped).
    assert_eq!(unsafe { libc::kill(child.id() as libc::pid_t, signal) }, 0);
    let deadline = Instant::now() + Duration::from_secs(60);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            child.kill().unwrap();
            panic!("okrflow did not stop within 60 s of the signal");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    (child.wait_with_output().unwrap(), ids)
}

/// What every stopped command must leave: its queries stopped, no lock, no staging, and the
/// output's files exactly as before.
fn assert_left_as_before(before: &Before, hung: &[String], out: &str) {
    let stops = before.fake.stops();
    for id in hung {
        assert!(stops.contains(id), "{id} not stopped: {stops:?}\n{out}");
    }
    let output = before.dir.path().join("out");
    assert!(common::lock_released(&output), "{out}");
    let staging: Vec<_> = std::fs::read_dir(output.join("_okrflow/staging"))
        .into_iter()
        .flatten()
        .collect();
    assert!(staging.is_empty(), "{staging:?}");
    // the lock is rewritten (taken, released), never deleted; the rest is as it was
    let is_lock =
        |p: &std::path::Path| p.starts_with("_okrflow") && p.to_string_lossy().contains("lock.");
    let after = files(&output);
    let added: Vec<_> = after
        .keys()
        .filter(|p| !before.files.contains_key(*p) && !is_lock(p))
        .collect();
    assert!(added.is_empty(), "the stopped command wrote {added:?}");
    for (path, bytes) in before.files.iter().filter(|(p, _)| !is_lock(p)) {
        assert!(
            after.get(path) == Some(bytes),
            "{} changed or went",
            path.display()
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_during_a_hung_query_stops_it_and_exits_143() {
    let before = committed_before("2026-03-14").await;
    let args = ["run", "hang.toml", "--as-of", "2026-03-15"];
    let child = spawn(before.dir.path(), &before.url, &args);
    let (stopped, hung) = signal_when_hung(&before.fake, child, 1, libc::SIGTERM).await;
    let out = text(&stopped);
    assert_eq!(stopped.status.code(), Some(143), "{out}");
    assert!(
        out.contains("stopped by SIGTERM: nothing of this run was committed"),
        "{out}"
    );
    assert_left_as_before(&before, &hung, &out);
    // quarter_scores/period=FY27-Q1 is the one partition a later date's run replaces: it is
    // the 14th's still (checked byte for byte above), and no table has a 15 March partition.
    assert!(
        !walk(&before.dir.path().join("out"))
            .iter()
            .any(|p| p.to_string_lossy().contains("as_of=2026-03-15")),
        "{out}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigint_during_a_backfills_hung_queries_stops_them_all_and_exits_130() {
    let before = committed_before("2026-03-13").await;
    let args = [
        "backfill",
        "hang.toml",
        "--from",
        "2026-03-14",
        "--to",
        "2026-03-15",
        "--concurrency",
        "2",
    ];
    let child = spawn(before.dir.path(), &before.url, &args);
    // Both dates' queries run at once, and both are stopped.
    let (stopped, hung) = signal_when_hung(&before.fake, child, 2, libc::SIGINT).await;
    let out = text(&stopped);
    assert_eq!(stopped.status.code(), Some(130), "{out}");
    assert_eq!(hung.len(), 2, "{hung:?}");
    assert!(out.contains("stopped by SIGINT"), "{out}");
    assert_left_as_before(&before, &hung, &out);
}

/// A stop between dates ends the range before the next one (an extraction under way is
/// dropped): the dates committed stay, whole, and the lock is released.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backfill_stopped_between_dates_keeps_the_dates_before() {
    let plan = common::demo_plan();
    let out = tempfile::tempdir().unwrap();
    let stop = Stop::new();
    let options = RangeOptions {
        mode: Mode::Backfill,
        from: date("2026-03-02"),
        to: date("2026-03-04"),
        krs: Vec::new(),
        force: false,
        concurrency: 2,
        output: Some(Location::Local(out.path().to_path_buf())),
        stop: stop.clone(),
    };
    let fire = |d: &DatePlan| {
        if d.date == date("2026-03-02") {
            stop.fire(Signal::Terminate);
        }
    };
    let e = backfill::run(&plan, &options, &fire).await.unwrap_err();
    assert!(
        matches!(e, BackfillError::Stopped(Stopped(Signal::Terminate))),
        "{e}"
    );
    for table in ["kr_snapshots", "objective_snapshots", "runs"] {
        let dates: Vec<String> = std::fs::read_dir(out.path().join(table))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(dates, ["as_of=2026-03-02"], "{table}");
    }
    assert!(common::lock_released(out.path()));
    let staging = out.path().join("_okrflow/staging");
    assert!(
        std::fs::read_dir(&staging)
            .into_iter()
            .flatten()
            .next()
            .is_none()
    );
}
