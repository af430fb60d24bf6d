//! The digest `run` posts to Slack and Teams incoming webhooks, against a loopback webhook
//! server that answers as NOTIFY.md says they do (Slack: `200 ok`; a Teams Workflows webhook:
//! `202` and no body): its JSON checked against the run's own rows, none from a backfill or
//! with `--no-notify`, a webhook answering 500 (tried twice, a warning, the exit code the
//! run's), and the webhook URL, a secret, absent from every log line and written file.

mod common;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{StatusCode, Uri};
use common::{partition_rows, repo, walk};
use serde_json::Value;
use std::collections::VecDeque;
use std::path::Path;
use std::process::{Command, Output};
use std::sync::{Arc, Mutex};

/// What the webhook server received, and the answers it is told to give first.
#[derive(Default)]
struct Hooks {
    received: Mutex<Vec<(String, Value)>>,
    failures: Mutex<VecDeque<u16>>,
}

async fn hook(State(h): State<Arc<Hooks>>, uri: Uri, body: Bytes) -> (StatusCode, String) {
    let json: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    h.received
        .lock()
        .unwrap()
        .push((uri.path().to_string(), json));
    if let Some(status) = h.failures.lock().unwrap().pop_front() {
        return (StatusCode::from_u16(status).unwrap(), "rollup_error".into());
    }
    if uri.path().starts_with("/services/") {
        (StatusCode::OK, "ok".into())
    } else {
        (StatusCode::ACCEPTED, String::new())
    }
}

async fn start() -> (Arc<Hooks>, String) {
    let hooks = Arc::new(Hooks::default());
    let app = axum::Router::new()
        .fallback(axum::routing::post(hook))
        .with_state(hooks.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (hooks, url)
}

/// The demo job in `dir` (its bundled inputs by absolute path, output `dir/out`), posting to
/// Slack and Teams.
fn demo_job(dir: &Path) -> std::path::PathBuf {
    let jobs = repo().join("jobs");
    let text = std::fs::read_to_string(jobs.join("demo.toml"))
        .unwrap()
        .replace("\"demo/", &format!("\"{}/demo/", jobs.display()))
        .replace("url = \"../out\"", "url = \"out\"")
        + "\n[notify.slack]\nwebhook_url_env = \"OKRFLOW_TEST_SLACK\"\n\n\
           [notify.teams]\nwebhook_url_env = \"OKRFLOW_TEST_TEAMS\"\nwhen = \"on_change\"\n";
    let path = dir.join("job.toml");
    std::fs::write(&path, text).unwrap();
    path
}

const SLACK: &str = "/services/T0001/B0001/s3cr3tS1ackT0ken";
const TEAMS: &str = "/workflows/0123abcd/triggers/manual/paths/invoke";

async fn okrflow(dir: &Path, url: &str, args: &[&str]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_okrflow"));
    command
        .current_dir(dir)
        .args(args)
        .env_remove("RUST_LOG")
        .env("OKRFLOW_TEST_SLACK", format!("{url}{SLACK}"))
        .env(
            "OKRFLOW_TEST_TEAMS",
            format!("{url}{TEAMS}?sig=T3amsS1gnature"),
        );
    tokio::task::spawn_blocking(move || command.output().unwrap())
        .await
        .unwrap()
}

fn said(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).to_string() + &String::from_utf8_lossy(&o.stderr)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_posts_its_digest_and_nothing_else_does() {
    let (hooks, url) = start().await;
    let dir = tempfile::tempdir().unwrap();
    let job = demo_job(dir.path());
    let job = job.to_str().unwrap();

    let run = okrflow(dir.path(), &url, &["run", job, "--as-of", "2026-03-31"]).await;
    let code = run.status.code();
    assert!(matches!(code, Some(0 | 3)), "{}", said(&run));
    let received = hooks.received.lock().unwrap().clone();
    assert_eq!(received.len(), 2, "{received:?}");
    let slack = &received.iter().find(|(p, _)| p == SLACK).unwrap().1;
    let teams = &received.iter().find(|(p, _)| p == TEAMS).unwrap().1;

    // Slack: Block Kit, its header the period; the at-risk key results of that period named,
    // with their owner and their note, as the run wrote them
    let header = slack["blocks"][0]["text"]["text"].as_str().unwrap();
    assert_eq!(slack["blocks"][0]["type"], "header");
    let period = header
        .strip_prefix("demo · ")
        .and_then(|h| h.strip_suffix(" as of 2026-03-31"))
        .unwrap_or_else(|| panic!("{header}"));
    let text = slack.to_string();
    let krs = partition_rows(
        &dir.path().join("out/kr_snapshots/as_of=2026-03-31"),
        "kr_id",
        &[],
    );
    let at_risk: Vec<_> = krs
        .values()
        .filter(|r| r["period"] == period && r["status"] == "at_risk")
        .collect();
    assert!(
        !at_risk.is_empty(),
        "the demo has key results at risk on 31 March"
    );
    for r in &at_risk {
        assert!(
            text.contains(&format!(
                "{} {} ({}): at risk",
                r["kr_id"], r["kr_title"], r["owner"]
            )),
            "{} missing: {text}",
            r["kr_id"]
        );
        if !r["note"].is_empty() {
            assert!(
                text.contains(&r["note"]),
                "{}'s note missing: {text}",
                r["kr_id"]
            );
        }
    }
    let fallback = slack["text"].as_str().unwrap();
    assert!(
        fallback.contains(&format!(
            "{} key result(s) at risk or behind",
            at_risk.len()
                + krs
                    .values()
                    .filter(|r| r["period"] == period && r["status"] == "behind")
                    .count()
        )),
        "{fallback}"
    );

    // Teams: one Adaptive Card 1.4 in a message
    assert_eq!(teams["type"], "message");
    let card = &teams["attachments"][0];
    assert_eq!(
        card["contentType"],
        "application/vnd.microsoft.card.adaptive"
    );
    assert_eq!(card["content"]["type"], "AdaptiveCard");
    assert_eq!(card["content"]["version"], "1.4");
    assert_eq!(card["content"]["body"][0]["text"], header);

    // --no-notify and a backfill post nothing
    let quiet = okrflow(
        dir.path(),
        &url,
        &["run", job, "--as-of", "2026-03-31", "--no-notify"],
    )
    .await;
    assert_eq!(quiet.status.code(), code, "{}", said(&quiet));
    let back = okrflow(
        dir.path(),
        &url,
        &[
            "backfill",
            job,
            "--from",
            "2026-03-30",
            "--to",
            "2026-03-31",
        ],
    )
    .await;
    assert!(matches!(back.status.code(), Some(0 | 3)), "{}", said(&back));
    assert_eq!(hooks.received.lock().unwrap().len(), 2);

    // A webhook failing (500 twice for Slack): tried once more, a warning, the run's exit code
    hooks.failures.lock().unwrap().extend([500, 500]);
    let failing = okrflow(dir.path(), &url, &["run", job, "--as-of", "2026-03-31"]).await;
    assert_eq!(failing.status.code(), code, "{}", said(&failing));
    let out = said(&failing);
    assert!(
        out.contains("digest not posted")
            && out.contains("webhook (OKRFLOW_TEST_SLACK) answered 500: rollup_error"),
        "{out}"
    );
    // Teams posts on change: when a key result of the period has another status or health on
    // 31 March than on 30 March (the backfill's), worked out here from the written rows. The
    // first run posted: it had nothing before it.
    let day = |d: &str| {
        partition_rows(
            &dir.path().join(format!("out/kr_snapshots/as_of={d}")),
            "kr_id",
            &[],
        )
    };
    let (before, after) = (day("2026-03-30"), day("2026-03-31"));
    let changed = after.iter().any(|(id, r)| {
        r["period"] == period
            && (r["status"] != before[id]["status"] || r["health"] != before[id]["health"])
    });
    assert_eq!(
        hooks.received.lock().unwrap().len(),
        2 + 2 + usize::from(changed),
        "two to Slack; to Teams if something changed ({changed})"
    );
    assert_eq!(out.contains("digest not due"), !changed, "{out}");

    // the URLs are secrets: in no log line and no written file
    for secret in ["s3cr3tS1ackT0ken", "T3amsS1gnature", "/services/T0001"] {
        for o in [&run, &quiet, &back, &failing] {
            assert!(
                !said(o).contains(secret),
                "{secret} in the log: {}",
                said(o)
            );
        }
        for file in walk(dir.path()) {
            let bytes = std::fs::read(&file).unwrap();
            assert!(
                !String::from_utf8_lossy(&bytes).contains(secret),
                "{secret} in {}",
                file.display()
            );
        }
    }
}
