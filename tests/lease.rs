//! One run at a time, for real: the lease on `_okrflow/lock.json` on the loopback S3 server
//! (conditional writes, serialised per key as S3 does) and in a local folder (a `flock`ed
//! compare-and-swap). Two runs started together: exactly one commits and the other exits 1
//! naming the holder. A holder that stops renewing loses the lock to the next run, and its
//! late commit is refused with nothing written. A run that outlives several leases keeps it.

mod common;

use common::s3::{ACCESS_KEY, FakeS3, SECRET_KEY};
use common::{date, demo_plan, repo};
use object_store::aws::AmazonS3Builder;
use okrflow::engine::tables::RunInfo;
use okrflow::model::{Location, S3Location};
use okrflow::sink::SinkError;
use okrflow::sink::lock::{LeaseTerms, LockInfo, RunLock};
use okrflow::sources::kind::Extracted;
use okrflow::storage::Opened;
use std::process::{Command, Output, Stdio};
use std::sync::Arc;
use std::time::Duration;

const BUCKET: &str = "okr-results";

/// The loopback bucket's `prefix/`, opened as a run opens its output.
fn opened(s3: &FakeS3, prefix: &str) -> Opened {
    let store = AmazonS3Builder::new()
        .with_endpoint(s3.endpoint())
        .with_allow_http(true)
        .with_bucket_name(BUCKET)
        .with_region("us-east-1")
        .with_access_key_id(ACCESS_KEY)
        .with_secret_access_key(SECRET_KEY)
        .build()
        .unwrap();
    Opened {
        store: Arc::new(store),
        store_url: url::Url::parse(&format!("s3://{BUCKET}")).unwrap(),
        prefix: prefix.into(),
        display: format!("s3://{BUCKET}/{prefix}/"),
    }
}

fn lock_on(s3: &FakeS3, prefix: &str) -> LockInfo {
    serde_json::from_slice(
        &std::fs::read(s3.object(BUCKET, &format!("{prefix}/_okrflow/lock.json"))).unwrap(),
    )
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_s3_runs_racing_for_the_lock_leave_exactly_one_holder() {
    let s3 = FakeS3::start(&[BUCKET]).await;
    let out = opened(&s3, "race");
    let terms = LeaseTerms::of(Duration::from_secs(1));
    let tries = (0..8).map(|i| {
        let out = out.clone();
        tokio::spawn(
            async move { RunLock::acquire(&out, "demo", &format!("run-{i}"), terms).await },
        )
    });
    let results: Vec<_> = futures::future::join_all(tries)
        .await
        .into_iter()
        .map(Result::unwrap)
        .collect();
    let winners: Vec<&RunLock> = results.iter().filter_map(|r| r.as_ref().ok()).collect();
    assert_eq!(winners.len(), 1, "If-None-Match: * lets one creator win");
    let holder = lock_on(&s3, "race");
    for r in &results {
        match r {
            Err(SinkError::Locked { holder: h, .. }) => assert_eq!(h.run_id, holder.run_id),
            Err(e) => panic!("{e}"),
            Ok(_) => {}
        }
    }
    // the lease runs out (1 s and its 0.1 s of clock margin): the takeover race has one winner too
    drop(results);
    tokio::time::sleep(Duration::from_millis(1300)).await;
    let tries = (0..8).map(|i| {
        let out = out.clone();
        tokio::spawn(
            async move { RunLock::acquire(&out, "demo", &format!("next-{i}"), terms).await },
        )
    });
    let results: Vec<_> = futures::future::join_all(tries)
        .await
        .into_iter()
        .map(Result::unwrap)
        .collect();
    assert_eq!(
        results.iter().filter(|r| r.is_ok()).count(),
        1,
        "If-Match lets one taker win"
    );
    assert_eq!(lock_on(&s3, "race").epoch, holder.epoch + 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_s3_a_stalled_holder_loses_the_lock_and_its_late_commit_writes_nothing() {
    let s3 = FakeS3::start(&[BUCKET]).await;
    let out = opened(&s3, "prod");
    let plan = demo_plan();
    // run A takes a 100 ms lease and stalls: it does not renew for an hour
    let stalled = LeaseTerms {
        ttl: Duration::from_millis(100),
        renew_every: Duration::from_secs(3600),
    };
    let a = RunLock::acquire(&out, &plan.job_name, "run-a", stalled)
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let b = RunLock::acquire(
        &out,
        &plan.job_name,
        "run-b",
        LeaseTerms::of(Duration::from_secs(1)),
    )
    .await
    .unwrap();
    assert_eq!(
        (lock_on(&s3, "prod").run_id.as_str(), b.epoch().await),
        ("run-b", 2)
    );

    // A wakes up and commits what it computed: refused before anything is switched in
    let run = RunInfo {
        run_id: "run-a".into(),
        as_of: date("2026-03-10"),
        started_at: chrono::Utc::now(),
        computed_at: chrono::Utc::now(),
        definition_hash: String::new(),
    };
    let output = Location::S3(S3Location {
        bucket: BUCKET.into(),
        prefix: "prod".into(),
        aws: Default::default(),
    });
    let never = okrflow::stop::Stop::new();
    let refused =
        okrflow::pipeline::write(&plan, run, &Extracted::default(), output, &out, &a, &never)
            .await
            .err()
            .expect("a lost lease refuses the commit");
    let text = format!("{refused}: {:?}", refused);
    assert!(text.contains("taken over by run run-b (epoch 2)"), "{text}");
    let written: Vec<String> = common::walk(&s3.object(BUCKET, "prod"))
        .iter()
        .map(|p| p.display().to_string())
        .filter(|p| p.contains("as_of=") || p.contains("period="))
        .collect();
    assert_eq!(written, Vec::<String>::new(), "no partition switched in");
    // and A's release leaves B's lock alone
    a.release().await;
    assert_eq!(lock_on(&s3, "prod").run_id, "run-b");
    b.release().await;
    assert!(lock_on(&s3, "prod").released);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_s3_a_run_that_outlives_several_leases_keeps_its_lock() {
    let s3 = FakeS3::start(&[BUCKET]).await;
    let out = opened(&s3, "long");
    let short = LeaseTerms::of(Duration::from_millis(300));
    let a = RunLock::acquire(&out, "demo", "run-a", short)
        .await
        .unwrap();
    let first_expiry = lock_on(&s3, "long").expires_at;
    // five leases long: renewed by If-Match every 60 ms, never free to another run
    for _ in 0..10 {
        tokio::time::sleep(Duration::from_millis(150)).await;
        let other = RunLock::acquire(&out, "demo", "run-b", short).await;
        assert!(matches!(other, Err(SinkError::Locked { .. })), "still held");
    }
    assert!(lock_on(&s3, "long").expires_at > first_expiry + chrono::Duration::seconds(1));
    a.confirm().await.unwrap();
    a.release().await;
    let b = RunLock::acquire(&out, "demo", "run-b", short)
        .await
        .unwrap();
    assert_eq!(b.epoch().await, 2);
}

/// Starts `okrflow run` of the demo for 10 March into `output`, with `env`.
fn start_run(output: &str, env: &[(&'static str, String)]) -> std::process::Child {
    let mut c = Command::new(env!("CARGO_BIN_EXE_okrflow"));
    c.current_dir(repo())
        .args([
            "run",
            "jobs/demo.toml",
            "--as-of",
            "2026-03-10",
            "--output",
            output,
        ])
        .env_remove("RUST_LOG")
        .env_remove("AWS_PROFILE")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in env {
        c.env(k, v);
    }
    c.spawn().unwrap()
}

/// Two runs started together into `output`: one commits, the other exits 1 naming the holder,
/// whose run is the one `runs` records. Returns the committed run id.
async fn two_runs_together(
    output: &str,
    env: Vec<(&'static str, String)>,
) -> (String, Output, Output) {
    let output = output.to_string();
    tokio::task::spawn_blocking(move || {
        let (a, b) = (start_run(&output, &env), start_run(&output, &env));
        let (a, b) = (a.wait_with_output().unwrap(), b.wait_with_output().unwrap());
        let (won, lost) = if a.status.code() == Some(1) {
            (b, a)
        } else {
            (a, b)
        };
        let stderr = String::from_utf8_lossy(&lost.stderr).to_string();
        assert_eq!(lost.status.code(), Some(1), "{stderr}");
        assert!(
            won.status.success(),
            "{}",
            String::from_utf8_lossy(&won.stderr)
        );
        let holder = stderr
            .split("is being written by run ")
            .nth(1)
            .and_then(|s| s.split_whitespace().next())
            .unwrap_or_else(|| panic!("the loser names the holder: {stderr}"))
            .to_string();
        (holder, won, lost)
    })
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_runs_started_together_one_commits_in_a_folder_and_on_s3() {
    // a local folder
    let dir = tempfile::tempdir().unwrap();
    let (holder, _, _) = two_runs_together(dir.path().to_str().unwrap(), Vec::new()).await;
    let runs = common::partition_rows(&dir.path().join("runs/as_of=2026-03-10"), "run_id", &[]);
    assert_eq!(runs.keys().cloned().collect::<Vec<_>>(), vec![holder]);
    let lock: LockInfo =
        serde_json::from_slice(&std::fs::read(dir.path().join("_okrflow/lock.json")).unwrap())
            .unwrap();
    assert!(lock.released);

    // the loopback S3 server
    let s3 = FakeS3::start(&[BUCKET]).await;
    let (holder, _, _) = two_runs_together(&format!("s3://{BUCKET}/prod/"), s3.env()).await;
    let runs = common::partition_rows(
        &s3.object(BUCKET, "prod/runs/as_of=2026-03-10"),
        "run_id",
        &[],
    );
    assert_eq!(runs.keys().cloned().collect::<Vec<_>>(), vec![holder]);
    assert!(lock_on(&s3, "prod").released);
}
