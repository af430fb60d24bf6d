//! `validate` catches what it can without data, through the real binary: every unknown field
//! of the file at once, alignments to key results the job does not define, and SQL that does
//! not plan against the Tallyfy views (a misspelt column, two columns, text). A run fails
//! those key results before it reads an export, and computes the others.

mod common;
use common::*;
use std::process::Command;

fn okrflow(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_okrflow"))
        .args(args)
        .output()
        .unwrap()
}

fn kr(id: &str, sql: &str) -> String {
    format!(
        "[[objectives.key_results]]\nid = \"{id}\"\ntitle = \"t\"\nowner = \"o\"\n\
         measure = {{ kpi = {{ start = 0, target = 10 }} }}\nsource = {{ tallyfy = {{ sql = \"{sql}\" }} }}\n"
    )
}

const OBJECTIVE: &str =
    "[[objectives]]\nid = \"O\"\ntitle = \"o\"\nowner = \"o\"\nperiod = \"FY27-Q1\"\n";

#[test]
fn sql_that_does_not_plan_is_an_error_of_validate_and_of_its_key_result_only() {
    let dir = tempfile::tempdir().unwrap();
    job_with(
        dir.path(),
        &format!(
            "{OBJECTIVE}{}{}{}{}",
            kr(
                "GOOD",
                "SELECT count(*) FROM tallyfy_processes WHERE blueprint_id = 'bp-vendor' AND started_at < $as_of_end"
            ),
            kr(
                "TYPO",
                "SELECT count(*) FROM tallyfy_processes WHERE process_state = 'complete'"
            ),
            kr(
                "TWO",
                "SELECT count(*), max(duration_days) FROM tallyfy_processes"
            ),
            kr("TEXT", "SELECT max(process_name) FROM tallyfy_processes"),
        ),
    );
    let job = dir.path().join("job.toml");
    let job_s = job.to_str().unwrap();
    let validate = okrflow(&["validate", job_s]);
    let out = String::from_utf8_lossy(&validate.stdout);
    assert_eq!(validate.status.code(), Some(1), "{out}");
    let lines: Vec<&str> = out.lines().filter(|l| l.contains(": error: ")).collect();
    assert_eq!(lines.len(), 3, "{out}");
    // Each names the file, the line of the key result's source, the key result and the cause.
    // The job_with header takes 11 lines and the objective 5; each key result 6.
    assert!(
        lines[0].starts_with(&format!("{job_s}:28:1: error: key result TYPO: sql does not plan: Schema error: No field named process_state. Did you mean 'tallyfy_processes.process_status'?")),
        "{out}"
    );
    assert!(
        lines[1].starts_with(&format!("{job_s}:34:1: error: key result TWO: sql does not plan: the query gives 2 columns (`count(*)`, `max(tallyfy_processes.duration_days)`); it must give exactly one number")),
        "{out}"
    );
    assert!(
        lines[2].starts_with(&format!("{job_s}:40:1: error: key result TEXT: sql does not plan: the query gives `max(tallyfy_processes.process_name)` of type Utf8, not a number")),
        "{out}"
    );
    assert!(out.contains(&format!("{job_s}: 3 error(s)")), "{out}");

    // A run fails those three with the same reason and computes the fourth: 3 vendor reviews
    // had started by 3 March (ven-00 from January, ven-01 and ven-02).
    let o = dir.path().join("out");
    let run = okrflow(&[
        "run",
        job_s,
        "--as-of",
        "2026-03-03",
        "--output",
        o.to_str().unwrap(),
        "--no-summary",
    ]);
    let stderr = String::from_utf8_lossy(&run.stderr);
    // SQL that does not plan cannot work as configured: exit 4, not 3.
    assert_eq!(run.status.code(), Some(4), "{stderr}");
    let rows = partition_rows(&o.join("kr_snapshots/as_of=2026-03-03"), "kr_id", &[]);
    assert_eq!(number(&rows["GOOD"], "value"), 3.0);
    for (id, line) in [("TYPO", 28), ("TWO", 34), ("TEXT", 40)] {
        assert!(
            rows[id]["error"].starts_with(&format!(
                "key result {id} (job file line {line}): sql does not plan: "
            )),
            "{id}: {:?}",
            rows[id]
        );
        // logged once
        assert_eq!(
            stderr
                .matches(&format!("key result {id} (job file line"))
                .count(),
            1,
            "{stderr}"
        );
    }
}

#[test]
fn every_unknown_field_and_alignment_typo_is_reported_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let data = repo().join("jobs/demo/tallyfy");
    let text = format!(
        "[job]\nname = \"t\"\n\n[output]\nurl = \"out\"\n\n[connections.tallyfy]\nkind = \"tallyfy\"\nurl = \"{}\"\n\n\
         [[objectives]]\nid = \"C\"\ntitle = \"c\"\nowner = \"o\"\nperiod = \"FY27-Q1\"\n\
         [[objectives.key_results]]\nid = \"C-KR1\"\ntitle = \"t\"\nmeasure = {{ aligned = {{}} }}\n\
         [[objectives]]\nid = \"A\"\ntitle = \"a\"\nowner = \"o\"\nperiod = \"FY27-Q1\"\naligns_to = {{ key_result = \"C-KR9\" }}\n\
         [[objectives.key_results]]\nid = \"A-KR1\"\ntitle = \"t\"\nmeasure = {{ kpi = {{ start = 0, target = 1 }} }}\n\
         source = {{ tallyfy = {{ sql = \"SELECT 1\" }} }}\n",
        data.display()
    );
    let job = dir.path().join("job.toml");
    std::fs::write(&job, &text).unwrap();
    let job_s = job.to_str().unwrap();
    let validate = okrflow(&["validate", job_s]);
    let out = String::from_utf8_lossy(&validate.stdout);
    assert_eq!(validate.status.code(), Some(1), "{out}");
    assert!(
        out.contains(&format!("{job_s}:25:13: error: objective A: aligns to key result `C-KR9`, which this job does not define (key results: C-KR1, A-KR1)")),
        "{out}"
    );
    assert!(
        out.contains(&format!(
            "{job_s}:17:6: error: key result C-KR1: is measured by its aligned objectives"
        )),
        "{out}"
    );
    // A run refuses the job the same way and writes nothing.
    let run = okrflow(&[
        "run",
        job_s,
        "--output",
        dir.path().join("out").to_str().unwrap(),
    ]);
    assert_eq!(run.status.code(), Some(1));
    assert!(!dir.path().join("out").exists());

    // Two misspelt fields in two tables, and a wrong type: three errors, one pass.
    let typos = text
        .replace("title = \"a\"", "titel = \"a\"\ntitle = \"a\"")
        .replace("measure = { kpi", "weigth = 2\nmeasure = { kpi")
        .replace(
            "owner = \"o\"\nperiod = \"FY27-Q1\"\n[[objectives.key_results]]\nid = \"C-KR1\"",
            "owner = 7\nperiod = \"FY27-Q1\"\n[[objectives.key_results]]\nid = \"C-KR1\"",
        );
    std::fs::write(&job, &typos).unwrap();
    let validate = okrflow(&["validate", job_s]);
    let out = String::from_utf8_lossy(&validate.stdout);
    assert_eq!(validate.status.code(), Some(1), "{out}");
    let errors: Vec<&str> = out.lines().filter(|l| l.contains(": error: ")).collect();
    assert_eq!(errors.len(), 3, "{out}");
    assert!(
        errors[0].contains("objective C: invalid type: integer `7`, expected a string"),
        "{out}"
    );
    assert!(
        errors[1].contains("objective A: unknown field `titel`"),
        "{out}"
    );
    assert!(
        errors[2].contains("key result A-KR1: unknown field `weigth`"),
        "{out}"
    );
}

#[test]
fn init_writes_a_commented_starter_job_that_validates_and_is_never_replaced() {
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("okr");
    let init = okrflow(&["init", target.to_str().unwrap()]);
    assert!(
        init.status.success(),
        "{}",
        String::from_utf8_lossy(&init.stderr)
    );
    let job = target.join("job.toml");
    let text = std::fs::read_to_string(&job).unwrap();
    // one key result per source kind, and comments that point to the reference
    for needle in [
        "source = { tallyfy",
        "source = { looker",
        "source = { jira",
        "docs/job-file.md",
    ] {
        assert!(text.contains(needle), "{needle}");
    }
    assert!(target.join("tallyfy").is_dir());
    let validate = okrflow(&["validate", job.to_str().unwrap()]);
    let out = String::from_utf8_lossy(&validate.stdout);
    assert_eq!(validate.status.code(), Some(0), "{out}");
    assert!(
        out.contains("ok — 1 objective(s), 3 key result(s), 3 connection(s)"),
        "{out}"
    );
    // A second init keeps the edited file.
    std::fs::write(&job, "# mine\n").unwrap();
    let again = okrflow(&["init", target.to_str().unwrap()]);
    assert_eq!(again.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&again.stderr).contains("an existing job file is never replaced")
    );
    assert_eq!(std::fs::read_to_string(&job).unwrap(), "# mine\n");
}

#[test]
fn a_dry_run_into_a_new_folder_plans_and_athena_ddl_takes_an_output() {
    let dir = tempfile::tempdir().unwrap();
    let new = dir.path().join("not/yet");
    let dry = Command::new(env!("CARGO_BIN_EXE_okrflow"))
        .current_dir(repo())
        .args([
            "backfill",
            "jobs/demo.toml",
            "--from",
            "2026-03-01",
            "--to",
            "2026-03-02",
        ])
        .args(["--output", new.to_str().unwrap(), "--dry-run", "-q"])
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&dry.stdout);
    assert!(
        dry.status.success(),
        "{out}{}",
        String::from_utf8_lossy(&dry.stderr)
    );
    assert_eq!(out.matches("fetch 19 key result(s)").count(), 2, "{out}");
    assert!(
        !dir.path().join("not").exists(),
        "a dry run creates nothing"
    );

    // The demo writes a local folder; --output gives the DDL an S3 location without an edit.
    let ddl = Command::new(env!("CARGO_BIN_EXE_okrflow"))
        .current_dir(repo())
        .args([
            "athena",
            "ddl",
            "jobs/demo.toml",
            "--output",
            "s3://acme-okr/prod/",
        ])
        .output()
        .unwrap();
    let sql = String::from_utf8_lossy(&ddl.stdout);
    assert!(
        ddl.status.success(),
        "{}",
        String::from_utf8_lossy(&ddl.stderr)
    );
    assert!(
        sql.contains("LOCATION 's3://acme-okr/prod/kr_snapshots/'"),
        "{sql}"
    );
    let local = Command::new(env!("CARGO_BIN_EXE_okrflow"))
        .current_dir(repo())
        .args(["athena", "ddl", "jobs/demo.toml"])
        .output()
        .unwrap();
    assert_eq!(local.status.code(), Some(1));
    // the output is printed normalised: jobs/../out is out
    assert!(
        String::from_utf8_lossy(&local.stderr).contains("the output is the local folder out:"),
        "{}",
        String::from_utf8_lossy(&local.stderr)
    );
}

/// A Tallyfy folder with no export file (empty, or only a note) is nothing to measure, not
/// a count of 0: `validate` warns naming the folder (exit 0), `run` gives `no_data` with a
/// note naming it (exit 0).
#[test]
fn an_export_folder_without_exports_is_a_warning_and_no_data() {
    let dir = tempfile::tempdir().unwrap();
    let job = job_file(
        dir.path(),
        "out",
        &format!(
            "{OBJECTIVE}{}",
            kr("EMPTY", "SELECT count(*) FROM tallyfy_processes")
        ),
    );
    let empty = dir.path().join("exports");
    std::fs::create_dir_all(&empty).unwrap();
    std::fs::write(empty.join("README.txt"), "exports go here").unwrap();
    let data = repo().join("jobs/demo/tallyfy");
    let text = std::fs::read_to_string(&job)
        .unwrap()
        .replace(&data.display().to_string(), &empty.display().to_string());
    std::fs::write(&job, text).unwrap();
    let job_s = job.to_str().unwrap();

    let validate = okrflow(&["validate", job_s]);
    let out = String::from_utf8_lossy(&validate.stdout);
    assert_eq!(validate.status.code(), Some(0), "{out}");
    assert!(
        out.contains(&format!(
            "{job_s}: warning: connection tallyfy: no Tallyfy export files (*.parquet) in {}",
            empty.display()
        )),
        "{out}"
    );
    assert!(out.contains(", 1 warning(s)"), "{out}");

    let o = dir.path().join("out");
    let run = okrflow(&[
        "run",
        job_s,
        "--as-of",
        "2026-03-03",
        "--output",
        o.to_str().unwrap(),
    ]);
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert_eq!(run.status.code(), Some(0), "{stderr}");
    let rows = partition_rows(&o.join("kr_snapshots/as_of=2026-03-03"), "kr_id", &[]);
    assert_eq!(rows["EMPTY"]["status"], "no_data", "{:?}", rows["EMPTY"]);
    assert_eq!(rows["EMPTY"]["value"], "", "{:?}", rows["EMPTY"]);
    assert!(
        rows["EMPTY"]["note"].contains(&format!(
            "no Tallyfy export files (*.parquet) in {}",
            empty.display()
        )),
        "{:?}",
        rows["EMPTY"]
    );
}
