//! S3 in and out, through the real binary, against an S3-protocol server on loopback that
//! checks request signatures: Tallyfy exports read with Tallyfy's own key, results written to
//! the customer's bucket with the default credential chain, partitions replaced whole on a
//! rerun, and an upload that fails half-way leaving every partition either old or new.

mod common;

use common::s3::{FakeS3, SECRET_KEY, TALLYFY_SECRET_KEY};
use datafusion::arrow::array::{Float64Array, StringArray};
use datafusion::parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Output;

const RESULTS: &str = "okr-results";
const EXPORTS: &str = "tallyfy-exports";

/// The demo job, reading Tallyfy from S3 with Tallyfy's key and writing to S3.
fn job(dir: &Path) -> PathBuf {
    let demo = std::fs::read_to_string(common::repo().join("jobs/demo.toml")).unwrap();
    let raw = common::repo().join("jobs/demo/raw");
    let text = demo
        .replace(
            "url = \"../out\"",
            "url = \"s3://okr-results/prod/\"",
        )
        .replace(
            "url = \"demo/tallyfy/\"",
            "url = \"s3://tallyfy-exports/acme/\"\nregion = \"us-west-2\"\n\
             access_key_id_env = \"TALLYFY_AWS_KEY\"\nsecret_access_key_env = \"TALLYFY_AWS_SECRET\"",
        )
        .replace(
            "url = \"demo/checkins/\"",
            "url = \"s3://okr-results/checkins/\"",
        )
        .replace("replay = \"demo/raw\"", &format!("replay = \"{}\"", raw.display()));
    assert_ne!(text, demo);
    let path = dir.join("s3-demo.toml");
    std::fs::write(&path, text).unwrap();
    path
}

/// Copies the bundled exports into the export bucket, and the check-ins into the results
/// bucket's `checkins/`.
fn upload_exports(s3: &FakeS3) {
    let from = common::repo().join("jobs/demo/checkins");
    let to = s3.object(RESULTS, "checkins");
    std::fs::create_dir_all(&to).unwrap();
    for name in common::files(&from) {
        std::fs::copy(from.join(&name), to.join(&name)).unwrap();
    }
    let from = common::repo().join("jobs/demo/tallyfy");
    let to = s3.object(EXPORTS, "acme");
    for entry in common::walk(&from) {
        let target = to.join(entry.strip_prefix(&from).unwrap());
        std::fs::create_dir_all(target.parent().unwrap()).unwrap();
        std::fs::copy(&entry, &target).unwrap();
    }
}

async fn okrflow(s3: &FakeS3, args: &[&str], extra_env: &[(&str, &str)]) -> Output {
    let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    let mut env: Vec<(String, String)> = s3
        .env()
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
    for (k, v) in extra_env {
        env.retain(|(key, _)| key != k);
        env.push((k.to_string(), v.to_string()));
    }
    tokio::task::spawn_blocking(move || {
        let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_okrflow"));
        c.args(&args)
            .env_remove("RUST_LOG")
            .env_remove("AWS_PROFILE");
        for (k, v) in env {
            c.env(k, v);
        }
        c.output().unwrap()
    })
    .await
    .unwrap()
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// Every batch of a Parquet object.
fn batches(file: &Path) -> Vec<datafusion::arrow::record_batch::RecordBatch> {
    ParquetRecordBatchReaderBuilder::try_new(std::fs::File::open(file).unwrap())
        .unwrap()
        .build()
        .unwrap()
        .map(|b| b.unwrap())
        .collect()
}

fn text_column(b: &datafusion::arrow::record_batch::RecordBatch, name: &str) -> StringArray {
    b.column_by_name(name)
        .unwrap()
        .as_any()
        .downcast_ref::<StringArray>()
        .unwrap()
        .clone()
}

/// `kr_id → (value, run_id)` of a kr_snapshots object.
fn kr_values(file: &Path) -> BTreeMap<String, (Option<f64>, String)> {
    let mut out = BTreeMap::new();
    for b in batches(file) {
        let (ids, runs) = (text_column(&b, "kr_id"), text_column(&b, "run_id"));
        let values = b
            .column_by_name("value")
            .unwrap()
            .as_any()
            .downcast_ref::<Float64Array>()
            .unwrap()
            .clone();
        for i in 0..b.num_rows() {
            let v =
                (!datafusion::arrow::array::Array::is_null(&values, i)).then(|| values.value(i));
            out.insert(ids.value(i).to_string(), (v, runs.value(i).to_string()));
        }
    }
    out
}

/// The run id written in a table's partition object.
fn run_of(s3: &FakeS3, table: &str, partition: &str) -> String {
    let file = s3.object(
        RESULTS,
        &format!("prod/{table}/{partition}/part-00000.parquet"),
    );
    text_column(&batches(&file)[0], "run_id")
        .value(0)
        .to_string()
}

#[tokio::test]
async fn tallyfy_from_s3_results_to_s3_reruns_replace_and_half_uploads_keep_partitions_whole() {
    let s3 = FakeS3::start(&[RESULTS, EXPORTS]).await;
    upload_exports(&s3);
    let dir = tempfile::tempdir().unwrap();
    let job = job(dir.path());
    let job = job.to_str().unwrap();

    let first = okrflow(&s3, &["run", job, "--as-of", "2026-11-23"], &[]).await;
    assert_eq!(first.status.code(), Some(0), "{}", text(&first));
    let kr_file = s3.object(
        RESULTS,
        "prod/kr_snapshots/as_of=2026-11-23/part-00000.parquet",
    );
    let values = kr_values(&kr_file);
    // The same numbers as the local demo (tests/demo_job.rs).
    assert_eq!(values["O1-KR1"].0, Some(9.0));
    assert_eq!(values["C1-KR2"].0, Some(80.0));
    assert_eq!(values["O4-KR1"].0, Some(24.0));
    assert_eq!(values["O5-KR2"].0, Some(14.0));
    // Check-ins read from the bucket: the milestone of 28 April, the bands of 24 April.
    assert_eq!(values["O6-KR1"].0, Some(3.0));
    assert_eq!(values["O6-KR2"].0, Some(85.0));
    // Only Parquet objects under the table prefixes; the raw archive beside them.
    for table in [
        "kr_snapshots",
        "objective_snapshots",
        "quarter_scores",
        "runs",
    ] {
        for f in common::walk(&s3.object(RESULTS, &format!("prod/{table}"))) {
            assert!(
                f.to_string_lossy().ends_with("/part-00000.parquet"),
                "{}",
                f.display()
            );
        }
    }
    assert_eq!(
        common::walk(&s3.object(RESULTS, "prod/raw/as_of=2026-11-23/looker_demo")).len(),
        6
    );
    // The export bucket was read with Tallyfy's key, the results written with the customer's.
    let log = s3.requests.lock().unwrap().clone();
    let tallyfy: Vec<&String> = log
        .iter()
        .filter(|l| l.contains(" /tallyfy-exports"))
        .collect();
    assert!(
        !tallyfy.is_empty()
            && tallyfy
                .iter()
                .all(|l| l.ends_with(common::s3::TALLYFY_ACCESS_KEY)),
        "{tallyfy:?}"
    );
    let results: Vec<&String> = log.iter().filter(|l| l.contains(" /okr-results")).collect();
    assert!(
        results.iter().all(|l| l.ends_with(common::s3::ACCESS_KEY)),
        "{results:?}"
    );
    assert!(
        log.iter().any(|l| l.starts_with(
            "PUT /okr-results/prod/kr_snapshots/as_of=2026-11-23/part-00000.parquet "
        )),
        "{log:?}"
    );
    let first_run = values["O1-KR1"].1.clone();

    // A rerun of the date replaces each partition's one object.
    let export_gets = |log: &[String]| {
        log.iter()
            .filter(|l| l.starts_with("GET /tallyfy-exports/") && l.contains(".parquet"))
            .count()
    };
    let first_gets = export_gets(&log);
    let before = s3.requests.lock().unwrap().len();
    let second = okrflow(&s3, &["run", job, "--as-of", "2026-11-23"], &[]).await;
    assert_eq!(second.status.code(), Some(0), "{}", text(&second));
    let second_run = kr_values(&kr_file)["O1-KR1"].1.clone();
    assert_ne!(first_run, second_run);
    // The same values, from the state the first run kept in the results bucket: the exports
    // are only listed and their footers checked (one ranged GET each), not read again.
    let again = kr_values(&kr_file);
    for (kr, (value, _)) in &values {
        assert_eq!(&again[kr].0, value, "{kr}");
    }
    assert!(
        s3.object(RESULTS, "prod/_okrflow/state/tallyfy/tallyfy/manifest.json")
            .exists()
    );
    let exports = common::walk(&s3.object(EXPORTS, ""))
        .iter()
        .filter(|p| p.to_string_lossy().ends_with(".parquet"))
        .count();
    let second_log = s3.requests.lock().unwrap()[before..].to_vec();
    assert_eq!(export_gets(&second_log), exports, "{second_log:?}");
    assert!(
        first_gets > exports,
        "{first_gets} GETs of {exports} exports"
    );
    assert_eq!(
        common::walk(&s3.object(RESULTS, "prod/kr_snapshots")).len(),
        1
    );

    // objective_snapshots cannot be uploaded: the run fails (exit 1) naming the object;
    // kr_snapshots is the new run's, objective_snapshots and runs still the second run's:
    // each partition whole, none mixed.
    s3.fail_puts
        .lock()
        .unwrap()
        .push("objective_snapshots".into());
    let broken = okrflow(&s3, &["run", job, "--as-of", "2026-11-23"], &[]).await;
    assert_eq!(broken.status.code(), Some(1), "{}", text(&broken));
    assert!(
        text(&broken).contains("objective_snapshots/as_of=2026-11-23/part-00000.parquet"),
        "{}",
        text(&broken)
    );
    let third_run = kr_values(&kr_file)["O1-KR1"].1.clone();
    assert_ne!(third_run, second_run);
    assert_eq!(
        run_of(&s3, "objective_snapshots", "as_of=2026-11-23"),
        second_run
    );
    assert_eq!(run_of(&s3, "runs", "as_of=2026-11-23"), second_run);
    s3.fail_puts.lock().unwrap().clear();

    // A wrong secret is refused by the server's signature check, with a clear error.
    let refused = okrflow(
        &s3,
        &["run", job, "--as-of", "2026-11-24"],
        &[("AWS_SECRET_ACCESS_KEY", "wrong-secret-value-123")],
    )
    .await;
    assert_eq!(refused.status.code(), Some(1), "{}", text(&refused));
    assert!(text(&refused).contains("okr-results"), "{}", text(&refused));

    for o in [&first, &second, &broken, &refused] {
        let t = text(o);
        assert!(
            !t.contains(SECRET_KEY)
                && !t.contains(TALLYFY_SECRET_KEY)
                && !t.contains("wrong-secret-value-123")
        );
    }
}

#[tokio::test]
async fn a_failing_tallyfy_bucket_fails_its_key_results_only() {
    let s3 = FakeS3::start(&[RESULTS, EXPORTS]).await;
    upload_exports(&s3);
    let dir = tempfile::tempdir().unwrap();
    let job = job(dir.path());
    // Tallyfy's key is wrong: the Tallyfy key results fail, the others are computed.
    let out = okrflow(
        &s3,
        &["run", job.to_str().unwrap(), "--as-of", "2026-11-23"],
        &[("TALLYFY_AWS_SECRET", "not-tallyfys-secret")],
    )
    .await;
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    let values = kr_values(&s3.object(
        RESULTS,
        "prod/kr_snapshots/as_of=2026-11-23/part-00000.parquet",
    ));
    assert_eq!(values["O1-KR1"].0, None);
    assert_eq!(values["O4-KR1"].0, Some(24.0));
    assert!(
        text(&out).contains("s3://tallyfy-exports/acme"),
        "{}",
        text(&out)
    );
}

/// A backfill on S3 commits each date; a recompute reads each date's raw archive back from S3
/// (no API and no bundled archive behind it: a missing response would fail the key result).
#[tokio::test]
async fn a_backfill_and_a_recompute_on_s3_read_and_write_the_bucket() {
    let s3 = FakeS3::start(&[RESULTS, EXPORTS]).await;
    upload_exports(&s3);
    let dir = tempfile::tempdir().unwrap();
    let job = job(dir.path());
    let job = job.to_str().unwrap();
    let range = ["--from", "2026-03-09", "--to", "2026-03-10"];

    let backfill = okrflow(&s3, &[&["backfill", job][..], &range[..]].concat(), &[]).await;
    assert_eq!(backfill.status.code(), Some(0), "{}", text(&backfill));
    let kr_file = |d: &str| {
        s3.object(
            RESULTS,
            &format!("prod/kr_snapshots/as_of={d}/part-00000.parquet"),
        )
    };
    let before = kr_values(&kr_file("2026-03-10"));
    // 7 bugs are closed by 10 March (bug n: filed on 1 Feb + 4n days, closed 9 days later).
    assert_eq!(before["O5-KR2"].0, Some(7.0));
    let archive = s3.object(RESULTS, "prod/raw/as_of=2026-03-10/jira_demo");
    assert!(
        !common::walk(&archive).is_empty(),
        "the backfill archived what Jira answered"
    );
    let archived = s3.object(RESULTS, "prod/raw/as_of=2026-03-10/checkins/2026-03.csv");
    assert_eq!(
        std::fs::read(&archived).unwrap(),
        std::fs::read(common::repo().join("jobs/demo/checkins/2026-03.csv")).unwrap(),
        "the backfill archived the check-in files it read"
    );
    // 10 March: the pay bands' newest value on or before it is the 2 March row (40); the
    // backdated row of 12 March is later.
    assert_eq!(before["O6-KR2"].0, Some(40.0));

    let recompute = okrflow(
        &s3,
        &[&["recompute", job][..], &range[..], &["--force"][..]].concat(),
        &[],
    )
    .await;
    assert_eq!(recompute.status.code(), Some(0), "{}", text(&recompute));
    assert_eq!(
        text(&recompute).matches("┆ written ┆").count(),
        2,
        "{}",
        text(&recompute)
    );
    let after = kr_values(&kr_file("2026-03-10"));
    for (kr, (value, run)) in &after {
        assert_eq!(value, &before[kr].0, "{kr}");
        assert_ne!(run, &before[kr].1, "{kr} was rewritten by the recompute");
    }
}

/// `validate --online` lists and writes the S3 output (a probe it deletes again), and names
/// the output when it cannot; it says which connections answered from a replay archive.
#[tokio::test]
async fn validate_online_checks_that_the_s3_output_can_be_written() {
    let s3 = FakeS3::start(&[RESULTS, EXPORTS]).await;
    upload_exports(&s3);
    let dir = tempfile::tempdir().unwrap();
    let job = job(dir.path());
    let ok = okrflow(&s3, &["validate", job.to_str().unwrap(), "--online"], &[]).await;
    assert_eq!(ok.status.code(), Some(0), "{}", text(&ok));
    assert!(
        text(&ok).contains(
            "jira_demo, lake, looker_demo answered from a replay archive, not the network"
        ),
        "{}",
        text(&ok)
    );
    // the probe is gone again: the bucket holds nothing under prod/
    let prod = s3.object(RESULTS, "prod");
    assert!(common::walk(&prod).is_empty(), "{:?}", common::walk(&prod));

    // An output bucket that does not exist: an error naming the output, exit 1.
    let missing = std::fs::read_to_string(&job)
        .unwrap()
        .replace("s3://okr-results/prod/", "s3://no-such-bucket/prod/");
    std::fs::write(&job, missing).unwrap();
    let bad = okrflow(&s3, &["validate", job.to_str().unwrap(), "--online"], &[]).await;
    assert_eq!(bad.status.code(), Some(1), "{}", text(&bad));
    assert!(
        text(&bad).contains("error: output: cannot list s3://no-such-bucket/prod"),
        "{}",
        text(&bad)
    );
}

/// An export prefix on S3 with no export file: `validate --online` warns naming it, and
/// still exits 0 (a warning, not an error).
#[tokio::test]
async fn validate_online_warns_of_an_export_folder_without_exports() {
    let s3 = FakeS3::start(&[RESULTS, EXPORTS]).await;
    upload_exports(&s3);
    let dir = tempfile::tempdir().unwrap();
    let job = job(dir.path());
    let typo = std::fs::read_to_string(&job).unwrap().replace(
        "s3://tallyfy-exports/acme/",
        "s3://tallyfy-exports/acme-typo/",
    );
    std::fs::write(&job, typo).unwrap();
    let v = okrflow(&s3, &["validate", job.to_str().unwrap(), "--online"], &[]).await;
    assert_eq!(v.status.code(), Some(0), "{}", text(&v));
    assert!(
        text(&v).contains(
            "warning: connection tallyfy: no Tallyfy export files (*.parquet) in s3://tallyfy-exports/acme-typo"
        ),
        "{}",
        text(&v)
    );
}
