//! Small drift a newcomer met (issue 33): `init`'s help and starter period, `report --output`
//! given the HTML file's name, `athena ddl` on a local output, and a missing job file's
//! reason printed once.

use chrono::Utc;
use okrflow::model::Period;
use std::process::{Command, Output};

fn okrflow(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_okrflow"))
        .args(args)
        .output()
        .unwrap()
}

fn repo_file(path: &str) -> String {
    format!("{}/{path}", env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn the_starter_job_measures_the_quarter_it_is_written_in() {
    let dir = tempfile::tempdir().unwrap();
    let init = okrflow(&["init", dir.path().to_str().unwrap()]);
    assert!(
        init.status.success(),
        "{}",
        String::from_utf8_lossy(&init.stderr)
    );
    let today = Utc::now().date_naive();
    let text = std::fs::read_to_string(dir.path().join("job.toml")).unwrap();
    assert!(text.contains("fiscal_year_start_month = 1 "), "{text}");
    let label = text
        .lines()
        .find_map(|l| l.strip_prefix("period = \""))
        .and_then(|rest| rest.split('"').next())
        .unwrap_or_else(|| panic!("no period in the starter:\n{text}"));
    let period = Period::fiscal(label, 1).unwrap();
    assert!(
        period.contains(today),
        "the starter's period {period} does not hold today, {today}"
    );
    assert!(
        text.contains(&format!("({label} = ")),
        "the fiscal-year comment names the starter's period:\n{text}"
    );
}

#[test]
fn init_help_and_readme_name_the_kinds_the_starter_has() {
    let help = String::from_utf8_lossy(&okrflow(&["init", "--help"]).stdout).into_owned();
    let readme = std::fs::read_to_string(repo_file("README.md")).unwrap();
    let synopsis: String = readme
        .lines()
        .skip_while(|l| !l.starts_with("okrflow init"))
        .take_while(|l| l.starts_with("okrflow init") || l.starts_with("     "))
        .collect::<Vec<_>>()
        .join("\n");
    for text in [&help, &synopsis] {
        let flat = text.split_whitespace().collect::<Vec<_>>().join(" ");
        assert!(!flat.contains("one key result per source kind"), "{text}");
        for kind in ["Tallyfy", "Looker", "Jira"] {
            assert!(flat.contains(kind), "{kind} missing from:\n{text}");
        }
    }
    let flat = help.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(flat.contains("three of the five source kinds"), "{help}");
}

#[test]
fn report_output_named_like_the_html_file_points_at_out() {
    let dir = tempfile::tempdir().unwrap();
    let html = dir.path().join("r.html");
    let out = Command::new(env!("CARGO_BIN_EXE_okrflow"))
        .current_dir(dir.path())
        .args(["report", &repo_file("jobs/demo.toml"), "--output", "r.html"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("--output r.html: no such folder"),
        "{stderr}"
    );
    assert!(
        stderr.contains("--output is the snapshots' folder or s3:// url to read"),
        "{stderr}"
    );
    assert!(stderr.contains("the HTML file goes to --out"), "{stderr}");
    assert!(!html.exists(), "nothing is written");
}

#[test]
fn athena_ddl_on_a_local_output_names_output_and_the_job_url() {
    let out = okrflow(&["athena", "ddl", &repo_file("jobs/demo.toml")]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("the job's [output] url"), "{stderr}");
    assert!(stderr.contains("--output s3://"), "{stderr}");
}

#[test]
fn a_missing_job_file_says_why_once() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nope.toml");
    for command in ["run", "validate"] {
        let out = okrflow(&[command, missing.to_str().unwrap()]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{stderr}");
        assert!(
            stderr.contains(&format!("cannot read job file {}", missing.display())),
            "{stderr}"
        );
        let os_reason = std::fs::read(&missing).unwrap_err().to_string();
        assert!(stderr.contains(&os_reason), "{stderr}");
        assert_eq!(stderr.matches(&os_reason).count(), 1, "{stderr}");
    }
}
