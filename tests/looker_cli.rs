//! The Looker source through the real binary: secrets never leave the process, a run's raw
//! archive replays without the network, `preview` shows the value and its rows, `validate
//! --online` reports every problem at once, and requests respect the concurrency limit.

mod common;

use common::looker::{FakeLooker, demo_instance};
use std::path::{Path, PathBuf};
use std::process::Output;

const CLIENT_SECRET: &str = "s3cr3t-Looker-client-VALUE-7781";
const CLIENT_ID: &str = "looker-client-id-ABCDEF-0042";

/// A job over the demo Looker instance at `url`, with KRs reading two tiles and a look.
fn job(dir: &Path, url: &str, extra_kr: &str) -> PathBuf {
    let text = format!(
        "[job]\nname = \"cli\"\nfiscal_year_start_month = 2\n[output]\nurl = \"out\"\n\
         [connections.looker]\nkind = \"looker\"\nbase_url = \"{url}\"\n\
         client_id_env = \"OKRFLOW_TEST_LOOKER_ID\"\nclient_secret_env = \"OKRFLOW_TEST_LOOKER_SECRET\"\n\
         timeout_secs = 5\nmax_retries = 1\n\
         [[objectives]]\nid = \"S\"\ntitle = \"Sales\"\nowner = \"o\"\nperiod = \"FY27-Q1\"\n\
         [[objectives.key_results]]\nid = \"S-KR1\"\ntitle = \"demos\"\nowner = \"o\"\n\
         measure = {{ kpi = {{ start = 0, target = 50 }} }}\n\
         source = {{ looker = {{ dashboard = \"Sales Overview\", tile = \"Demos booked\", x = \"all\", pivot = {{ \"users.team\" = \"EMEA\" }}, aggregate = \"sum\" }} }}\n\
         [[objectives.key_results]]\nid = \"S-KR2\"\ntitle = \"teams\"\nowner = \"o\"\n\
         measure = {{ kpi = {{ start = 120, target = 200 }} }}\n\
         source = {{ looker = {{ look = \"Weekly active teams\" }} }}\n{extra_kr}"
    );
    let path = dir.join("job.toml");
    std::fs::write(&path, text).unwrap();
    path
}

/// Runs the binary with the Looker credentials in its environment.
async fn okrflow(args: &[&str], secret: &str) -> Output {
    let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    let secret = secret.to_string();
    tokio::task::spawn_blocking(move || {
        std::process::Command::new(env!("CARGO_BIN_EXE_okrflow"))
            .args(&args)
            .env("OKRFLOW_TEST_LOOKER_ID", CLIENT_ID)
            .env("OKRFLOW_TEST_LOOKER_SECRET", secret)
            .env_remove("RUST_LOG")
            .output()
            .unwrap()
    })
    .await
    .unwrap()
}

/// The demo instance, with this suite's client id.
fn instance() -> common::looker::Instance {
    let mut i = demo_instance();
    i.client_id = CLIENT_ID.into();
    i
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// Every file under `dir`, with its bytes.
fn all_files(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push((p.clone(), std::fs::read(&p).unwrap()));
            }
        }
    }
    out
}

fn assert_no_secret(what: &str, bytes: &[u8], secrets: &[String]) {
    let text = String::from_utf8_lossy(bytes);
    for s in secrets {
        assert!(!text.contains(s), "{what} contains a secret");
    }
}

#[tokio::test]
async fn secrets_never_reach_logs_errors_or_written_files() {
    let mut instance = instance();
    instance.client_secret = CLIENT_SECRET.into();
    let looker = FakeLooker::start(instance).await;
    let dir = tempfile::tempdir().unwrap();
    let job = job(dir.path(), &looker.url(), "");
    let job = job.to_str().unwrap();

    // A good run at the most verbose level, in both log formats.
    let text_run = okrflow(&["-vv", "run", job, "--as-of", "2026-04-30"], CLIENT_SECRET).await;
    assert_eq!(text_run.status.code(), Some(0), "{}", text(&text_run));
    let json_run = okrflow(
        &[
            "-vv",
            "--log-format",
            "json",
            "run",
            job,
            "--as-of",
            "2026-04-30",
        ],
        CLIENT_SECRET,
    )
    .await;
    assert_eq!(json_run.status.code(), Some(0), "{}", text(&json_run));
    // The secret was used: the server saw it in the login body, and handed out tokens.
    let seen = looker.server.rec.seen.lock().unwrap().join("\n");
    assert!(seen.contains(&format!("client_secret={CLIENT_SECRET}")));
    let tokens: Vec<String> = (1..=looker
        .server
        .logins
        .load(std::sync::atomic::Ordering::SeqCst))
        .map(|i| format!("tok{i}"))
        .collect();
    assert!(tokens.len() >= 2);

    // A run whose login is refused, and a preview and validate with a wrong secret.
    let wrong = "wrong-s3cr3t-that-must-not-leak-99";
    let refused = okrflow(&["-vv", "run", job, "--as-of", "2026-04-30"], wrong).await;
    assert_eq!(refused.status.code(), Some(3), "{}", text(&refused));
    assert!(
        text(&refused).contains("cannot log in"),
        "{}",
        text(&refused)
    );
    let preview = okrflow(
        &[
            "-vv",
            "preview",
            job,
            "--kr",
            "S-KR1",
            "--as-of",
            "2026-04-30",
        ],
        wrong,
    )
    .await;
    let validate = okrflow(&["-vv", "validate", job, "--online"], wrong).await;
    assert_eq!(validate.status.code(), Some(1), "{}", text(&validate));

    let mut secrets: Vec<String> = vec![CLIENT_SECRET.into(), wrong.into()];
    secrets.extend(tokens.iter().map(|t| format!("Bearer {t}")));
    for (name, o) in [
        ("text run", &text_run),
        ("json run", &json_run),
        ("refused run", &refused),
        ("preview", &preview),
        ("validate", &validate),
    ] {
        assert_no_secret(&format!("{name} stdout"), &o.stdout, &secrets);
        assert_no_secret(&format!("{name} stderr"), &o.stderr, &secrets);
    }
    let files = all_files(&dir.path().join("out"));
    assert!(
        files
            .iter()
            .any(|(p, _)| p.to_string_lossy().contains("/raw/")),
        "the raw archive was written"
    );
    for (path, bytes) in &files {
        assert_no_secret(&path.display().to_string(), bytes, &secrets);
    }
}

#[tokio::test]
async fn a_raw_archive_replays_the_same_values_without_the_network() {
    let looker = FakeLooker::start(instance()).await;
    let dir = tempfile::tempdir().unwrap();
    let job_path = job(dir.path(), &looker.url(), "");
    let live = okrflow(
        &["run", job_path.to_str().unwrap(), "--as-of", "2026-04-30"],
        "demo-secret",
    )
    .await;
    assert_eq!(live.status.code(), Some(0), "{}", text(&live));
    let live_text = String::from_utf8_lossy(&live.stdout).to_string();
    assert!(
        live_text.contains("S-KR1") && live_text.contains(" 24 "),
        "{live_text}"
    );

    // Point the job at a port nobody listens on, and replay the archive of that day.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let job_path = job(dir.path(), &format!("http://{closed}"), "");
    let raw = dir.path().join("out/raw");
    let replayed = okrflow(
        &[
            "run",
            job_path.to_str().unwrap(),
            "--as-of",
            "2026-04-30",
            "--replay",
            raw.to_str().unwrap(),
            "--output",
            dir.path().join("out2").to_str().unwrap(),
        ],
        "",
    )
    .await;
    assert_eq!(replayed.status.code(), Some(0), "{}", text(&replayed));
    let row = |t: &str, id: &str| t.lines().find(|l| l.contains(id)).unwrap().to_string();
    let replayed_text = String::from_utf8_lossy(&replayed.stdout).to_string();
    for id in ["S-KR1", "S-KR2"] {
        assert_eq!(row(&live_text, id), row(&replayed_text, id));
    }
    // A date the archive does not have: each key result says which request is missing.
    let missing = okrflow(
        &[
            "run",
            job_path.to_str().unwrap(),
            "--as-of",
            "2026-04-29",
            "--replay",
            raw.to_str().unwrap(),
            "--output",
            dir.path().join("out3").to_str().unwrap(),
        ],
        "",
    )
    .await;
    assert_eq!(missing.status.code(), Some(3), "{}", text(&missing));
    assert!(
        text(&missing).contains("not in the replay archive"),
        "{}",
        text(&missing)
    );
}

#[tokio::test]
async fn preview_prints_the_value_and_the_cells_it_came_from() {
    let demo = common::repo().join("jobs/demo.toml");
    let out = okrflow(&["preview", demo.to_str().unwrap(), "--kr", "O4-KR1"], "").await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("looker_demo: dashboard `Sales Overview` tile `Demos booked`"),
        "{stdout}"
    );
    // The three EMEA months and their sum.
    for cells in [
        "| 2026-02 | demos.count | EMEA      | 7.0   | 7    |",
        "| 2026-03 | demos.count | EMEA      | 12.0  | 12   |",
        "| 2026-04 | demos.count | EMEA      | 5.0   | 5    |",
    ] {
        assert!(stdout.contains(cells), "{cells} in\n{stdout}");
    }
    assert!(stdout.contains("value: 24"), "{stdout}");
    // The demo validates online from its bundled archive: Tallyfy footers, Looker targets and
    // Jira searches all resolve.
    let validate = okrflow(&["validate", demo.to_str().unwrap(), "--online"], "").await;
    assert_eq!(validate.status.code(), Some(0), "{}", text(&validate));
    let unknown = okrflow(&["preview", demo.to_str().unwrap(), "--kr", "NOPE"], "").await;
    assert_eq!(unknown.status.code(), Some(1));
    assert!(
        text(&unknown).contains("no key result `NOPE` in the job (it has: C1-KR1, C1-KR2"),
        "{}",
        text(&unknown)
    );
}

#[tokio::test]
async fn validate_online_reports_every_unresolvable_target_at_once() {
    let looker = FakeLooker::start(instance()).await;
    let dir = tempfile::tempdir().unwrap();
    let extra = "[[objectives.key_results]]\nid = \"S-KR3\"\ntitle = \"x\"\nowner = \"o\"\n\
                 measure = { kpi = { start = 0, target = 1 } }\n\
                 source = { looker = { dashboard = \"Sales Overview\", tile = \"Demos\" } }\n\
                 [[objectives.key_results]]\nid = \"S-KR4\"\ntitle = \"y\"\nowner = \"o\"\n\
                 measure = { kpi = { start = 0, target = 1 } }\n\
                 source = { looker = { look = \"Weekly active team\" } }\n";
    let job_path = job(dir.path(), &looker.url(), extra);
    let out = okrflow(
        &["validate", job_path.to_str().unwrap(), "--online"],
        "demo-secret",
    )
    .await;
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("error: key result S-KR3: connection `looker`: dashboard `Sales Overview` tile `Demos`: not found (similar titles: `Demos booked`, `Payment success rate`, `How to read this dashboard`)"), "{stdout}");
    assert!(
        stdout.contains(
            "error: key result S-KR4: connection `looker`: look `Weekly active team`: not found"
        ),
        "{stdout}"
    );
    assert!(stdout.contains(": 2 error(s) (2 online), "), "{stdout}");
    assert_eq!(
        looker.count("GET /api/4.0/queries"),
        0,
        "validate runs no query"
    );
    assert_eq!(looker.count("GET /api/4.0/looks/42/run"), 0);

    let good = job(dir.path(), &looker.url(), "");
    let out = okrflow(
        &["validate", good.to_str().unwrap(), "--online"],
        "demo-secret",
    )
    .await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("ok (online"),
        "{}",
        text(&out)
    );
}

#[tokio::test]
async fn requests_to_one_connection_stay_within_its_concurrency_limit() {
    let mut instance = instance();
    let mut krs = String::new();
    for i in 0..6 {
        let id = format!("{}", 60 + i);
        instance
            .looks
            .push(serde_json::json!({"id": id, "title": format!("Look {i}"), "query_id": "104"}));
        krs.push_str(&format!(
            "[[objectives.key_results]]\nid = \"L{i}\"\ntitle = \"l\"\nowner = \"o\"\n\
             measure = {{ kpi = {{ start = 0, target = 200 }} }}\nsource = {{ looker = {{ look_id = \"{id}\" }} }}\n"
        ));
    }
    let looker = FakeLooker::start(instance).await;
    *looker.server.rec.latency.lock().unwrap() = std::time::Duration::from_millis(150);
    let dir = tempfile::tempdir().unwrap();
    let job_path = job(dir.path(), &looker.url(), &krs);
    let text_job = std::fs::read_to_string(&job_path)
        .unwrap()
        .replace("max_retries = 1", "max_retries = 1\nconcurrency = 2");
    std::fs::write(&job_path, text_job).unwrap();
    let out = okrflow(
        &["run", job_path.to_str().unwrap(), "--as-of", "2026-04-30"],
        "demo-secret",
    )
    .await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(looker.server.rec.max_in_flight(), 2, "{:#?}", looker.log());
}
