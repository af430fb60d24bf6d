//! One failing key result never sinks the others: it is reported, keeps its last good value
//! marked stale, and the exit code tells the scheduler. Runs the real binary.

mod common;
use common::*;
use std::process::Command;

const GOOD: &str = "SELECT count(*) FROM tallyfy_processes WHERE blueprint_id = 'bp-vendor' AND started_at < $as_of_end";

fn job(dir: &std::path::Path, second_sql: &str) -> std::path::PathBuf {
    job_with(
        dir,
        &format!(
            "[[objectives]]\nid = \"O\"\ntitle = \"o\"\nowner = \"o\"\nperiod = \"FY27-Q1\"\n\
             [[objectives.key_results]]\nid = \"K1\"\ntitle = \"vendor reviews\"\nowner = \"o\"\nmeasure = {{ kpi = {{ start = 0, target = 10 }} }}\n\
             source = {{ tallyfy = {{ sql = \"{GOOD}\" }} }}\n\
             [[objectives.key_results]]\nid = \"K2\"\ntitle = \"flaky\"\nowner = \"o\"\nmeasure = {{ kpi = {{ start = 0, target = 10 }} }}\n\
             source = {{ tallyfy = {{ sql = \"{second_sql}\" }} }}\n"
        ),
    );
    dir.join("job.toml")
}

/// Runs `sql` over an output table registered as `t`, partition column (`as_of`) included.
fn read(out: &std::path::Path, table: &str, sql: &str) -> String {
    tokio::runtime::Runtime::new().unwrap().block_on(async {
        let ctx = datafusion::prelude::SessionContext::new();
        let options =
            datafusion::prelude::ParquetReadOptions::default().table_partition_cols(vec![(
                "as_of".to_string(),
                datafusion::arrow::datatypes::DataType::Utf8,
            )]);
        ctx.register_parquet("t", out.join(table).to_str().unwrap(), options)
            .await
            .unwrap();
        let batches = ctx.sql(sql).await.unwrap().collect().await.unwrap();
        datafusion::arrow::util::pretty::pretty_format_batches(&batches)
            .unwrap()
            .to_string()
    })
}

fn okrflow(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_okrflow"))
        .args(args)
        .output()
        .unwrap()
}

#[test]
fn a_failing_key_result_is_written_stale_with_its_last_good_value_and_exit_4_for_sql_that_does_not_plan()
 {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let out_s = out.to_str().unwrap();
    // Day 1: both work. ven-01 and ven-02 have started by 1 March, plus ven-00 from January.
    let path = job(dir.path(), GOOD);
    let ok = okrflow(&[
        "run",
        path.to_str().unwrap(),
        "--as-of",
        "2026-03-01",
        "--output",
        out_s,
        "-q",
    ]);
    assert_eq!(
        ok.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );

    // Day 2 and 3: K2's query returns text.
    let path = job(dir.path(), "SELECT 'n/a' AS answer");
    for day in ["2026-03-02", "2026-03-03"] {
        let run = okrflow(&[
            "run",
            path.to_str().unwrap(),
            "--as-of",
            day,
            "--output",
            out_s,
            "-q",
        ]);
        assert_eq!(
            run.status.code(),
            Some(4),
            "{}",
            String::from_utf8_lossy(&run.stderr)
        );
        let stderr = String::from_utf8_lossy(&run.stderr);
        assert!(
            stderr
                .contains("sql does not plan: the query gives `answer` of type Utf8, not a number"),
            "{stderr}"
        );
        let stdout = String::from_utf8_lossy(&run.stdout);
        assert!(stdout.contains("stale: key result K2"), "{stdout}");
    }

    // Read back what the three days wrote.
    let rows = read(
        &out,
        "kr_snapshots",
        "SELECT as_of, kr_id, value, stale, CAST(stale_since AS VARCHAR) AS since, status, error FROM t ORDER BY as_of, kr_id",
    );
    let lines: Vec<&str> = rows.lines().filter(|l| l.contains("| 2026-")).collect();
    assert_eq!(lines.len(), 6, "{rows}");
    // K1 is fresh every day: 3 vendor reviews started by then.
    assert!(
        lines[4].contains("| 2026-03-03 | K1    | 3.0   | false |"),
        "{rows}"
    );
    // K2 keeps day 1's value (3), stale since day 2, with today's error; its status comes
    // from that value: 0.3 against 31/89 = 0.348 expected on 3 March is behind.
    assert!(
        lines[5].contains("| 2026-03-03 | K2    | 3.0   | true  | 2026-03-02 | behind |"),
        "{rows}"
    );
    assert!(lines[5].contains("not a number"), "{rows}");

    // The runs table and the objective's roll-up count it: one fresh, one stale, none failed.
    let runs = read(
        &out,
        "runs",
        "SELECT as_of, krs_total, krs_ok, krs_stale, krs_failed FROM t ORDER BY as_of",
    );
    assert!(
        runs.contains("| 2026-03-01 | 2         | 2      | 0         | 0          |"),
        "{runs}"
    );
    assert!(
        runs.contains("| 2026-03-03 | 2         | 1      | 1         | 0          |"),
        "{runs}"
    );
    let objectives = read(
        &out,
        "objective_snapshots",
        "SELECT krs_total, krs_stale, krs_failed FROM t WHERE as_of = '2026-03-03'",
    );
    assert!(
        objectives.contains("| 2         | 1         | 0          |"),
        "{objectives}"
    );
}

#[test]
fn a_job_that_cannot_run_exits_1_and_names_the_problem() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.toml");
    std::fs::write(&path, "[job]\nname = \"x\"\n[output]\nurl = \"out\"\n[[objectives]]\nid = \"O\"\ntitle = \"t\"\nperiod = \"FY27-Q1\"\nowner = 3\n").unwrap();
    let run = okrflow(&["run", path.to_str().unwrap()]);
    assert_eq!(run.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(
        stderr.contains(
            "bad.toml:9:9: error: objective O: invalid type: integer `3`, expected a string"
        ),
        "{stderr}"
    );

    let validate = okrflow(&["validate", path.to_str().unwrap()]);
    assert_eq!(validate.status.code(), Some(1));
    assert_eq!(
        okrflow(&["run"]).status.code(),
        Some(2),
        "usage errors are clap's 2"
    );
}

#[test]
fn an_unreadable_export_fails_its_connection_by_file_name() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    std::fs::write(data.join("broken.parquet"), b"PAR1 this is not parquet").unwrap();
    let path = dir.path().join("job.toml");
    std::fs::write(
        &path,
        format!(
            "[job]\nname = \"x\"\n[output]\nurl = \"out\"\n[connections.t]\nkind = \"tallyfy\"\nurl = \"{}\"\n\
             [[objectives]]\nid = \"O\"\ntitle = \"t\"\nowner = \"o\"\nperiod = \"FY27-Q1\"\n\
             [[objectives.key_results]]\nid = \"K\"\ntitle = \"k\"\nowner = \"o\"\nmeasure = {{ percent_complete = {{}} }}\n\
             source = {{ tallyfy = {{ sql = \"SELECT 1\" }} }}\n",
            data.display()
        ),
    )
    .unwrap();
    let run = okrflow(&["run", path.to_str().unwrap(), "--as-of", "2026-03-01"]);
    assert_eq!(run.status.code(), Some(3));
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(
        stderr.contains("broken.parquet: not a readable Parquet file"),
        "{stderr}"
    );
    assert!(
        dir.path()
            .join("out/kr_snapshots/as_of=2026-03-01")
            .is_dir(),
        "results are still written"
    );
}

#[test]
fn a_second_run_on_a_locked_output_is_refused_and_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let job = job(dir.path(), GOOD);
    let lock = |started: chrono::DateTime<chrono::Utc>, expires: chrono::DateTime<chrono::Utc>| {
        std::fs::create_dir_all(out.join("_okrflow")).unwrap();
        let held = serde_json::json!({
            "job": "test", "run_id": "20261123-other", "pid": 4242, "host": "scheduler-2",
            "started_at": started, "expires_at": expires
        });
        std::fs::write(out.join("_okrflow/lock.json"), held.to_string()).unwrap();
    };
    let run = || {
        okrflow(&[
            "run",
            job.to_str().unwrap(),
            "--as-of",
            "2026-03-01",
            "--output",
            out.to_str().unwrap(),
        ])
    };
    let now = chrono::Utc::now();
    // Another run holds the output's lock for another hour.
    lock(now, now + chrono::Duration::hours(1));
    let refused = run();
    let err = String::from_utf8_lossy(&refused.stderr);
    assert_eq!(refused.status.code(), Some(1), "{err}");
    assert!(err.contains("the output is being written by run 20261123-other of job test (pid 4242 on scheduler-2)") && err.contains("If that run died"), "{err}");
    assert!(!out.join("kr_snapshots").exists(), "nothing was written");
    // Once that lock has expired, the next run takes it over, runs, and releases it.
    lock(
        now - chrono::Duration::hours(3),
        now - chrono::Duration::hours(1),
    );
    let taken = run();
    assert_eq!(
        taken.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&taken.stderr)
    );
    assert!(out.join("kr_snapshots/as_of=2026-03-01").is_dir());
    assert!(common::lock_released(&out), "the lock is released");
}

/// A write that fails part-way (here the file-size limit, as a full disk would) leaves the
/// output as it was: yesterday's partitions, no partition of today, no staging folder, no lock.
#[test]
fn a_write_error_on_the_output_changes_nothing_and_exits_1() {
    use std::os::unix::process::CommandExt;
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let path = job(dir.path(), GOOD);
    let run = |day: &str, limit: Option<u64>| {
        let mut c = Command::new(env!("CARGO_BIN_EXE_okrflow"));
        c.args(["run", path.to_str().unwrap(), "--as-of", day])
            .args(["--output", out.to_str().unwrap(), "-q"]);
        if let Some(bytes) = limit {
            // SAFETY: only async-signal-safe calls between fork and exec.
            unsafe {
                c.pre_exec(move || {
                    // Ignored, SIGXFSZ becomes the EFBIG error a write gets on a full disk.
                    libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
                    let rl = libc::rlimit {
                        rlim_cur: bytes,
                        rlim_max: bytes,
                    };
                    if libc::setrlimit(libc::RLIMIT_FSIZE, &rl) != 0 {
                        return Err(std::io::Error::last_os_error());
                    }
                    Ok(())
                });
            }
        }
        c.output().unwrap()
    };
    let first = run("2026-03-01", None);
    assert_eq!(first.status.code(), Some(0));
    let before = read(
        &out,
        "kr_snapshots",
        "SELECT as_of, kr_id, value, run_id FROM t ORDER BY kr_id",
    );

    let full = run("2026-03-02", Some(3000));
    let stderr = String::from_utf8_lossy(&full.stderr);
    assert_eq!(full.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("File too large"), "{stderr}");
    // The Tallyfy rows of the first day are kept (_okrflow/state), so the second day writes
    // no large Tallyfy file; saving the state hits the limit, a warning (the state is only a
    // cache), and the run goes on to the output, which fails.
    assert!(stderr.contains("Tallyfy state not saved"), "{stderr}");
    assert!(
        stderr.contains("kr_snapshots"),
        "the message names what was being written: {stderr}"
    );
    assert_eq!(
        read(
            &out,
            "kr_snapshots",
            "SELECT as_of, kr_id, value, run_id FROM t ORDER BY kr_id"
        ),
        before
    );
    assert!(!out.join("kr_snapshots/as_of=2026-03-02").exists());
    assert!(!out.join("runs/as_of=2026-03-02").exists());
    let left: Vec<String> = std::fs::read_dir(out.join("_okrflow"))
        .map(|d| {
            d.map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    assert!(
        left.iter()
            .all(|n| ["staging", "state", "lock.json", "lock.guard"].contains(&n.as_str()))
            && common::lock_released(&out),
        "{left:?}"
    );
    if out.join("_okrflow/staging").exists() {
        assert_eq!(
            std::fs::read_dir(out.join("_okrflow/staging"))
                .unwrap()
                .count(),
            0
        );
    }
    // Space again: the same run goes through.
    assert_eq!(run("2026-03-02", None).status.code(), Some(0));
}

/// A run killed in the middle of writing (frozen the moment its staging folder appears, then
/// killed) leaves what a reader sees unchanged: yesterday's partitions and nothing of today.
/// The next run takes over the dead run's lock and writes today whole.
#[test]
fn a_run_killed_while_writing_leaves_the_output_as_it_was() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let path = job(dir.path(), GOOD);
    let run = |day: &str| {
        let mut c = Command::new(env!("CARGO_BIN_EXE_okrflow"));
        c.args(["run", path.to_str().unwrap(), "--as-of", day])
            .args(["--output", out.to_str().unwrap(), "-q"]);
        c
    };
    assert_eq!(run("2026-03-01").output().unwrap().status.code(), Some(0));
    let snapshot = || {
        read(
            &out,
            "kr_snapshots",
            "SELECT as_of, kr_id, value, run_id FROM t ORDER BY as_of, kr_id",
        )
    };
    let before = snapshot();
    let staging = out.join("_okrflow/staging");
    let mut child = run("2026-03-02").spawn().unwrap();
    let started = std::time::Instant::now();
    loop {
        if !common::walk(&staging).is_empty() {
            // SAFETY: a plain signal to our own child.
            unsafe { libc::kill(child.id() as i32, libc::SIGSTOP) };
            break;
        }
        assert!(
            child.try_wait().unwrap().is_none(),
            "the run finished before it was caught writing"
        );
        assert!(
            started.elapsed().as_secs() < 120,
            "no write after 2 minutes"
        );
        std::thread::sleep(std::time::Duration::from_micros(200));
    }
    // Frozen mid-write: a reader sees only yesterday.
    assert_eq!(snapshot(), before);
    child.kill().unwrap();
    child.wait().unwrap();
    assert_eq!(snapshot(), before);
    for table in ["kr_snapshots", "objective_snapshots", "runs"] {
        assert!(
            !out.join(table).join("as_of=2026-03-02").exists(),
            "{table} has a partition of the killed run"
        );
    }
    assert!(
        !common::walk(&staging).is_empty(),
        "the killed run's staged files are left"
    );
    // The rerun takes over the lock of the dead process, removes its staged files and commits
    // the day.
    let rerun = run("2026-03-02").output().unwrap();
    assert_eq!(
        rerun.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&rerun.stderr)
    );
    let day_one = read(
        &out,
        "kr_snapshots",
        "SELECT as_of, kr_id, value, run_id FROM t WHERE as_of = '2026-03-01' ORDER BY as_of, kr_id",
    );
    assert_eq!(day_one, before, "the first day is kept as it was");
    let day_two = read(
        &out,
        "kr_snapshots",
        "SELECT count(*) AS krs, count(DISTINCT run_id) AS runs FROM t WHERE as_of = '2026-03-02'",
    );
    assert!(day_two.contains("| 2   | 1    |"), "{day_two}");
    assert!(common::walk(&staging).is_empty(), "staged files are left");
}

/// `[job] query_timeout_secs` and `memory_limit_mib` stop a key result's query that runs too
/// long or holds too much; only that key result fails (exit 3), with the limit named, and
/// the others are computed and written.
#[test]
fn a_query_past_the_time_or_memory_limit_fails_alone() {
    let dir = tempfile::tempdir().unwrap();
    let data = repo().join("jobs/demo/tallyfy");
    let kr = |id: &str, sql: &str| {
        format!(
            "[[objectives.key_results]]\nid = \"{id}\"\ntitle = \"{id}\"\nowner = \"o\"\n\
             measure = {{ kpi = {{ start = 0, target = 10 }} }}\nsource = {{ tallyfy = {{ sql = \"{sql}\" }} }}\n"
        )
    };
    let text = format!(
        "[job]\nname = \"bounds\"\nfiscal_year_start_month = 2\nquery_timeout_secs = 3\nmemory_limit_mib = 64\n\n\
         [output]\nurl = \"out\"\n\n[connections.tallyfy]\nkind = \"tallyfy\"\nurl = \"{}\"\n\n\
         [[objectives]]\nid = \"O\"\ntitle = \"o\"\nowner = \"o\"\nperiod = \"FY27-Q1\"\n{}{}{}",
        data.display(),
        kr("K1", GOOD),
        kr(
            "SLOW",
            "SELECT count(*) FROM generate_series(1, 1000000000000)"
        ),
        // A hash join holds its first side whole: it cannot spill.
        kr(
            "BIG",
            "SELECT count(*) FROM generate_series(1, 1000000000) a JOIN generate_series(1, 2) b ON a.value = b.value",
        ),
    );
    let path = dir.path().join("job.toml");
    std::fs::write(&path, text).unwrap();
    let started = std::time::Instant::now();
    let run = okrflow(&["run", path.to_str().unwrap(), "--as-of", "2026-03-03"]);
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert_eq!(run.status.code(), Some(3), "{stderr}");
    assert!(
        started.elapsed() < std::time::Duration::from_secs(120),
        "the limits stopped the queries"
    );
    assert!(
        stderr.contains(
            "stopped after 3 s: the job's query time limit ([job] query_timeout_secs = 3)"
        ),
        "{stderr}"
    );
    assert!(
        stderr.contains("the query needs more than its share of memory: 32 MiB, half the budget"),
        "{stderr}"
    );
    let rows = read(
        &dir.path().join("out"),
        "kr_snapshots",
        "SELECT kr_id, value, error IS NOT NULL AS failed FROM t ORDER BY kr_id",
    );
    assert!(rows.contains("| BIG   |       | true   |"), "{rows}");
    assert!(rows.contains("| K1    | 3.0   | false  |"), "{rows}");
    assert!(rows.contains("| SLOW  |       | true   |"), "{rows}");

    // Limits out of range are refused where they are written.
    let bad = std::fs::read_to_string(&path)
        .unwrap()
        .replace("memory_limit_mib = 64", "memory_limit_mib = 8");
    std::fs::write(&path, bad).unwrap();
    let refused = okrflow(&["validate", path.to_str().unwrap()]);
    let out = String::from_utf8_lossy(&refused.stdout).to_string()
        + &String::from_utf8_lossy(&refused.stderr);
    assert_eq!(refused.status.code(), Some(1), "{out}");
    assert!(
        out.contains("job.toml:5:20: error: memory_limit_mib must be 64 to 1048576 (1 TiB), not 8"),
        "{out}"
    );
}
