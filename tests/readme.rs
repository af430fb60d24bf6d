//! README and the command line agree: every `cargo run -- …` line of the `sh` blocks of
//! README and of the pages under `docs/` runs offline and exits 0 (in a copy of `jobs/`, so nothing is written in the repository),
//! and every flag of the command synopsis is one the command's `--help` lists, and every
//! command is in the synopsis.

mod common;
use common::repo;
use std::path::Path;
use std::process::Command;

fn readme() -> String {
    std::fs::read_to_string(repo().join("README.md")).unwrap()
}

/// The lines of README's fenced blocks of `lang`.
fn blocks(text: &str, lang: &str) -> Vec<String> {
    let mut out = Vec::new();
    // (in a block, of the wanted language)
    let mut state = (false, false);
    for line in text.lines() {
        if let Some(tag) = line.strip_prefix("```") {
            state = if state.0 {
                (false, false)
            } else {
                (true, tag.trim() == lang)
            };
            continue;
        }
        if state.1 {
            out.push(line.to_string());
        }
    }
    out
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let target = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &target);
        } else {
            std::fs::copy(e.path(), target).unwrap();
        }
    }
}

#[test]
fn every_command_of_readme_runs_offline() {
    let dir = tempfile::tempdir().unwrap();
    copy_dir(&repo().join("jobs"), &dir.path().join("jobs"));
    let mut text = readme();
    let mut pages: Vec<_> = std::fs::read_dir(repo().join("docs"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "md"))
        .collect();
    pages.sort();
    assert!(pages.len() >= 5, "{pages:?}");
    for page in pages {
        text.push_str(&std::fs::read_to_string(page).unwrap());
    }
    let commands: Vec<Vec<String>> = blocks(&text, "sh")
        .iter()
        .filter_map(|l| l.trim().strip_prefix("cargo run -- ").map(String::from))
        .map(|l| {
            let command = l.split(" #").next().unwrap();
            command.split_whitespace().map(String::from).collect()
        })
        .collect();
    // the demo, the backfill and the report
    assert!(commands.len() >= 3, "{commands:?}");
    assert_eq!(commands[0], ["run", "jobs/demo.toml"]);
    for args in &commands {
        let done = Command::new(env!("CARGO_BIN_EXE_okrflow"))
            .current_dir(dir.path())
            .args(args)
            .arg("-q")
            .output()
            .unwrap();
        assert!(
            done.status.success(),
            "`okrflow {}` exited {:?}:\n{}",
            args.join(" "),
            done.status.code(),
            String::from_utf8_lossy(&done.stderr)
        );
    }
    // what they say they write
    assert!(dir.path().join("out/runs").is_dir());
    assert!(dir.path().join("report.html").is_file());
    assert!(
        dir.path()
            .join("out/kr_snapshots/as_of=2026-03-31")
            .is_dir(),
        "the backfill wrote March"
    );
}

fn help(args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_okrflow"))
        .args(args)
        .arg("--help")
        .output()
        .unwrap();
    assert!(out.status.success(), "{args:?}");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn the_synopsis_names_every_command_and_only_real_flags() {
    let text = readme();
    let section = &text[text.find("## Commands").unwrap()..];
    let synopsis = &blocks(section, "")[..];
    let mut commands = Vec::new();
    for line in synopsis {
        let Some(rest) = line.strip_prefix("okrflow ") else {
            continue;
        };
        let words: Vec<&str> = rest.split_whitespace().collect();
        let mut sub = vec![words[0]];
        if words[0] == "athena" {
            sub.push(words[1]);
        }
        let help = help(&sub);
        let code = line.split(" #").next().unwrap();
        for flag in code
            .split(|c: char| !(c.is_alphanumeric() || c == '-'))
            .filter(|w| w.starts_with("--"))
        {
            assert!(
                help.contains(&format!("{flag} "))
                    || help.contains(&format!("{flag}\n"))
                    || help.contains(&format!("{flag} <")),
                "README's `okrflow {}` has {flag}, which its --help does not list:\n{help}",
                sub.join(" ")
            );
        }
        commands.push(sub.join(" "));
    }
    // every command of the binary is in the synopsis
    let top = help(&[]);
    let listed: Vec<&str> = top
        .lines()
        .skip_while(|l| !l.starts_with("Commands:"))
        .skip(1)
        .take_while(|l| l.starts_with("  "))
        // a command's name, not a wrapped line of its description
        .filter(|l| !l.starts_with("   "))
        .filter_map(|l| l.split_whitespace().next())
        .filter(|c| *c != "help")
        .collect();
    assert!(listed.len() >= 10, "{top}");
    for c in listed {
        assert!(
            commands
                .iter()
                .any(|s| s == c || s.starts_with(&format!("{c} "))),
            "`okrflow {c}` is not in README's synopsis ({commands:?})"
        );
    }
}

#[test]
fn readme_is_a_short_guide_whose_links_resolve() {
    let text = readme();
    let lines = text.lines().count();
    assert!(
        lines <= 400,
        "README has {lines} lines: move reference material to docs/"
    );
    // The two commands first, then what okrflow is, before any section.
    let first_section = text.find("\n## ").unwrap();
    assert!(text[..first_section].contains("cargo run -- run jobs/demo.toml"));
    assert!(text[..first_section].contains("cargo test"));
    // The contents list every section, by its anchor.
    let contents = &text[text.find("## Contents").unwrap()..];
    let contents = &contents[..3 + contents[3..].find("\n## ").unwrap()];
    for heading in text.lines().filter_map(|l| l.strip_prefix("## ")) {
        if heading == "Contents" {
            continue;
        }
        let anchor: String = heading
            .to_lowercase()
            .chars()
            .filter(|c| c.is_alphanumeric() || *c == ' ' || *c == '-')
            .map(|c| if c == ' ' { '-' } else { c })
            .collect();
        assert!(
            contents.contains(&format!("(#{anchor})")),
            "Contents lacks `{heading}`"
        );
    }
    // Every relative link of README and docs/ names a file of the repository.
    let mut pages = vec![repo().join("README.md")];
    for e in std::fs::read_dir(repo().join("docs")).unwrap() {
        pages.push(e.unwrap().path());
    }
    for page in pages
        .iter()
        .filter(|p| p.extension().is_some_and(|e| e == "md"))
    {
        let body = std::fs::read_to_string(page).unwrap();
        for (at, _) in body.match_indices("](") {
            let target = &body[at + 2..at + 2 + body[at + 2..].find(')').unwrap()];
            if target.starts_with("http") || target.starts_with('#') {
                continue;
            }
            let file = target.split('#').next().unwrap();
            let path = page.parent().unwrap().join(file);
            assert!(
                path.exists(),
                "{}: link to {target}, which does not exist",
                page.display()
            );
        }
    }
}
