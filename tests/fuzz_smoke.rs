//! Fuzzing, in the budget of the default test run: the job-file parser and the Looker and
//! Jira response parsers get thousands of mutated inputs from a fixed seed (byte edits of the
//! text, and structure-aware edits of the JSON: values swapped for other types). None may
//! panic; each must answer with a value or an error. A failing input is written next to the
//! test binary's temporary folder and named in the failure. The same entry points
//! (`okrflow::fuzzing`) are the cargo-fuzz targets in `fuzz/`, which need a nightly toolchain
//! (`fuzz/smoke.sh`).

mod common;

use okrflow::fuzzing;
use serde_json::{Value, json};
use std::panic::{AssertUnwindSafe, catch_unwind};

/// xorshift64*: deterministic, so a failure reproduces.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

const ALPHABET: &[u8] = b"[]{}=\"'.,#\n \t0123456789-+eE_:abcdxyzTOMLtrue\\\xff\x00";

/// One to four byte-level edits: flip, insert, delete a range, duplicate or swap lines.
fn mutate_text(rng: &mut Rng, text: &str) -> String {
    let mut bytes = text.as_bytes().to_vec();
    for _ in 0..=rng.below(4) {
        if bytes.is_empty() {
            bytes.push(b'x');
        }
        let at = rng.below(bytes.len());
        match rng.below(5) {
            0 => bytes[at] = ALPHABET[rng.below(ALPHABET.len())],
            1 => bytes.insert(at, ALPHABET[rng.below(ALPHABET.len())]),
            2 => {
                let end = (at + rng.below(40)).min(bytes.len());
                bytes.drain(at..end);
            }
            3 => {
                let end = (at + rng.below(200)).min(bytes.len());
                let copy = bytes[at..end].to_vec();
                let to = rng.below(bytes.len());
                bytes.splice(to..to, copy);
            }
            _ => {
                let mut lines: Vec<&[u8]> = bytes.split(|b| *b == b'\n').collect();
                let (a, b) = (rng.below(lines.len()), rng.below(lines.len()));
                lines.swap(a, b);
                bytes = lines.join(&b'\n');
            }
        }
    }
    String::from_utf8_lossy(&bytes).into_owned()
}

/// Replaces one value somewhere in `v` by a value of another type.
fn mutate_json(rng: &mut Rng, v: &mut Value) {
    let replacement = |rng: &mut Rng| match rng.below(8) {
        0 => Value::Null,
        1 => json!(rng.next() as i64),
        2 => json!(-1.5e300),
        3 => json!("2026-13-45T99:99:99"),
        4 => json!(""),
        5 => json!([]),
        6 => json!({}),
        _ => json!(true),
    };
    let descend = rng.below(4) != 0;
    match v {
        Value::Object(m) if !m.is_empty() && descend => {
            let key = m.keys().nth(rng.below(m.len())).cloned().expect("a key");
            mutate_json(rng, m.get_mut(&key).expect("present"));
        }
        Value::Array(a) if !a.is_empty() && descend => {
            let i = rng.below(a.len());
            mutate_json(rng, &mut a[i]);
        }
        _ => *v = replacement(rng),
    }
}

/// Runs `check` on `n` mutations of the seeds; fails naming the first input that panics, and
/// when the mutations are all accepted or all refused (then they test nothing).
fn fuzz(name: &str, seeds: &[String], n: usize, check: impl Fn(&str) -> bool) {
    let mut accepted = 0;
    let mut rng = Rng(0x5eed_0000 + name.len() as u64);
    let parsed: Vec<Option<Value>> = seeds.iter().map(|s| serde_json::from_str(s).ok()).collect();
    for i in 0..n {
        let k = rng.below(seeds.len());
        let input = match (&parsed[k], rng.below(2)) {
            (Some(v), 0) => {
                let mut v = v.clone();
                for _ in 0..=rng.below(3) {
                    mutate_json(&mut rng, &mut v);
                }
                v.to_string()
            }
            _ => mutate_text(&mut rng, &seeds[k]),
        };
        match catch_unwind(AssertUnwindSafe(|| check(&input))) {
            Ok(ok) => accepted += usize::from(ok),
            Err(_) => {
                let path = std::env::temp_dir().join(format!("okrflow-fuzz-{name}-{i}.txt"));
                std::fs::write(&path, &input).unwrap();
                panic!(
                    "{name}: input {i} panicked; it is saved in {}",
                    path.display()
                );
            }
        }
    }
    assert!(
        accepted > n / 20 && accepted < n - n / 20,
        "{name}: {accepted} of {n} mutated inputs were accepted"
    );
    eprintln!("{name}: {accepted} of {n} mutated inputs accepted, the rest refused; none panicked");
}

/// The archived response bodies of the demo's connection, as JSON texts.
fn archived_bodies(connection: &str, contains: &str) -> Vec<String> {
    let dir = common::repo().join("jobs/demo/raw").join(connection);
    common::files(&dir)
        .iter()
        .filter(|n| n.contains(contains))
        .map(|n| {
            let v: Value =
                serde_json::from_str(&std::fs::read_to_string(dir.join(n)).unwrap()).unwrap();
            v["body"].to_string()
        })
        .collect()
}

#[test]
fn the_job_parser_answers_every_mutated_job_file() {
    let seed = std::fs::read_to_string(common::repo().join("jobs/demo.toml")).unwrap();
    fuzz("job", &[seed], 4000, fuzzing::job_file);
}

#[test]
fn the_looker_result_parser_answers_every_mutated_body() {
    let mut seeds = archived_bodies("looker_demo", "json_detail");
    seeds.push(
        std::fs::read_to_string(
            common::repo()
                .join("tests/fixtures/looker/looker-json_detail.actions-docs-example.json"),
        )
        .unwrap(),
    );
    fuzz("looker", &seeds, 6000, fuzzing::looker_body);
}

#[test]
fn the_jira_page_parser_answers_every_mutated_body() {
    let seeds = archived_bodies("jira_demo", "search");
    fuzz("jira", &seeds, 6000, fuzzing::jira_body);
}
