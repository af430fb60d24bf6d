//! The fault matrix: every way Looker or Jira can fail tonight, one case each. Every case
//! starts from the same committed day, runs the next day with the fault injected, and checks
//! that yesterday's partitions are untouched, that the key results behind the fault are
//! written stale with yesterday's value and an error saying what happened, that every other
//! key result is computed, and what the exit code would be. No credential may appear in any
//! written file or any (debug-level) log line of the suite.

mod common;

use common::fake_http::FaultKind;
use common::jira::{FakeJira, demo_site};
use common::looker::{FakeLooker, demo_instance};
use common::{demo_plan, live_demo, partition_rows};
use okrflow::job::{Connection, KrSource, Link, Plan};
use okrflow::{Outcome, pipeline};
use std::collections::BTreeSet;
use std::path::Path;
use std::time::{Duration, Instant};

/// Where a fault is injected.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Server {
    Looker,
    Jira,
}

struct Case {
    name: &'static str,
    server: Server,
    /// Injected on requests whose path contains this.
    path: &'static str,
    fault: Option<FaultKind>,
    times: usize,
    /// The key results that must fail, and a phrase each error must contain.
    failing: &'static [&'static str],
    error: &'static str,
}

const LOOKER_RUN: &str = "/queries/101/run";
const JIRA_SEARCH: &str = "/search/jql";
const ALL_JIRA: &[&str] = &["O5-KR1", "O5-KR2", "O5-KR3"];

fn status(status: u16, retry_after: Option<&str>) -> Option<FaultKind> {
    Some(FaultKind::Status {
        status,
        retry_after: retry_after.map(String::from),
    })
}

fn cases() -> Vec<Case> {
    let mut out = Vec::new();
    for (server, path, failing) in [
        (Server::Looker, LOOKER_RUN, &["O4-KR1"][..]),
        (Server::Jira, JIRA_SEARCH, ALL_JIRA),
    ] {
        let case = |name, fault, times, failing: &'static [&'static str], error| Case {
            name,
            server,
            path,
            fault,
            times,
            failing,
            error,
        };
        out.extend([
            case("401 every time", status(401, None), 1000, failing, "401"),
            case("403", status(403, None), 1000, failing, "403"),
            case("404", status(404, None), 1000, failing, "404"),
            case(
                "429 with Retry-After, once",
                status(429, Some("1")),
                1,
                &[],
                "",
            ),
            case(
                "429 without Retry-After, once",
                status(429, None),
                1,
                &[],
                "",
            ),
            case(
                "429 asking for 10 minutes",
                status(429, Some("600")),
                1000,
                failing,
                "429",
            ),
            case("500 then success", status(500, None), 1, &[], ""),
            case("500 forever", status(500, None), 1000, failing, "500"),
            case(
                "malformed JSON",
                Some(FaultKind::Garbage),
                1000,
                failing,
                "JSON",
            ),
            case(
                "a body that stops half-way",
                Some(FaultKind::Truncated),
                1000,
                failing,
                "could not be read",
            ),
            case(
                "slower than the timeout",
                Some(FaultKind::Delay(Duration::from_secs(3))),
                1000,
                failing,
                "within 1 s",
            ),
        ]);
    }
    out.push(Case {
        name: "Looker refuses connections",
        server: Server::Looker,
        path: "",
        fault: None,
        times: 0,
        failing: &["O4-KR1", "O4-KR2", "O4-KR3"],
        error: "connect",
    });
    out.push(Case {
        name: "Jira refuses connections",
        server: Server::Jira,
        path: "",
        fault: None,
        times: 0,
        failing: ALL_JIRA,
        error: "connect",
    });
    out.push(Case {
        name: "a JQL error",
        server: Server::Jira,
        path: "",
        fault: None,
        times: 0,
        failing: &["O5-KR2"],
        error: "JQL",
    });
    out
}

/// The demo's Looker and Jira objectives only, reading the fake servers, with a 1 s timeout
/// and 2 retries so that failing cases end quickly.
fn api_plan(looker: &FakeLooker, jira: &FakeJira) -> Plan {
    let mut plan = live_demo(demo_plan(), looker, jira);
    plan.objectives.retain(|o| o.id == "O4" || o.id == "O5");
    plan.key_results
        .retain(|k| k.objective_id == "O4" || k.objective_id == "O5");
    for c in plan.connections.values_mut() {
        let http = match c {
            Connection::Looker(s) => &mut s.http,
            Connection::Jira(s) => &mut s.http,
            Connection::Tallyfy(_) | Connection::Checkins(_) | Connection::Athena(_) => continue,
        };
        http.timeout = Duration::from_secs(1);
        http.max_retries = 2;
    }
    plan
}

/// Every file under `dir` with its bytes.
fn snapshot(dir: &Path) -> Vec<(String, Vec<u8>)> {
    common::walk(dir)
        .into_iter()
        .map(|p| {
            let bytes = std::fs::read(&p).unwrap();
            (p.strip_prefix(dir).unwrap().display().to_string(), bytes)
        })
        .collect()
}

/// Every log line of this suite (debug level), to scan for secrets.
static LOGS: std::sync::OnceLock<std::sync::Arc<std::sync::Mutex<Vec<u8>>>> =
    std::sync::OnceLock::new();

struct Captured(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn capture_logs() -> std::sync::Arc<std::sync::Mutex<Vec<u8>>> {
    LOGS.get_or_init(|| {
        let buffer = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let writer = buffer.clone();
        let _ = tracing_subscriber::fmt()
            .with_env_filter("okrflow=debug")
            .with_writer(move || Captured(writer.clone()))
            .try_init();
        buffer
    })
    .clone()
}

/// The credentials the fakes accept (set by `live_demo`): none may appear in a log line or a
/// written file.
const SECRETS: [&str; 2] = ["demo-secret", "demo-token"];

fn assert_no_secret(out: &Path, logs: &[u8], case: &str) {
    for (path, bytes) in snapshot(out) {
        for secret in SECRETS {
            assert!(
                !bytes.windows(secret.len()).any(|w| w == secret.as_bytes()),
                "{case}: {path} holds a secret"
            );
        }
    }
    let logs = String::from_utf8_lossy(logs);
    for secret in SECRETS {
        assert!(!logs.contains(secret), "{case}: a log line holds a secret");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_api_fault_keeps_yesterday_and_fails_only_what_it_touches() {
    let logs = capture_logs();
    let mut summary = Vec::new();
    for case in cases() {
        let looker = FakeLooker::start(demo_instance()).await;
        let jira = FakeJira::start(demo_site()).await;
        let mut plan = api_plan(&looker, &jira);
        let out = tempfile::tempdir().unwrap();
        let first = common::run(&plan, "2026-03-10", out.path()).await;
        assert!(
            first.failed.is_empty(),
            "{}: day 1 {:?}",
            case.name,
            first.failed
        );
        let day1: Vec<_> = snapshot(out.path())
            .into_iter()
            .filter(|(p, _)| p.contains("as_of=2026-03-10") && !p.starts_with("raw"))
            .collect();

        if let Some(fault) = &case.fault {
            let rec = match case.server {
                Server::Looker => &looker.server.rec,
                Server::Jira => &jira.server.rec,
            };
            rec.fault(case.path, fault.clone(), case.times);
        } else if case.name.contains("refuses") {
            // A port nothing listens on.
            let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            let url = url::Url::parse(&format!("http://{}", closed.local_addr().unwrap())).unwrap();
            drop(closed);
            for c in plan.connections.values_mut() {
                match (c, case.server) {
                    (Connection::Looker(s), Server::Looker) => s.base_url = url.clone(),
                    (Connection::Jira(s), Server::Jira) => s.base_url = url.clone(),
                    _ => {}
                }
            }
        } else {
            let kr = plan
                .key_results
                .iter_mut()
                .find(|k| k.id == "O5-KR2")
                .unwrap();
            let Some(KrSource {
                link: Link::Jira(link),
                ..
            }) = &mut kr.source
            else {
                unreachable!()
            };
            link.jql = "project = PAY AND type = = Bug".into();
        }

        let started = Instant::now();
        let options = pipeline::RunOptions {
            as_of: common::date("2026-03-11"),
            output: Some(okrflow::model::Location::Local(out.path().to_path_buf())),
            replay: None,
            stop: Default::default(),
        };
        let second = pipeline::run(&plan, &options).await.unwrap();
        let elapsed = started.elapsed();
        let outcome = if second.failed.is_empty() {
            Outcome::Ok
        } else {
            Outcome::SomeKeyResultsFailed
        };

        // Yesterday's partitions are byte for byte what they were.
        let after: Vec<_> = snapshot(out.path())
            .into_iter()
            .filter(|(p, _)| p.contains("as_of=2026-03-10") && !p.starts_with("raw"))
            .collect();
        assert_eq!(day1, after, "{}: day 1 changed", case.name);

        let failed: BTreeSet<&str> = second.failed.iter().map(|(k, _)| k.as_str()).collect();
        let expected: BTreeSet<&str> = case.failing.iter().copied().collect();
        assert_eq!(failed, expected, "{}: {:?}", case.name, second.failed);
        for (kr, e) in &second.failed {
            assert!(
                e.contains(case.error),
                "{}: {kr}: `{e}` lacks `{}`",
                case.name,
                case.error
            );
        }
        let yesterday = partition_rows(
            &out.path().join("kr_snapshots/as_of=2026-03-10"),
            "kr_id",
            &[],
        );
        let today = partition_rows(
            &out.path().join("kr_snapshots/as_of=2026-03-11"),
            "kr_id",
            &[],
        );
        assert_eq!(today.len(), 6, "{}", case.name);
        for (kr, row) in &today {
            if expected.contains(kr.as_str()) {
                assert_eq!(row["stale"], "true", "{}: {kr}", case.name);
                assert_eq!(row["stale_since"], "2026-03-11", "{}: {kr}", case.name);
                assert_eq!(
                    row["value"], yesterday[kr]["value"],
                    "{}: {kr} keeps yesterday's value",
                    case.name
                );
            } else {
                assert_eq!(row["stale"], "false", "{}: {kr}", case.name);
                assert_eq!(row["error"], "", "{}: {kr}", case.name);
            }
        }
        assert_no_secret(out.path(), &logs.lock().unwrap(), case.name);
        if case.name.starts_with("429 with Retry-After") {
            assert!(
                elapsed >= Duration::from_secs(1),
                "{}: waited {elapsed:?}",
                case.name
            );
        }
        summary.push(format!(
            "{:?} {:<32} exit {} in {:.1}s",
            case.server,
            case.name,
            outcome.code(),
            elapsed.as_secs_f64()
        ));
    }
    let logged = logs.lock().unwrap().len();
    assert!(
        logged > 10_000,
        "the suite's debug log was captured ({logged} bytes)"
    );
    println!("{}", summary.join("\n"));
}

/// Copies a folder tree.
fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let p = e.unwrap().path();
        let target = to.join(p.file_name().unwrap());
        if p.is_dir() {
            copy_tree(&p, &target);
        } else {
            std::fs::copy(&p, &target).unwrap();
        }
    }
}

/// Rewrites a Parquet file with some string columns stored as other types, as an export
/// written by a newer Tallyfy could be.
fn drift(file: &Path) {
    use datafusion::arrow::compute::cast;
    use datafusion::arrow::datatypes::{DataType, Field, Schema, TimeUnit};
    use datafusion::parquet::arrow::ArrowWriter;
    use datafusion::parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
    let batches: Vec<_> =
        ParquetRecordBatchReaderBuilder::try_new(std::fs::File::open(file).unwrap())
            .unwrap()
            .build()
            .unwrap()
            .map(|b| b.unwrap())
            .collect();
    let retype = |name: &str| match name {
        "tasks_completed" | "total_tasks_in_process" => Some(DataType::Int64),
        "process_last_modified" => Some(DataType::Timestamp(TimeUnit::Millisecond, None)),
        _ => None,
    };
    let schema = batches[0].schema();
    let drifted = std::sync::Arc::new(Schema::new(
        schema
            .fields()
            .iter()
            .map(|f| Field::new(f.name(), retype(f.name()).unwrap_or(DataType::Utf8), true))
            .collect::<Vec<_>>(),
    ));
    let mut writer =
        ArrowWriter::try_new(std::fs::File::create(file).unwrap(), drifted.clone(), None).unwrap();
    for b in batches {
        let columns = b
            .columns()
            .iter()
            .zip(drifted.fields())
            .map(|(c, f)| cast(c, f.data_type()).unwrap())
            .collect();
        writer
            .write(
                &datafusion::arrow::record_batch::RecordBatch::try_new(drifted.clone(), columns)
                    .unwrap(),
            )
            .unwrap();
    }
    writer.close().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broken_tallyfy_export_fails_its_connection_by_file_and_keeps_yesterday() {
    let work = tempfile::tempdir().unwrap();
    let exports = work.path().join("exports");
    copy_tree(&common::repo().join("jobs/demo/tallyfy"), &exports);
    let mut plan = demo_plan();
    let Some(Connection::Tallyfy(location)) = plan.connections.get_mut("tallyfy") else {
        unreachable!()
    };
    location.location = okrflow::model::Location::Local(exports.clone());
    let day1_out = work.path().join("day1");
    let first = common::run(&plan, "2026-03-10", &day1_out).await;
    assert!(first.failed.is_empty(), "{:?}", first.failed);
    let tallyfy_krs: BTreeSet<String> = plan
        .key_results
        .iter()
        .filter(|k| {
            k.source
                .as_ref()
                .is_some_and(|s| s.connection() == "tallyfy")
        })
        .map(|k| k.id.clone())
        .collect();
    assert_eq!(tallyfy_krs.len(), 7);

    type Break = fn(&Path);
    let cases: [(&str, &str, Break, Option<&str>); 3] = [
        (
            "truncated",
            "onb-01_05.parquet",
            |f| {
                let bytes = std::fs::read(f).unwrap();
                std::fs::write(f, &bytes[..bytes.len() / 2]).unwrap();
            },
            Some("onb-01_05.parquet"),
        ),
        (
            "not Parquet",
            "onb-02_01.parquet",
            |f| {
                std::fs::write(f, "<html>503 Service Unavailable</html>").unwrap();
            },
            Some("onb-02_01.parquet"),
        ),
        ("columns of other types", "onb-01_04.parquet", drift, None),
    ];
    for (name, file, break_it, error) in cases {
        let exports_copy = work
            .path()
            .join(format!("exports-{}", name.replace(' ', "-")));
        copy_tree(&exports, &exports_copy);
        break_it(&exports_copy.join(file));
        let out = work.path().join(format!("out-{}", name.replace(' ', "-")));
        copy_tree(&day1_out, &out);
        let mut broken = plan.clone();
        let Some(Connection::Tallyfy(location)) = broken.connections.get_mut("tallyfy") else {
            unreachable!()
        };
        location.location = okrflow::model::Location::Local(exports_copy);
        let day1 = snapshot(&out);
        let second = common::run(&broken, "2026-03-11", &out).await;
        let after_day1: Vec<_> = snapshot(&out)
            .into_iter()
            .filter(|(p, _)| p.contains("as_of=2026-03-10"))
            .collect();
        let before_day1: Vec<_> = day1
            .into_iter()
            .filter(|(p, _)| p.contains("as_of=2026-03-10"))
            .collect();
        assert_eq!(before_day1, after_day1, "{name}: day 1 changed");
        let today = partition_rows(&out.join("kr_snapshots/as_of=2026-03-11"), "kr_id", &[]);
        let yesterday = partition_rows(&out.join("kr_snapshots/as_of=2026-03-10"), "kr_id", &[]);
        match error {
            Some(file_named) => {
                let failed: BTreeSet<String> =
                    second.failed.iter().map(|(k, _)| k.clone()).collect();
                assert_eq!(failed, tallyfy_krs, "{name}");
                for (kr, e) in &second.failed {
                    assert!(e.contains(file_named), "{name}: {kr}: {e}");
                    assert_eq!(today[kr]["stale"], "true");
                    assert_eq!(today[kr]["value"], yesterday[kr]["value"]);
                }
                for kr in ["O4-KR1", "O5-KR2"] {
                    assert_eq!(today[kr]["error"], "", "{name}: other connections are read");
                }
            }
            None => {
                // Read through the cast to text that every export column gets: the same values
                // as from the untouched exports.
                assert!(second.failed.is_empty(), "{name}: {:?}", second.failed);
                let clean = common::run(&plan, "2026-03-11", &work.path().join("clean")).await;
                let clean_rows = partition_rows(
                    &work.path().join("clean/kr_snapshots/as_of=2026-03-11"),
                    "kr_id",
                    &["run_id", "computed_at"],
                );
                let drifted_rows = partition_rows(
                    &out.join("kr_snapshots/as_of=2026-03-11"),
                    "kr_id",
                    &["run_id", "computed_at"],
                );
                assert!(clean.failed.is_empty());
                common::assert_same_rows(&drifted_rows, &clean_rows, name);
            }
        }
    }
}
