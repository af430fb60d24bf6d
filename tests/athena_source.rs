//! Athena as a source, end to end through the binary, against the loopback Athena of
//! `common::athena` (DataFusion answering over a real Parquet file — see there what that
//! proves and what it does not about Trino's dialect): execution parameters, one query for
//! identical key results, RUNNING polls, throttling, FAILED, CANCELLED, a hang stopped at the
//! timeout, more rows or text than one number, NULL as no data, access denied, the bytes in
//! `runs`, the raw archive and a replay from it, preview, `validate --online` with EXPLAIN, and
//! no secret in logs or files.

mod common;

use common::athena::{FakeAthena, KEY, SECRET};
use common::{number, partition_rows, walk};
use std::path::Path;
use std::process::{Command, Output};
use std::sync::atomic::Ordering;

const WRONG_KEY: &str = "AKIAWRONGKEY00000002";
const WRONG_SECRET: &str = "wrong-secret-do-not-log-9876543210";

/// Completed onboardings in the period up to the end of the evaluation day.
const ONBOARDINGS: &str = "SELECT count(*) FROM processes WHERE blueprint_name = 'Onboarding' \
AND status = 'completed' AND completed_at >= $period_start AND completed_at < $as_of_end";

fn job() -> String {
    let kr = |id: &str, conn: &str, sql: &str| {
        format!(
            "[[objectives.key_results]]\nid = \"{id}\"\ntitle = \"{id}\"\nowner = \"o\"\n\
             measure = {{ kpi = {{ start = 0, target = 10 }} }}\n\
             source = {{ athena = {{ connection = \"{conn}\", sql = \"\"\"{sql}\"\"\" }} }}\n\n"
        )
    };
    let mut text = common::athena::lake_job(
        "workgroup = \"primary\"\noutput = \"s3://acme-athena-results/okrflow/\"\n\
         reuse_results_minutes = 60",
    );
    text.push_str(
        r#"
[connections.slow]
kind = "athena"
region = "us-east-1"
database = "tallyfy_acme"
timeout_secs = 1
access_key_id_env = "OKRFLOW_TEST_ATHENA_KEY"
secret_access_key_env = "OKRFLOW_TEST_ATHENA_SECRET"

[connections.denied]
kind = "athena"
region = "us-east-1"
database = "tallyfy_acme"
access_key_id_env = "OKRFLOW_TEST_WRONG_KEY"
secret_access_key_env = "OKRFLOW_TEST_WRONG_SECRET"

[[objectives]]
id = "A"
title = "Onboarding, in the lake"
owner = "o"
period = "FY27-Q1"

"#,
    );
    for (id, conn, sql) in [
        ("A-KR1", "lake", ONBOARDINGS),
        ("A-KR2", "lake", ONBOARDINGS),
        (
            "A-KR3",
            "lake",
            "SELECT CAST(count(*) AS DOUBLE) / 2 FROM processes WHERE status = 'completed' AND completed_at < $as_of_end",
        ),
        (
            "A-KR4",
            "lake",
            "SELECT count(*) FROM processes WHERE no_such_column = 1",
        ),
        ("A-KR5", "slow", "SELECT /* hang */ 1"),
        ("A-KR6", "lake", "SELECT /* cancel */ 1"),
        ("A-KR7", "lake", "SELECT process_id FROM processes"),
        (
            "A-KR8",
            "lake",
            "SELECT blueprint_name FROM processes WHERE process_id = 'p6'",
        ),
        (
            "A-KR9",
            "lake",
            "SELECT sum(1) FROM processes WHERE status = 'nope'",
        ),
        ("A-KR10", "denied", "SELECT 1"),
        (
            "A-KR11",
            "lake",
            "SELECT count(*) FROM processes WHERE CAST(completed_at AS DATE) <= $as_of AND completed_at >= $period_start",
        ),
    ] {
        text.push_str(&kr(id, conn, sql));
    }
    text
}

fn okrflow(dir: &Path, url: &str, args: &[&str]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_okrflow"));
    common::athena::reaching(&mut command, url)
        .current_dir(dir)
        .args(args)
        .env("OKRFLOW_TEST_WRONG_KEY", WRONG_KEY)
        .env("OKRFLOW_TEST_WRONG_SECRET", WRONG_SECRET)
        .output()
        .unwrap()
}

async fn blocking(dir: &Path, url: &str, args: &[&str]) -> Output {
    let (dir, url) = (dir.to_path_buf(), url.to_string());
    let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
    tokio::task::spawn_blocking(move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        okrflow(&dir, &url, &args)
    })
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn key_results_computed_in_athena() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("job.toml"), job()).unwrap();
    let (fake, url) = FakeAthena::start(dir.path(), KEY).await;
    fake.throttle.store(2, Ordering::SeqCst);

    let run = blocking(
        dir.path(),
        &url,
        &["run", "job.toml", "--as-of", "2026-03-15"],
    )
    .await;
    let (stdout, stderr) = (
        String::from_utf8_lossy(&run.stdout).into_owned(),
        String::from_utf8_lossy(&run.stderr).into_owned(),
    );
    // A-KR4's SQL does not plan in Athena (SYNTAX_ERROR): exit 4, not 3.
    assert_eq!(run.status.code(), Some(4), "{stdout}\n{stderr}");
    let krs = partition_rows(
        &dir.path().join("out/kr_snapshots/as_of=2026-03-15"),
        "kr_id",
        &[],
    );
    let error = |id: &str| krs[id]["error"].clone();

    // p1–p4 completed in the period by the end of 15 March (p7 at 16 March 00:00 is out, p8
    // is January's, p6 is no onboarding): 4, shared by A-KR1 and A-KR2.
    assert_eq!(number(&krs["A-KR1"], "value"), 4.0);
    assert_eq!(number(&krs["A-KR2"], "value"), 4.0);
    // Completed before 16 March, any blueprint: p1–p4, p6, p8 = 6, halved as a double.
    assert_eq!(number(&krs["A-KR3"], "value"), 3.0);
    // The DATE parameter: any process completed on or before 15 March and in the period:
    // p1–p4 and p6 = 5.
    assert_eq!(number(&krs["A-KR11"], "value"), 5.0);
    assert!(
        krs["A-KR1"]["note"].starts_with("Athena query q-"),
        "{}",
        krs["A-KR1"]["note"]
    );
    let e = error("A-KR4");
    assert!(
        e.starts_with("key result A-KR4: query failed: connection `lake`: Athena query q-")
            && e.contains(" FAILED: SYNTAX_ERROR: line 1:8: ")
            && e.contains("no_such_column"),
        "{e}"
    );
    assert!(
        error("A-KR5")
            .contains("still RUNNING after 1 s (timeout_secs): stopped with StopQueryExecution"),
        "{}",
        error("A-KR5")
    );
    assert!(
        error("A-KR6").contains(" CANCELLED: Query was cancelled by user"),
        "{}",
        error("A-KR6")
    );
    assert!(
        error("A-KR7").ends_with("returned 8 rows, not one number"),
        "{}",
        error("A-KR7")
    );
    assert!(
        error("A-KR8").ends_with("returned a varchar (`blueprint_name`), not a number"),
        "{}",
        error("A-KR8")
    );
    assert_eq!(krs["A-KR9"]["status"], "no_data");
    assert!(
        krs["A-KR9"]["note"].ends_with("is NULL"),
        "{}",
        krs["A-KR9"]["note"]
    );
    let denied = error("A-KR10");
    assert!(
        denied.contains("connection `denied`")
            && denied.contains("access denied in workgroup `primary`")
            && denied.contains("athena:StartQueryExecution"),
        "{denied}"
    );

    // What Athena was sent: the text with `?`s and typed literals in order, once for A-KR1 and
    // A-KR2; the database, workgroup, results location and reuse.
    let starts = fake.sent("StartQueryExecution");
    let of = |needle: &str| -> Vec<&serde_json::Value> {
        starts
            .iter()
            .filter(|s| s["QueryString"].as_str().unwrap().contains(needle))
            .collect()
    };
    // two were throttled and retried: each of those is in the log twice
    let onboarding = of("blueprint_name = 'Onboarding'");
    let distinct: std::collections::BTreeSet<String> =
        onboarding.iter().map(|s| s.to_string()).collect();
    assert_eq!(distinct.len(), 1, "{onboarding:?}");
    let s1 = onboarding[0];
    assert_eq!(
        s1["QueryString"],
        "SELECT count(*) FROM processes WHERE blueprint_name = 'Onboarding' AND status = 'completed' AND completed_at >= ? AND completed_at < ?"
    );
    assert_eq!(
        s1["ExecutionParameters"],
        serde_json::json!([
            "TIMESTAMP '2026-02-01 00:00:00.000'",
            "TIMESTAMP '2026-03-16 00:00:00.000'"
        ])
    );
    assert_eq!(s1["QueryExecutionContext"]["Database"], "tallyfy_acme");
    assert_eq!(s1["QueryExecutionContext"]["Catalog"], "AwsDataCatalog");
    assert_eq!(s1["WorkGroup"], "primary");
    assert_eq!(
        s1["ResultConfiguration"]["OutputLocation"],
        "s3://acme-athena-results/okrflow/"
    );
    assert_eq!(
        s1["ResultReuseConfiguration"]["ResultReuseByAgeConfiguration"]["MaxAgeInMinutes"],
        60
    );
    assert_eq!(
        of("CAST(completed_at AS DATE)")[0]["ExecutionParameters"],
        serde_json::json!(["DATE '2026-03-15'", "TIMESTAMP '2026-02-01 00:00:00.000'"])
    );
    // 9 distinct queries on lake and slow (A-KR1 and A-KR2 share one), 1 denied, 2 throttled
    // and sent again.
    assert_eq!(starts.len(), 9 + 1 + 2, "{starts:#?}");
    // The hung query was stopped.
    let stops = fake.sent("StopQueryExecution");
    assert_eq!(stops.len(), 1, "{stops:?}");

    // Cost: the six queries over processes that ran scanned the file once each.
    let runs = partition_rows(&dir.path().join("out/runs/as_of=2026-03-15"), "job", &[]);
    assert_eq!(
        number(&runs["lake"], "athena_bytes_scanned"),
        (6 * fake.file_bytes) as f64
    );
    assert!(
        stderr.contains(&format!("athena_bytes_scanned={}", 6 * fake.file_bytes)),
        "{stderr}"
    );

    // The answers are archived; no secret is in the log, the summary or any file written.
    // the six of lake's queries that succeeded (A-KR7's and A-KR8's answers are not one number,
    // but they are Athena's answers)
    let archived = walk(&dir.path().join("out/raw/as_of=2026-03-15/lake"));
    assert_eq!(archived.len(), 6, "{archived:?}");
    for secret in [SECRET, WRONG_SECRET] {
        assert!(!stdout.contains(secret) && !stderr.contains(secret));
        for f in walk(&dir.path().join("out")) {
            let bytes = std::fs::read(&f).unwrap();
            assert!(
                !String::from_utf8_lossy(&bytes).contains(secret),
                "{} holds a secret",
                f.display()
            );
        }
    }

    // A replay from the archive: the same values, nothing asked of Athena.
    let before = fake.sent("StartQueryExecution").len();
    let replay = blocking(
        dir.path(),
        &url,
        &[
            "run",
            "job.toml",
            "--as-of",
            "2026-03-15",
            "--replay",
            "out/raw",
            "--output",
            "again",
        ],
    )
    .await;
    assert_eq!(fake.sent("StartQueryExecution").len(), before);
    let again = partition_rows(
        &dir.path().join("again/kr_snapshots/as_of=2026-03-15"),
        "kr_id",
        &[],
    );
    for id in ["A-KR1", "A-KR2", "A-KR3", "A-KR11"] {
        assert_eq!(
            again[id]["value"],
            krs[id]["value"],
            "{id}: {}",
            String::from_utf8_lossy(&replay.stderr)
        );
    }
    assert!(again["A-KR5"]["error"].contains("not in the replay archive"));

    // preview: the query id, the SQL and its parameters, the bytes scanned, the value.
    let preview = blocking(
        dir.path(),
        &url,
        &[
            "preview",
            "job.toml",
            "--kr",
            "A-KR11",
            "--as-of",
            "2026-03-15",
        ],
    )
    .await;
    let text = String::from_utf8_lossy(&preview.stdout);
    assert!(
        preview.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&preview.stderr)
    );
    for part in [
        "A-KR11 as of 2026-03-15 — lake: Athena",
        "WHERE CAST(completed_at AS DATE) <= ? AND completed_at >= ?",
        "parameter 1 ($as_of): DATE '2026-03-15'",
        "parameter 2 ($period_start): TIMESTAMP '2026-02-01 00:00:00.000'",
        &format!("{} bytes scanned", fake.file_bytes),
        "value: 5",
    ] {
        assert!(text.contains(part), "{part} not in:\n{text}");
    }

    // validate --online: every query planned with EXPLAIN, nothing scanned; all problems.
    let explains_before = fake.sent("StartQueryExecution").len();
    let validate = blocking(dir.path(), &url, &["validate", "job.toml", "--online"]).await;
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&validate.stdout),
        String::from_utf8_lossy(&validate.stderr)
    );
    assert!(!validate.status.success(), "{text}");
    assert!(
        text.contains("key result A-KR4") && text.contains("no_such_column"),
        "{text}"
    );
    assert!(
        text.contains("key result A-KR10") && text.contains("access denied"),
        "{text}"
    );
    assert!(!text.contains("key result A-KR1:"), "{text}");
    let explains = &fake.sent("StartQueryExecution")[explains_before..];
    assert!(!explains.is_empty());
    for e in explains {
        let q = e["QueryString"].as_str().unwrap();
        assert!(q.starts_with("EXPLAIN "), "{q}");
    }
}

/// A backfill passes each date's parameters; a recompute answers from each date's archive
/// without asking Athena again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backfill_passes_each_dates_parameters() {
    let dir = tempfile::tempdir().unwrap();
    let text = job();
    let only = &text[..text
        .find("[[objectives.key_results]]\nid = \"A-KR2\"")
        .unwrap()];
    std::fs::write(dir.path().join("job.toml"), only).unwrap();
    let (fake, url) = FakeAthena::start(dir.path(), KEY).await;
    let range = ["--from", "2026-03-04", "--to", "2026-03-05"];
    let backfill = blocking(
        dir.path(),
        &url,
        &[&["backfill", "job.toml"][..], &range].concat(),
    )
    .await;
    assert!(
        backfill.status.success(),
        "{}",
        String::from_utf8_lossy(&backfill.stderr)
    );
    let ends: Vec<String> = fake
        .sent("StartQueryExecution")
        .iter()
        .map(|s| s["ExecutionParameters"][1].as_str().unwrap().to_string())
        .collect();
    let mut sorted = ends.clone();
    sorted.sort();
    assert_eq!(
        sorted,
        [
            "TIMESTAMP '2026-03-05 00:00:00.000'",
            "TIMESTAMP '2026-03-06 00:00:00.000'"
        ]
    );
    // p1 and p2 by the end of 4 March; p3 (5 March, 16:00) too by the end of the 5th.
    let value = |d: &str| {
        number(
            &partition_rows(
                &dir.path().join(format!("out/kr_snapshots/as_of={d}")),
                "kr_id",
                &[],
            )["A-KR1"],
            "value",
        )
    };
    assert_eq!((value("2026-03-04"), value("2026-03-05")), (2.0, 3.0));
    let recompute = blocking(
        dir.path(),
        &url,
        &[&["recompute", "job.toml"][..], &range, &["--force"]].concat(),
    )
    .await;
    assert!(
        recompute.status.success(),
        "{}",
        String::from_utf8_lossy(&recompute.stderr)
    );
    assert_eq!(
        fake.sent("StartQueryExecution").len(),
        2,
        "the recompute asked Athena nothing"
    );
    assert_eq!((value("2026-03-04"), value("2026-03-05")), (2.0, 3.0));
}

/// HTTPS everywhere but loopback: an endpoint in the environment is checked like a base URL.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plain_http_endpoint_off_loopback_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("job.toml"), job()).unwrap();
    let o = blocking(
        dir.path(),
        "http://athena.example.com",
        &[
            "preview",
            "job.toml",
            "--kr",
            "A-KR1",
            "--as-of",
            "2026-03-15",
        ],
    )
    .await;
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(
        text.contains("connection `lake`: AWS_ENDPOINT_URL_ATHENA: base_url `http://athena.example.com` must use https (plain http is allowed on loopback only)"),
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_infinite_value_fails_and_literals_reach_athena_as_written() {
    let dir = tempfile::tempdir().unwrap();
    let mut text = common::athena::lake_job("");
    text.push_str(
        "\n[[objectives]]\nid = \"A\"\ntitle = \"A\"\nowner = \"o\"\nperiod = \"FY27-Q1\"\n\n",
    );
    for (id, sql) in [
        ("A-KR1", "SELECT power(10.0, 400)"),
        (
            "A-KR2",
            "SELECT count(*) FROM processes WHERE blueprint_name <> 'it''s' AND completed_at < $as_of_end",
        ),
    ] {
        text.push_str(&format!(
            "[[objectives.key_results]]\nid = \"{id}\"\ntitle = \"{id}\"\nowner = \"o\"\n\
             measure = {{ kpi = {{ start = 0, target = 10 }} }}\n\
             source = {{ athena = {{ sql = \"\"\"{sql}\"\"\" }} }}\n\n"
        ));
    }
    std::fs::write(dir.path().join("job.toml"), text).unwrap();
    let (fake, url) = FakeAthena::start(dir.path(), KEY).await;
    let run = blocking(
        dir.path(),
        &url,
        &["run", "job.toml", "--as-of", "2026-03-15"],
    )
    .await;
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert_eq!(run.status.code(), Some(3), "{stderr}");
    let krs = partition_rows(
        &dir.path().join("out/kr_snapshots/as_of=2026-03-15"),
        "kr_id",
        &[],
    );
    // Athena's `Infinity` (the loopback one writes `inf`) is no value to score
    let e = &krs["A-KR1"]["error"];
    assert!(
        e.contains("key result A-KR1") && e.contains("is inf, not a finite number"),
        "{e}"
    );
    assert_ne!(krs["A-KR1"]["status"], "done");
    // the literal reaches Athena as written: only `$as_of_end` became `?`
    let sent: Vec<String> = fake
        .sent("StartQueryExecution")
        .iter()
        .filter_map(|b| b["QueryString"].as_str().map(String::from))
        .collect();
    assert!(
        sent.contains(
            &"SELECT count(*) FROM processes WHERE blueprint_name <> 'it''s' AND completed_at < ?"
                .to_string()
        ),
        "{sent:#?}"
    );
    assert_eq!(krs["A-KR2"]["error"], "", "{:?}", krs["A-KR2"]);
    assert_eq!(number(&krs["A-KR2"], "value"), 6.0);
}
