//! The shape of the code, checked: the layers import downward only, no module imports one
//! that imports it back, nothing outside `src/sources/` names a source kind, and no file in
//! `src/` grows past 650 lines. `src/lib.rs`'s doc says the layering in three lines.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// A module path below the crate root (`["sources", "http", "client"]`).
type ModPath = Vec<String>;

/// Every `.rs` file of `src/` with the module path it defines.
fn modules() -> BTreeMap<ModPath, PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut out = BTreeMap::new();
    let mut stack = vec![root.clone()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            if path.extension().is_none_or(|e| e != "rs") {
                continue;
            }
            let rel = path.strip_prefix(&root).unwrap();
            let mut segs: ModPath = rel
                .iter()
                .map(|s| s.to_string_lossy().trim_end_matches(".rs").to_string())
                .collect();
            if matches!(
                segs.last().map(String::as_str),
                Some("mod" | "lib" | "main")
            ) {
                segs.pop();
            }
            if rel == Path::new("main.rs") {
                continue; // the binary, not the library's tree
            }
            out.insert(segs, path);
        }
    }
    out
}

/// A file's code without its unit tests and comments.
fn code(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap();
    let code = text.split("#[cfg(test)]").next().unwrap();
    code.lines()
        .map(|l| l.split("//").next().unwrap())
        .collect::<Vec<_>>()
        .join("\n")
}

/// The paths a file's code names: `crate::a::b`, `super::x`, `self::y`, with `use` groups
/// (`crate::a::{b, c::d}`) spread into one path per item.
fn paths(code: &str) -> Vec<Vec<String>> {
    let bytes: Vec<char> = code.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    let ident = |c: char| c.is_alphanumeric() || c == '_';
    while i < bytes.len() {
        let starts = ["crate::", "super::", "self::"]
            .iter()
            .find(|p| code_at(&bytes, i, p) && (i == 0 || !ident(bytes[i - 1])));
        if starts.is_none() {
            i += 1;
            continue;
        }
        // Read `a::b::c` and, at a `{`, the group's items.
        let mut segs = Vec::new();
        let mut seg = String::new();
        while i < bytes.len() {
            let c = bytes[i];
            if ident(c) {
                seg.push(c);
                i += 1;
            } else if code_at(&bytes, i, "::") {
                segs.push(std::mem::take(&mut seg));
                i += 2;
            } else {
                break;
            }
        }
        if !seg.is_empty() {
            segs.push(seg);
        }
        if i < bytes.len() && bytes[i] == '{' {
            let end = (i..bytes.len())
                .find(|&j| bytes[j] == '}')
                .unwrap_or(bytes.len());
            let group: String = bytes[i + 1..end].iter().collect();
            for item in group.split([',', '{']) {
                let mut p = segs.clone();
                p.extend(
                    item.split("::")
                        .map(|s| s.trim().split_whitespace().next().unwrap_or("").to_string())
                        .filter(|s| !s.is_empty() && s != "self"),
                );
                out.push(p);
            }
            i = end;
        } else {
            out.push(segs);
        }
    }
    out
}

fn code_at(bytes: &[char], i: usize, s: &str) -> bool {
    s.chars()
        .enumerate()
        .all(|(k, c)| bytes.get(i + k) == Some(&c))
}

/// The module a path in module `at` refers to: the longest prefix that is a module.
fn resolve(at: &ModPath, path: &[String], known: &BTreeMap<ModPath, PathBuf>) -> ModPath {
    let mut base: ModPath = Vec::new();
    let mut rest = path;
    match path.first().map(String::as_str) {
        Some("crate") => rest = &path[1..],
        Some("self") => {
            base = at.clone();
            rest = &path[1..];
        }
        Some("super") => {
            base = at.clone();
            while rest.first().map(String::as_str) == Some("super") {
                base.pop();
                rest = &rest[1..];
            }
        }
        _ => {}
    }
    for seg in rest {
        let mut next = base.clone();
        next.push(seg.clone());
        if !known.contains_key(&next) {
            break;
        }
        base = next;
    }
    base
}

/// Each module's references to other modules, without a parent's to its own children (a
/// `mod.rs` declares and re-exports them).
fn graph() -> BTreeMap<ModPath, BTreeSet<ModPath>> {
    let known = modules();
    let mut out = BTreeMap::new();
    for (m, path) in &known {
        let refs: BTreeSet<ModPath> = paths(&code(path))
            .iter()
            .map(|p| resolve(m, p, &known))
            .filter(|r| r != m && !r.starts_with(m))
            .filter(|r| !(is_registry(r) && in_a_kind(m)))
            .collect();
        out.insert(m.clone(), refs);
    }
    out
}

/// The registry and the kinds' folders are one unit: the registry's generated types
/// (`KeyResult`, `Link`, `Plan`) name every kind, and every kind uses them and finds its own
/// link through `registry::link_of`. That loop is the registration itself and the only one
/// allowed: a kind's reference to the registry is left out of the graph.
fn is_registry(m: &ModPath) -> bool {
    m.len() == 2 && m[0] == "sources" && m[1] == "registry"
}

/// True for a module inside a kind's folder (`sources::athena`, `sources::looker::fetch`).
fn in_a_kind(m: &ModPath) -> bool {
    m.len() >= 2
        && m[0] == "sources"
        && okrflow::sources::registry::KIND_NAMES.contains(&m[1].as_str())
}

fn name(m: &ModPath) -> String {
    if m.is_empty() {
        "crate".into()
    } else {
        m.join("::")
    }
}

#[test]
fn no_module_imports_one_that_imports_it_back() {
    let g = graph();
    // Every cycle through each module, found by a depth-first walk.
    let mut cycles = BTreeSet::new();
    for start in g.keys() {
        let mut stack = vec![(start.clone(), vec![start.clone()])];
        while let Some((at, trail)) = stack.pop() {
            for next in g.get(&at).into_iter().flatten() {
                if next == start {
                    let mut c: Vec<String> = trail.iter().map(name).collect();
                    let min = (0..c.len()).min_by_key(|&i| c[i].clone()).unwrap();
                    c.rotate_left(min);
                    cycles.insert(c.join(" -> "));
                } else if !trail.contains(next) && trail.len() < 6 {
                    let mut t = trail.clone();
                    t.push(next.clone());
                    stack.push((next.clone(), t));
                }
            }
        }
    }
    assert!(
        cycles.is_empty(),
        "import circles:\n{}",
        cycles.into_iter().collect::<Vec<_>>().join("\n")
    );
}

/// The layers, lowest first: a module may import its own layer's and lower layers' modules.
const LAYERS: &[&[&str]] = &[
    &["model", "secret", "error", "stop"],
    &["net", "storage", "parquet_io", "athena_client"],
    &["engine"],
    &["sources", "job"],
    &["sink"],
    &["pipeline", "summary", "demo_data", "fuzzing"],
    &["backfill", "inspect", "report", "notify"],
    &["cli"],
];

fn layer(top: &str) -> usize {
    LAYERS
        .iter()
        .position(|l| l.contains(&top))
        .unwrap_or_else(|| {
            panic!("src/{top}: add it to a layer of tests/layout.rs (and lib.rs's doc)")
        })
}

#[test]
fn layers_import_downward_only() {
    let mut wrong = Vec::new();
    for (m, refs) in graph() {
        let Some(top) = m.first() else { continue };
        for r in refs.iter().filter_map(|r| r.first()) {
            if layer(r) > layer(top) {
                wrong.push(format!("{} imports {r}, a higher layer", name(&m)));
            }
        }
    }
    wrong.sort();
    wrong.dedup();
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn only_the_sources_name_a_source_kind() {
    let mut named = Vec::new();
    for (m, path) in modules() {
        // The registry names every kind, and a kind's folder itself; the fuzz surface reaches
        // the parsers, and the demo's sample exports take Tallyfy's column lists from the kind.
        if m == ["sources", "registry"] || m == ["fuzzing"] || m == ["demo_data"] {
            continue;
        }
        let code = code(&path);
        let own = (m.first().map(String::as_str) == Some("sources"))
            .then(|| m.get(1))
            .flatten();
        for kind in okrflow::sources::registry::KIND_NAMES {
            if own.is_some_and(|o| o == kind) {
                continue;
            }
            // A kind that computes in another's connections builds on that kind's runner
            // rather than a second copy: Tallyfy's `engine = { athena = … }` runs its queries
            // as Athena key results run (settings, archive, slots, stop). The one such pair.
            if own.is_some_and(|o| o == "tallyfy") && *kind == "athena" {
                continue;
            }
            let inside = own.is_some() && code.contains(&format!("super::super::{kind}"));
            // The registry's `Link::Tallyfy(…)` and the like: a kind uses `link_of`/`wrap`.
            let variant = format!("Link::{}{}", kind[..1].to_uppercase(), &kind[1..]);
            if code.contains(&variant) {
                named.push(format!("{} matches or builds {variant}", path.display()));
            }
            if code.contains(&format!("sources::{kind}")) || inside {
                named.push(format!("{} names sources::{kind}", path.display()));
            }
        }
    }
    assert!(named.is_empty(), "{}", named.join("\n"));
}

#[test]
fn no_file_in_src_passes_650_lines() {
    let long: Vec<String> = modules()
        .values()
        .filter_map(|p| {
            let n = std::fs::read_to_string(p).unwrap().lines().count();
            (n > 650).then(|| format!("{}: {n} lines", p.display()))
        })
        .collect();
    assert!(long.is_empty(), "split these by role:\n{}", long.join("\n"));
}

#[test]
fn the_checks_see_what_they_check() {
    // The walk finds the files and their references, so the tests above cannot pass on nothing.
    let g = graph();
    assert!(g.len() > 40, "{} modules", g.len());
    let pipeline = &g[&vec!["pipeline".to_string()]];
    assert!(
        pipeline.contains(&vec!["engine".to_string()]),
        "{pipeline:?}"
    );
    let sources = vec!["sources".to_string()];
    let a = paths("use crate::sources::{self, Extracted, registry::{a, b}};");
    assert!(
        a.iter().any(|p| p == &["crate", "sources", "registry"]),
        "{a:?}"
    );
    assert!(
        a.iter().any(|p| p == &["crate", "sources", "Extracted"]),
        "{a:?}"
    );
    assert_eq!(
        resolve(&sources, &["super".into(), "engine".into()], &modules()),
        vec!["engine".to_string()]
    );
}
