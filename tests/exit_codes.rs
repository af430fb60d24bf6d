//! Exit codes and logs as a scheduler sees them, through the real binary: a key result that
//! cannot work as configured exits 4 (the others still computed and written), a fatal error
//! under `--log-format json` is one JSON line with its chain and exit code, `run finished`
//! names the job, the run and the exit code, a warning leaves `validate` at 0, and the
//! systemd unit and timer under `deploy/` load cleanly (`systemd-analyze verify`).

mod common;

use common::{number, partition_rows, repo};
use std::path::Path;
use std::process::{Command, Output};

fn okrflow(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_okrflow"))
        .current_dir(dir)
        .args(args)
        .env_remove("OKRFLOW_TEST_SURELY_UNSET_ID")
        .env_remove("OKRFLOW_TEST_SURELY_UNSET_SECRET")
        .output()
        .unwrap()
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// A Tallyfy key result that works (the demo exports) and a Looker one whose connection's
/// secret variables are unset; nothing listens at the Looker URL, and nothing is asked.
fn job_with_unset_secret(dir: &Path) -> std::path::PathBuf {
    common::job_file(
        dir,
        "out",
        r#"[connections.lk]
kind = "looker"
base_url = "http://127.0.0.1:9"
client_id_env = "OKRFLOW_TEST_SURELY_UNSET_ID"
client_secret_env = "OKRFLOW_TEST_SURELY_UNSET_SECRET"

[[objectives]]
id = "O"
title = "Grow"
owner = "o"
period = "FY27-Q1"

[[objectives.key_results]]
id = "WORKS"
title = "Works"
owner = "o"
measure = { kpi = { start = 0, target = 20 } }
source = { tallyfy = { sql = "SELECT 10.0" } }

[[objectives.key_results]]
id = "NO-SECRET"
title = "Needs a secret"
owner = "o"
measure = { kpi = { start = 0, target = 20 } }
source = { looker = { look = "Open deals" } }
"#,
    )
}

#[test]
fn an_unset_secret_exits_4_and_the_other_key_results_are_written() {
    let dir = tempfile::tempdir().unwrap();
    let job = job_with_unset_secret(dir.path());
    let run = okrflow(
        dir.path(),
        &[
            "--log-format",
            "json",
            "run",
            job.to_str().unwrap(),
            "--as-of",
            "2026-03-15",
        ],
    );
    let stderr = String::from_utf8_lossy(&run.stderr).to_string();
    assert_eq!(run.status.code(), Some(4), "{}", text(&run));
    let krs = partition_rows(
        &dir.path().join("out/kr_snapshots/as_of=2026-03-15"),
        "kr_id",
        &[],
    );
    assert_eq!(number(&krs["WORKS"], "value"), 10.0);
    assert!(
        krs["NO-SECRET"]["error"]
            .contains("environment variable OKRFLOW_TEST_SURELY_UNSET_ID is not set"),
        "{:?}",
        krs["NO-SECRET"]
    );

    // Every line is JSON; `run finished` names the job, the run and the exit code.
    let lines: Vec<serde_json::Value> = stderr
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    let finished = lines
        .iter()
        .find(|l| l["fields"]["message"] == "run finished")
        .unwrap_or_else(|| panic!("no `run finished`: {stderr}"));
    let f = &finished["fields"];
    assert_eq!(f["exit_code"], 4, "{finished}");
    assert_eq!(f["job"], "test", "{finished}");
    assert_eq!(f["job_file"], job.to_str().unwrap(), "{finished}");
    assert_eq!(f["misconfigured"], 1, "{finished}");
    let run_id = f["run_id"].as_str().unwrap_or_else(|| panic!("{finished}"));
    let runs = partition_rows(&dir.path().join("out/runs/as_of=2026-03-15"), "run_id", &[]);
    assert!(runs.contains_key(run_id), "{run_id} not in runs: {runs:?}");
}

#[test]
fn preview_and_backfill_of_a_key_result_that_cannot_work_exit_4() {
    let dir = tempfile::tempdir().unwrap();
    let job = job_with_unset_secret(dir.path());
    let job = job.to_str().unwrap();
    let preview = okrflow(dir.path(), &["preview", job, "--kr", "NO-SECRET"]);
    assert_eq!(preview.status.code(), Some(4), "{}", text(&preview));
    let backfill = okrflow(
        dir.path(),
        &[
            "backfill",
            job,
            "--from",
            "2026-03-14",
            "--to",
            "2026-03-15",
            "-q",
        ],
    );
    assert_eq!(backfill.status.code(), Some(4), "{}", text(&backfill));
    let krs = partition_rows(
        &dir.path().join("out/kr_snapshots/as_of=2026-03-14"),
        "kr_id",
        &[],
    );
    assert_eq!(number(&krs["WORKS"], "value"), 10.0);
}

#[test]
fn a_source_that_fails_today_still_exits_3() {
    // The same job with both variables set: the login is refused (nothing listens), which
    // may pass by tomorrow.
    let dir = tempfile::tempdir().unwrap();
    let job = job_with_unset_secret(dir.path());
    let run = Command::new(env!("CARGO_BIN_EXE_okrflow"))
        .current_dir(dir.path())
        .args(["run", job.to_str().unwrap(), "--as-of", "2026-03-15", "-q"])
        .env("OKRFLOW_TEST_SURELY_UNSET_ID", "id")
        .env("OKRFLOW_TEST_SURELY_UNSET_SECRET", "secret")
        .output()
        .unwrap();
    assert_eq!(run.status.code(), Some(3), "{}", text(&run));
}

#[test]
fn a_fatal_error_or_a_bad_command_line_under_json_logs_is_one_json_line_with_its_exit_code() {
    let dir = tempfile::tempdir().unwrap();
    let run = okrflow(
        dir.path(),
        &["--log-format", "json", "run", "no-such-job.toml"],
    );
    assert_eq!(run.status.code(), Some(1), "{}", text(&run));
    let stderr = String::from_utf8_lossy(&run.stderr).to_string();
    let lines: Vec<serde_json::Value> = stderr
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    let fatal = lines.last().unwrap_or_else(|| panic!("nothing on stderr"));
    assert_eq!(fatal["level"], "ERROR", "{fatal}");
    assert_eq!(fatal["fields"]["exit_code"], 1, "{fatal}");
    let chain = fatal["fields"]["chain"].as_array().expect("a chain");
    assert!(
        chain[0]
            .as_str()
            .unwrap()
            .contains("cannot read job file no-such-job.toml"),
        "{fatal}"
    );
    // Text logs keep the plain `error:` line.
    let plain = okrflow(dir.path(), &["run", "no-such-job.toml"]);
    assert!(
        String::from_utf8_lossy(&plain.stderr).starts_with("error: cannot read job file"),
        "{}",
        text(&plain)
    );
    // A command line clap refuses is JSON too, with clap's exit code 2; text logs keep
    // clap's own words.
    let usage = okrflow(
        dir.path(),
        &[
            "run",
            "job.toml",
            "--as-of",
            "yesterday",
            "--log-format=json",
        ],
    );
    assert_eq!(usage.status.code(), Some(2), "{}", text(&usage));
    let stderr = String::from_utf8_lossy(&usage.stderr).to_string();
    let lines: Vec<serde_json::Value> = stderr
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    assert_eq!(lines.len(), 1, "{stderr}");
    assert_eq!(lines[0]["fields"]["exit_code"], 2, "{stderr}");
    let message = lines[0]["fields"]["message"].as_str().unwrap();
    assert!(
        message.contains("invalid value 'yesterday' for '--as-of"),
        "{stderr}"
    );
    let plain = okrflow(dir.path(), &["run", "job.toml", "--as-of", "yesterday"]);
    assert_eq!(plain.status.code(), Some(2), "{}", text(&plain));
    assert!(
        String::from_utf8_lossy(&plain.stderr).starts_with("error: invalid value 'yesterday'"),
        "{}",
        text(&plain)
    );
}

#[test]
fn a_warning_does_not_change_validates_exit_code() {
    let dir = tempfile::tempdir().unwrap();
    let ci = dir.path().join("ci");
    std::fs::create_dir_all(&ci).unwrap();
    std::fs::write(
        ci.join("a.csv"),
        "kr_id,date,value\nP-KR1,2026-03-01,5\nOLD-KR9,2026-03-01,3\n",
    )
    .unwrap();
    let job = common::job_file(
        dir.path(),
        "out",
        &format!(
            "[connections.ci]\nkind = \"checkins\"\nurl = \"{}\"\n\n\
             [[objectives]]\nid = \"P\"\ntitle = \"People\"\nowner = \"hr\"\nperiod = \"FY27-Q1\"\n\n\
             [[objectives.key_results]]\nid = \"P-KR1\"\ntitle = \"Reviews\"\nowner = \"p\"\n\
             measure = {{ kpi = {{ start = 0, target = 10 }} }}\nsource = {{ checkins = {{}} }}\n",
            ci.display()
        ),
    );
    let o = okrflow(dir.path(), &["validate", job.to_str().unwrap()]);
    let out = text(&o);
    assert!(
        out.contains("check-in for key result `OLD-KR9`, which this job does not define"),
        "{out}"
    );
    assert_eq!(o.status.code(), Some(0), "{out}");
    assert!(out.contains("ok") && out.contains("1 warning(s)"), "{out}");
}

/// The README's exit-code table has a line for each code the binary gives.
#[test]
fn readme_documents_exit_code_4() {
    let readme = std::fs::read_to_string(repo().join("README.md")).unwrap();
    assert!(
        readme.contains("\n| 4 |"),
        "README's exit-code table has no 4"
    );
}

#[test]
fn the_systemd_unit_and_timer_load_cleanly() {
    // .ci/run installs it (Debian's `systemd`); a machine without it fails here, not passes.
    let tool = Command::new("systemd-analyze").arg("--version").output();
    assert!(
        tool.is_ok_and(|o| o.status.success()),
        "systemd-analyze is missing: apt-get install -y systemd"
    );
    let deploy = repo().join("deploy");
    let unit = std::fs::read_to_string(deploy.join("okrflow.service")).unwrap();
    let timer = std::fs::read_to_string(deploy.join("okrflow.timer")).unwrap();
    // Exit 3 is a night whose sources failed (it passes by itself); 4 needs a person.
    let success: Vec<&str> = unit
        .lines()
        .filter_map(|l| l.strip_prefix("SuccessExitStatus="))
        .collect();
    assert_eq!(success, ["3"], "{unit}");

    // A stub binary at ExecStart, the working directory and environment file in a temp dir.
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().display().to_string();
    let stub = dir.path().join("okrflow");
    std::fs::write(&stub, "#!/bin/sh\nexit 0\n").unwrap();
    std::fs::set_permissions(&stub, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    std::fs::write(dir.path().join("okrflow.env"), "").unwrap();
    let unit = unit
        .replace("/srv/okrflow/okrflow ", &format!("{d}/okrflow "))
        .replace(
            "WorkingDirectory=/srv/okrflow",
            &format!("WorkingDirectory={d}"),
        )
        .replace("/etc/okrflow/okrflow.env", &format!("{d}/okrflow.env"));
    assert!(unit.contains(&format!("ExecStart={d}/okrflow ")), "{unit}");
    std::fs::write(dir.path().join("okrflow.service"), unit).unwrap();
    std::fs::write(dir.path().join("okrflow.timer"), timer).unwrap();
    let verify = Command::new("systemd-analyze")
        .current_dir(dir.path())
        .args(["verify", "./okrflow.service", "./okrflow.timer"])
        .output()
        .unwrap();
    // systemd exits 0 on a value it ignores ("Failed to parse value, ignoring: #"): nothing
    // may be said at all.
    assert!(verify.status.success(), "{}", text(&verify));
    assert_eq!(text(&verify), "", "systemd-analyze verify complained");
}
