//! The summary `okrflow run` prints fits a width: on a terminal (a pseudo-terminal made by
//! util-linux's `script`) with `COLUMNS` set every line is at most that wide and the tree
//! keeps its indentation; in a pipe it is as wide as its content, as programs and the other
//! tests read it, even with `COLUMNS` exported.

mod common;

use common::repo;

/// The summary table's lines of a demo run on 2026-04-15, `COLUMNS` set to `columns` or
/// unset, its stdout a terminal or a pipe.
fn summary(columns: Option<&str>, terminal: bool) -> Vec<String> {
    let out = tempfile::tempdir().unwrap();
    let args = [
        env!("CARGO_BIN_EXE_okrflow"),
        "run",
        "jobs/demo.toml",
        "--as-of",
        "2026-04-15",
        "--output",
        out.path().to_str().unwrap(),
    ];
    let mut cmd = if terminal {
        // `script` runs the command on a new pseudo-terminal and copies what it prints
        let mut c = std::process::Command::new("script");
        c.args([
            "--quiet",
            "--return",
            "--command",
            &args.join(" "),
            "/dev/null",
        ]);
        c
    } else {
        let mut c = std::process::Command::new(args[0]);
        c.args(&args[1..]);
        c
    };
    cmd.current_dir(repo())
        .env("NO_COLOR", "1")
        .env("RUST_LOG", "warn");
    match columns {
        Some(c) => cmd.env("COLUMNS", c),
        None => cmd.env_remove("COLUMNS"),
    };
    let run = cmd.output().unwrap();
    let text = String::from_utf8_lossy(&run.stdout).replace('\r', "");
    assert!(run.status.success(), "{text}");
    text.lines()
        .filter(|l| l.starts_with(['┌', '│', '╞', '└']))
        .map(String::from)
        .collect()
}

/// The id cell of each row (the first column, its leading spaces and `↳` kept).
fn ids(table: &[String]) -> Vec<String> {
    table
        .iter()
        .filter_map(|l| l.strip_prefix("│ "))
        .map(|l| l.split(" ┆").next().unwrap().trim_end().to_string())
        .filter(|id| !id.trim().is_empty() && id.trim() != "id")
        .collect()
}

#[test]
fn on_a_terminal_the_summary_fits_and_keeps_the_tree() {
    let piped = summary(None, false);
    // a pipe ignores an exported COLUMNS
    assert_eq!(summary(Some("80"), false), piped);
    // a pipe: as wide as the content, one line a row
    let wide = piped[0].chars().count();
    assert!(wide > 150, "{piped:#?}");
    assert!(
        piped.iter().all(|l| l.chars().count() == wide),
        "{piped:#?}"
    );
    assert!(piped[1].contains(" expected ┆ score "), "{}", piped[1]);
    let tree = ids(&piped);
    assert!(tree.contains(&"      O1-KR1".to_string()), "{tree:#?}");
    assert!(tree.contains(&"    ↳ O7-KR1".to_string()), "{tree:#?}");
    for columns in ["80", "100"] {
        let width: usize = columns.parse().unwrap();
        let table = summary(Some(columns), true);
        for l in &table {
            assert!(l.chars().count() <= width, "{columns}: {l}\n{table:#?}");
        }
        // every row, in the same order, indented the same
        assert_eq!(ids(&table), tree, "{columns}: {table:#?}");
        // long titles shortened, notes wrapped whole: a check-in's source on the next line
        let text = table.join("\n");
        assert!(text.contains("Give every new cu"), "{text}");
        assert!(
            !text.contains("Give every new customer a great start"),
            "{text}"
        );
        assert!(text.contains('…'), "{text}");
        // the note cells one after the other, spaces left out: a check-in's note is whole
        let notes: String = table
            .iter()
            .filter_map(|l| l.rsplit('┆').next())
            .flat_map(|c| c.trim_end_matches('│').split_whitespace())
            .collect();
        assert!(
            notes.contains("check-inof2026-03-15byjo(jobs/demo/checkins/2026-03.csvline7)"),
            "{text}"
        );
        assert!(
            table.len() > piped.len(),
            "{columns}: no line wrapped\n{text}"
        );
    }
}
