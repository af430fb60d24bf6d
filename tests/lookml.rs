//! Issue 36: `okrflow lookml` writes a folder a Looker project takes as it is. The written
//! files are parsed here (a small LookML brace parser, the dashboards with a YAML parser),
//! not taken from the generator, and every reference is resolved the way Looker's validator
//! would: each dashboard tile's fields, sorts, pivots, filters and `listen` against its
//! explore's fields (base view and joins, `extends` resolved, dimension groups by their
//! listed timeframes), filters' fields, model and explore names, includes, the grid.
//! The checker is itself checked: it passes the contract's hand-written example
//! (`tests/fixtures/lookml/acme_gen`) and catches broken copies of the generated files.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::process::Command;

/// A parsed LookML value.
#[derive(Debug, Clone)]
enum Value {
    /// A word, a quoted string's content, or SQL up to `;;`.
    Scalar(String),
    /// `[a, b: "c"]`: the items as written, trimmed.
    List(Vec<String>),
    /// `name { … }` (name empty for `{ … }`).
    Block(String, Vec<(String, Value)>),
}

/// Parses LookML: `key: value` pairs, blocks, lists, strings, `sql…: … ;;`, `#` comments.
fn parse_lkml(text: &str) -> Result<Vec<(String, Value)>, String> {
    let text: String = text
        .lines()
        .map(|l| {
            if l.trim_start().starts_with('#') {
                ""
            } else {
                l
            }
        })
        .collect::<Vec<_>>()
        .join("\n");
    let chars: Vec<char> = text.chars().collect();
    let mut pos = 0;
    let pairs = parse_pairs(&chars, &mut pos, false)?;
    Ok(pairs)
}

fn skip_ws(c: &[char], pos: &mut usize) {
    while *pos < c.len() && c[*pos].is_whitespace() {
        *pos += 1;
    }
}

fn word(c: &[char], pos: &mut usize) -> String {
    let start = *pos;
    while *pos < c.len() && (c[*pos].is_alphanumeric() || matches!(c[*pos], '_' | '.' | '+')) {
        *pos += 1;
    }
    c[start..*pos].iter().collect()
}

fn parse_pairs(
    c: &[char],
    pos: &mut usize,
    in_block: bool,
) -> Result<Vec<(String, Value)>, String> {
    let mut out = Vec::new();
    loop {
        skip_ws(c, pos);
        if *pos >= c.len() {
            return if in_block {
                Err("unclosed block".into())
            } else {
                Ok(out)
            };
        }
        if c[*pos] == '}' {
            if !in_block {
                return Err(format!("unexpected }} at {pos}"));
            }
            *pos += 1;
            return Ok(out);
        }
        let key = word(c, pos);
        if key.is_empty() {
            return Err(format!("expected a key at {}: {:?}", pos, c[*pos]));
        }
        skip_ws(c, pos);
        if c.get(*pos) != Some(&':') {
            return Err(format!("expected : after {key}"));
        }
        *pos += 1;
        skip_ws(c, pos);
        let value = if key.starts_with("sql") || key == "html" || key == "expression" {
            let rest: String = c[*pos..].iter().collect();
            let end = rest.find(";;").ok_or(format!("{key}: no ;;"))?;
            *pos += rest[..end].chars().count() + 2;
            Value::Scalar(rest[..end].trim().to_string())
        } else if c[*pos] == '[' {
            *pos += 1;
            let start = *pos;
            let mut quoted = false;
            while *pos < c.len() && (quoted || c[*pos] != ']') {
                if c[*pos] == '"' {
                    quoted = !quoted;
                }
                *pos += 1;
            }
            let inner: String = c[start..*pos].iter().collect();
            *pos += 1;
            Value::List(
                inner
                    .split(',')
                    .map(|s| s.trim().to_string())
                    .filter(|s| !s.is_empty())
                    .collect(),
            )
        } else if c[*pos] == '"' {
            *pos += 1;
            let start = *pos;
            while *pos < c.len() && c[*pos] != '"' {
                *pos += 1;
            }
            let s: String = c[start..*pos].iter().collect();
            *pos += 1;
            Value::Scalar(s)
        } else if c[*pos] == '{' {
            *pos += 1;
            Value::Block(String::new(), parse_pairs(c, pos, true)?)
        } else {
            let name = word(c, pos);
            let save = *pos;
            skip_ws(c, pos);
            if c.get(*pos) == Some(&'{') {
                *pos += 1;
                Value::Block(name, parse_pairs(c, pos, true)?)
            } else {
                *pos = save;
                Value::Scalar(name)
            }
        };
        out.push((key, value));
    }
}

/// A view: what it extends and its fields, in the order defined (duplicates kept).
#[derive(Debug, Default)]
struct View {
    extends: Vec<String>,
    fields: Vec<String>,
    /// `${field}` and filter keys its fields use, to resolve in the view.
    uses: Vec<String>,
}

/// `${a}` and `${a.b}` references in SQL (not `${TABLE}`).
fn refs(sql: &str) -> Vec<String> {
    sql.split("${")
        .skip(1)
        .filter_map(|s| s.split_once('}').map(|(r, _)| r.to_string()))
        .filter(|r| r != "TABLE")
        .collect()
}

fn view_of(pairs: &[(String, Value)]) -> View {
    let mut v = View::default();
    for (key, value) in pairs {
        match (key.as_str(), value) {
            ("extends", Value::List(items)) => v.extends = items.clone(),
            ("dimension" | "measure", Value::Block(name, body)) => {
                v.fields.push(name.clone());
                for (k, val) in body {
                    match (k.as_str(), val) {
                        (k, Value::Scalar(sql)) if k.starts_with("sql") => v.uses.extend(refs(sql)),
                        ("filters", Value::List(items)) => v.uses.extend(
                            items
                                .iter()
                                .filter_map(|i| i.split_once(':'))
                                .map(|(k, _)| k.trim().to_string()),
                        ),
                        _ => {}
                    }
                }
            }
            ("dimension_group", Value::Block(name, body)) => {
                for (k, val) in body {
                    match (k.as_str(), val) {
                        ("timeframes", Value::List(tfs)) => {
                            v.fields.extend(tfs.iter().map(|tf| format!("{name}_{tf}")))
                        }
                        (k, Value::Scalar(sql)) if k.starts_with("sql") => v.uses.extend(refs(sql)),
                        _ => {}
                    }
                }
            }
            _ => {}
        }
    }
    v
}

/// `*` any characters but `/`, `**` any characters.
fn glob(pattern: &str, path: &str) -> bool {
    if let Some(rest) = pattern.strip_prefix("**") {
        return (0..=path.len()).any(|i| path.is_char_boundary(i) && glob(rest, &path[i..]));
    }
    if let Some(rest) = pattern.strip_prefix('*') {
        return (0..=path.len())
            .take_while(|&i| i == 0 || !path[..i].contains('/'))
            .any(|i| path.is_char_boundary(i) && glob(rest, &path[i..]));
    }
    match (pattern.chars().next(), path.chars().next()) {
        (None, None) => true,
        (Some(p), Some(c)) if p == c => glob(&pattern[p.len_utf8()..], &path[c.len_utf8()..]),
        _ => false,
    }
}

fn scalar<'a>(pairs: &'a [(String, Value)], key: &str) -> Option<&'a str> {
    pairs.iter().find_map(|(k, v)| match v {
        Value::Scalar(s) if k == key => Some(s.as_str()),
        _ => None,
    })
}

/// Every problem Looker's validator would report that these checks see, in the folder `dir`
/// copied to the project's root (its files under `/<dir's name>/`), beside `foreign` files
/// of the project.
fn problems(dir: &Path, foreign: &[&str]) -> Vec<String> {
    let mut errs = Vec::new();
    let folder = dir.file_name().unwrap().to_str().unwrap().to_string();
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    let name_of = |p: &Path| p.file_name().unwrap().to_str().unwrap().to_string();
    let ends = |sfx: &str| -> Vec<PathBuf> {
        files
            .iter()
            .filter(|p| name_of(p).ends_with(sfx))
            .cloned()
            .collect()
    };
    let (view_files, model_files, dash_files) = (
        ends(".view.lkml"),
        ends(".model.lkml"),
        ends(".dashboard.lookml"),
    );
    if model_files.len() != 1 {
        return vec![format!("{} model files", model_files.len())];
    }

    // Views.
    let mut views: HashMap<String, View> = HashMap::new();
    for f in &view_files {
        let pairs = match parse_lkml(&std::fs::read_to_string(f).unwrap()) {
            Ok(p) => p,
            Err(e) => {
                errs.push(format!("{}: {e}", name_of(f)));
                continue;
            }
        };
        for (k, v) in &pairs {
            if let ("view", Value::Block(name, body)) = (k.as_str(), v) {
                let view = view_of(body);
                let mut seen = HashSet::new();
                for field in &view.fields {
                    if !seen.insert(field) {
                        errs.push(format!("Redefinition of field '{name}.{field}'"));
                    }
                }
                if views.insert(name.clone(), view).is_some() {
                    errs.push(format!("view {name} defined twice"));
                }
            }
        }
    }
    fn fields_of(
        views: &HashMap<String, View>,
        name: &str,
        depth: u32,
        errs: &mut Vec<String>,
    ) -> BTreeSet<String> {
        let Some(v) = views.get(name) else {
            errs.push(format!("unknown view {name}"));
            return BTreeSet::new();
        };
        let mut out: BTreeSet<String> = v.fields.iter().cloned().collect();
        for base in &v.extends {
            if depth > 5 {
                errs.push(format!("extends loop at {name}"));
            } else {
                out.extend(fields_of(views, base, depth + 1, errs));
            }
        }
        out
    }
    let mut view_fields: HashMap<String, BTreeSet<String>> = HashMap::new();
    for name in views.keys() {
        view_fields.insert(name.clone(), fields_of(&views, name, 0, &mut errs));
    }
    for (name, v) in &views {
        for used in &v.uses {
            let field = used.rsplit('.').next().unwrap();
            let scope = if used.contains('.') {
                used.split('.').next().unwrap()
            } else {
                name.as_str()
            };
            if !view_fields.get(scope).is_some_and(|f| f.contains(field)) {
                errs.push(format!("{name}: unknown field {used}"));
            }
        }
    }

    // Model.
    let model_file = &model_files[0];
    let model_name = name_of(model_file)
        .trim_end_matches(".model.lkml")
        .to_string();
    let model_text = std::fs::read_to_string(model_file).unwrap();
    if model_text.contains("/**/") {
        errs.push("the model includes /**/".into());
    }
    let model = match parse_lkml(&model_text) {
        Ok(m) => m,
        Err(e) => return vec![format!("model: {e}")],
    };
    if scalar(&model, "connection").is_none() {
        errs.push("no connection".into());
    }
    let includes: Vec<&str> = model
        .iter()
        .filter_map(|(k, v)| match v {
            Value::Scalar(s) if k == "include" => Some(s.as_str()),
            _ => None,
        })
        .collect();
    let ours: Vec<String> = files
        .iter()
        .map(|p| format!("/{folder}/{}", name_of(p)))
        .collect();
    for path in ours.iter().filter(|p| !p.ends_with(".model.lkml")) {
        if !includes.iter().any(|i| glob(i, path)) {
            errs.push(format!("{path} is not included"));
        }
    }
    for path in foreign {
        if let Some(i) = includes.iter().find(|i| glob(i, path)) {
            errs.push(format!("include {i} takes the project's {path}"));
        }
    }
    for i in &includes {
        if !i.starts_with(&format!("/{folder}/")) || i.contains("**") {
            errs.push(format!("include {i} is not anchored to /{folder}/"));
        }
    }
    let datagroups: Vec<&str> = model
        .iter()
        .filter_map(|(k, v)| match v {
            Value::Block(n, body) if k == "datagroup" => {
                if scalar(body, "sql_trigger").is_none() || scalar(body, "max_cache_age").is_none()
                {
                    errs.push(format!(
                        "datagroup {n} without sql_trigger or max_cache_age"
                    ));
                }
                Some(n.as_str())
            }
            _ => None,
        })
        .collect();
    if datagroups.iter().collect::<HashSet<_>>().len() != datagroups.len() {
        errs.push("duplicate datagroup".into());
    }
    for (k, v) in &model {
        if let (k, Value::Scalar(dg)) = (k.as_str(), v) {
            if k == "persist_with" && !datagroups.contains(&dg.as_str()) {
                errs.push(format!("persist_with {dg}: no such datagroup"));
            }
        }
    }
    let mut explores: HashMap<String, BTreeSet<String>> = HashMap::new();
    for (k, v) in &model {
        let ("explore", Value::Block(name, body)) = (k.as_str(), v) else {
            continue;
        };
        let base = scalar(body, "from")
            .or(scalar(body, "view_name"))
            .unwrap_or(name);
        let mut scopes = vec![(name.clone(), base.to_string())];
        for (jk, jv) in body {
            if let ("join", Value::Block(join, jbody)) = (jk.as_str(), jv) {
                scopes.push((
                    join.clone(),
                    scalar(jbody, "from").unwrap_or(join).to_string(),
                ));
                if scalar(jbody, "sql_on").is_none() && scalar(jbody, "foreign_key").is_none() {
                    errs.push(format!("join {join} without sql_on"));
                }
            }
        }
        let mut fields = BTreeSet::new();
        for (alias, view) in &scopes {
            match view_fields.get(view) {
                Some(fs) => fields.extend(fs.iter().map(|f| format!("{alias}.{f}"))),
                None => errs.push(format!("explore {name}: unknown view {view}")),
            }
        }
        let mut used: Vec<String> = Vec::new();
        for (bk, bv) in body {
            match (bk.as_str(), bv) {
                (k, Value::Scalar(sql)) if k.starts_with("sql") => used.extend(refs(sql)),
                ("join", Value::Block(_, jbody)) => used.extend(
                    jbody
                        .iter()
                        .filter_map(|(k, v)| match v {
                            Value::Scalar(s) if k == "sql_on" => Some(refs(s)),
                            _ => None,
                        })
                        .flatten(),
                ),
                ("always_filter", Value::Block(_, fbody)) => {
                    for (fk, fv) in fbody {
                        if let ("filters", Value::List(items)) = (fk.as_str(), fv) {
                            used.extend(
                                items
                                    .iter()
                                    .filter_map(|i| i.split_once(':'))
                                    .map(|(f, _)| f.trim().to_string()),
                            );
                        }
                    }
                }
                _ => {}
            }
        }
        for u in used {
            if !fields.contains(&u) {
                errs.push(format!("explore {name}: Unknown or inaccessible field {u}"));
            }
        }
        if explores.insert(name.clone(), fields).is_some() {
            errs.push(format!("explore {name} defined twice"));
        }
    }

    // Dashboards.
    let mut dashboard_names = HashSet::new();
    for f in &dash_files {
        let file = name_of(f);
        let parsed: serde_norway::Value =
            match serde_norway::from_str(&std::fs::read_to_string(f).unwrap()) {
                Ok(v) => v,
                Err(e) => {
                    errs.push(format!("{file}: not YAML: {e}"));
                    continue;
                }
            };
        let Some([d]) = parsed.as_sequence().map(|s| s.as_slice()) else {
            errs.push(format!("{file}: not a list of one dashboard"));
            continue;
        };
        let s = |v: &serde_norway::Value, k: &str| v[k].as_str().unwrap_or("").to_string();
        let name = s(d, "dashboard");
        if name.is_empty() || !dashboard_names.insert(name.clone()) {
            errs.push(format!(
                "{file}: dashboard name {name:?} missing or repeated"
            ));
        }
        if s(d, "layout") != "newspaper" {
            errs.push(format!("{name}: layout is not newspaper"));
        }
        let explore_of = |what: &str, v: &serde_norway::Value, errs: &mut Vec<String>| {
            if s(v, "model") != model_name {
                errs.push(format!(
                    "{name} {what}: model {} is not {model_name}",
                    s(v, "model")
                ));
            }
            let e = explores.get(&s(v, "explore"));
            if e.is_none() {
                errs.push(format!("{name} {what}: no explore {}", s(v, "explore")));
            }
            e.cloned().unwrap_or_default()
        };
        let empty = Vec::new();
        let seq = |v: &serde_norway::Value| v.as_sequence().cloned().unwrap_or_default();
        let mut filter_names = HashSet::new();
        let filters = d["filters"].as_sequence().unwrap_or(&empty).clone();
        for flt in &filters {
            let fname = s(flt, "name");
            if !filter_names.insert(fname.clone()) {
                errs.push(format!("{name}: filter {fname} repeated"));
            }
        }
        for flt in &filters {
            let fname = s(flt, "name");
            if s(flt, "type") == "field_filter" {
                let fields = explore_of(&format!("filter {fname}"), flt, &mut errs);
                if !fields.contains(&s(flt, "field")) {
                    errs.push(format!(
                        "{name} filter {fname}: Unknown or inaccessible field {}",
                        s(flt, "field")
                    ));
                }
            }
            for l in seq(&flt["listens_to_filters"]) {
                if !filter_names.contains(l.as_str().unwrap_or("")) {
                    errs.push(format!("{name} filter {fname}: listens to no filter {l:?}"));
                }
            }
        }
        let mut element_names = HashSet::new();
        let mut cells = HashSet::new();
        for el in d["elements"].as_sequence().unwrap_or(&empty) {
            let ename = s(el, "name");
            if ename.is_empty() || !element_names.insert(ename.clone()) {
                errs.push(format!(
                    "{name}: element name {ename:?} missing or repeated"
                ));
            }
            let n = |k: &str| el[k].as_u64().unwrap_or(0);
            let (row, col, width, height) = (n("row"), n("col"), n("width"), n("height"));
            if col + width > 24 || width == 0 || height == 0 {
                errs.push(format!(
                    "{name} {ename}: col {col} + width {width} > 24 (or empty)"
                ));
            }
            for r in row..row + height {
                for c in col..col + width {
                    if !cells.insert((r, c)) {
                        errs.push(format!("{name} {ename}: overlaps at row {r} col {c}"));
                    }
                }
            }
            if s(el, "type") == "text" {
                continue;
            }
            let fields = explore_of(&ename, el, &mut errs);
            let check = |what: &str, f: &str, errs: &mut Vec<String>| {
                if !fields.contains(f) {
                    errs.push(format!(
                        "{name} {ename} {what}: Unknown or inaccessible field {f}"
                    ));
                }
            };
            let listed: Vec<String> = seq(&el["fields"])
                .iter()
                .map(|f| f.as_str().unwrap_or("").to_string())
                .collect();
            if listed.is_empty() {
                errs.push(format!("{name} {ename}: no fields"));
            }
            for f in &listed {
                check("fields", f, &mut errs);
            }
            for p in seq(&el["pivots"]) {
                let p = p.as_str().unwrap_or("");
                check("pivots", p, &mut errs);
                if !listed.iter().any(|f| f == p) {
                    errs.push(format!("{name} {ename}: pivot {p} not in fields"));
                }
            }
            for so in seq(&el["sorts"]) {
                let so = so.as_str().unwrap_or("");
                let f = so
                    .strip_suffix(" desc")
                    .or(so.strip_suffix(" asc"))
                    .unwrap_or(so);
                check("sorts", f, &mut errs);
            }
            if let Some(m) = el["filters"].as_mapping() {
                for k in m.keys() {
                    check("filters", k.as_str().unwrap_or(""), &mut errs);
                }
            }
            if let Some(m) = el["listen"].as_mapping() {
                for (k, v) in m {
                    let k = k.as_str().unwrap_or("");
                    if !filter_names.contains(k) {
                        errs.push(format!("{name} {ename}: listens to no filter {k}"));
                    }
                    check("listen", v.as_str().unwrap_or(""), &mut errs);
                }
            }
        }
    }
    errs
}

/// Files a Looker project already has, that the model must not include.
const FOREIGN: [&str; 5] = [
    "/views/orders.view.lkml",
    "/dashboards/sales.dashboard.lookml",
    "/okr_looker_old/okr_kr_snapshots.view.lkml",
    "/okr_looker/notes/okr_extra.view.lkml",
    "/okr_looker/orders.view.lkml",
];

/// Runs `okrflow lookml jobs/demo.toml --out <tmp>/<folder>` with `args`.
fn generate(folder: &str, args: &[&str]) -> (tempfile::TempDir, PathBuf, std::process::Output) {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join(folder);
    let output = Command::new(env!("CARGO_BIN_EXE_okrflow"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(["lookml", "jobs/demo.toml", "--out", out.to_str().unwrap()])
        .args(args)
        .output()
        .unwrap();
    (tmp, out, output)
}

fn file_names(dir: &Path) -> BTreeSet<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect()
}

#[test]
fn the_contracts_hand_written_example_passes_the_checks() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/lookml/acme_gen");
    assert_eq!(
        problems(&dir, &["/views/orders.view.lkml"]),
        Vec::<String>::new()
    );
}

#[test]
fn every_reference_of_the_generated_project_resolves() {
    let (_tmp, out, output) = generate("okr_looker", &[]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let names = file_names(&out);
    let expect = |n: &str| assert!(names.contains(n), "{n} not in {names:?}");
    expect("okr_okrflow.model.lkml");
    for view in [
        "kr_snapshots",
        "objective_snapshots",
        "quarter_scores",
        "runs",
        "kr_latest",
        "objective_latest",
        "quarter_scores_latest",
    ] {
        expect(&format!("okr_{view}.view.lkml"));
    }
    for d in [
        "company_overview",
        "key_result_detail",
        "owners",
        "checkins_health",
    ] {
        expect(&format!("okr_{d}.dashboard.lookml"));
    }
    assert!(names.iter().all(|n| n.starts_with("okr_")), "{names:?}");
    assert_eq!(problems(&out, &FOREIGN), Vec::<String>::new());

    let model = std::fs::read_to_string(out.join("okr_okrflow.model.lkml")).unwrap();
    assert!(!model.contains("/**/"), "{model}");
    assert!(
        model.contains("include: \"/okr_looker/okr_*.view.lkml\""),
        "{model}"
    );
    assert!(
        model.contains("SELECT max(finished_at) FROM okr.runs"),
        "{model}"
    );
    let view = std::fs::read_to_string(out.join("okr_kr_snapshots.view.lkml")).unwrap();
    assert!(
        view.starts_with("view: okr_kr_snapshots {\n  sql_table_name: okr.kr_snapshots ;;"),
        "{view}"
    );
    // A count per status and per health, of stale and failed rows.
    let kr = view_of(match &parse_lkml(&view).unwrap()[0].1 {
        Value::Block(_, body) => body,
        v => panic!("{v:?}"),
    });
    for m in [
        "on_track",
        "behind",
        "at_risk",
        "done",
        "missed",
        "no_data",
        "stale",
        "failed",
        "health_on_track",
        "health_needs_attention",
        "health_at_risk",
        "health_overdue",
    ] {
        assert!(kr.fields.contains(&format!("{m}_count")), "{m}_count");
    }
}

#[test]
fn the_prefix_and_folder_name_everything() {
    let (_tmp, out, output) = generate(
        "acme_gen",
        &["--prefix", "acme_", "--database", "warehouse"],
    );
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let names = file_names(&out);
    assert!(names.contains("acme_okrflow.model.lkml"), "{names:?}");
    assert!(names.iter().all(|n| n.starts_with("acme_")), "{names:?}");
    assert_eq!(
        problems(
            &out,
            &[
                "/okr_looker/okr_kr_snapshots.view.lkml",
                "/acme_gen/orders.view.lkml"
            ]
        ),
        Vec::<String>::new()
    );
    let latest = std::fs::read_to_string(out.join("acme_kr_latest.view.lkml")).unwrap();
    assert!(
        latest.contains("extends: [acme_kr_snapshots]") && latest.contains("warehouse.kr_latest"),
        "{latest}"
    );

    let (_tmp, _, output) = generate("x", &["--prefix", "Acme-"]);
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("--prefix \"Acme-\""), "{stderr}");
}

/// Copies `from` to a new folder of the same name, replacing `old` by `new` in `file`.
fn broken_copy(from: &Path, file: &str, old: &str, new: &str) -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join(from.file_name().unwrap());
    std::fs::create_dir(&dir).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let p = e.unwrap().path();
        std::fs::copy(&p, dir.join(p.file_name().unwrap())).unwrap();
    }
    let path = dir.join(file);
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.contains(old), "{file} has no {old:?}");
    std::fs::write(&path, text.replacen(old, new, 1)).unwrap();
    (tmp, dir)
}

#[test]
fn the_checks_catch_broken_copies() {
    let (_tmp, out, output) = generate("okr_looker", &[]);
    assert!(output.status.success());
    let dash = "okr_key_result_detail.dashboard.lookml";
    for (file, old, new, expect) in [
        (
            dash,
            "okr_kr_snapshots.average_progress",
            "okr_kr_snapshots.average_progres",
            "Unknown or inaccessible field okr_kr_snapshots.average_progres",
        ),
        (
            dash,
            "- okr_kr_snapshots.as_of_date",
            "- okr_kr_snapshots.as_of_day",
            "Unknown or inaccessible field okr_kr_snapshots.as_of_day",
        ),
        (
            dash,
            "okr_kr_snapshots.as_of_date desc",
            "okr_kr_snapshots.as_of desc",
            "sorts: Unknown or inaccessible field okr_kr_snapshots.as_of",
        ),
        (
            dash,
            "    key_result: okr_kr_snapshots.kr_id",
            "    kr: okr_kr_snapshots.kr_id",
            "listens to no filter kr",
        ),
        (dash, "    width: 24", "    width: 25", "> 24"),
        (
            dash,
            "model: okr_okrflow",
            "model: okrflow",
            "model okrflow is not okr_okrflow",
        ),
        (
            dash,
            "explore: okr_kr_snapshots",
            "explore: kr_snapshots",
            "no explore kr_snapshots",
        ),
        (
            dash,
            "field: okr_kr_snapshots.kr_id",
            "field: okr_kr_latest.kr_id",
            "Unknown or inaccessible field okr_kr_latest.kr_id",
        ),
        (
            dash,
            "  - name: values_by_date",
            "  - name: progress_vs_expected",
            "element name \"progress_vs_expected\" missing or repeated",
        ),
        (dash, "    row: 0\n", "    row: 2\n", "overlaps"),
        (dash, "  elements:", "  elements: [", "not YAML"),
        (
            "okr_kr_snapshots.view.lkml",
            "measure: done_count",
            "measure: behind_count",
            "Redefinition of field 'okr_kr_snapshots.behind_count'",
        ),
        (
            "okr_kr_latest.view.lkml",
            "extends: [okr_kr_snapshots]",
            "extends: [kr_snapshots]",
            "unknown view kr_snapshots",
        ),
        (
            "okr_okrflow.model.lkml",
            "include: \"/okr_looker/okr_*.view.lkml\"",
            "include: \"/**/*.view.lkml\"",
            "the model includes /**/",
        ),
        (
            "okr_okrflow.model.lkml",
            "include: \"/okr_looker/okr_*.view.lkml\"",
            "include: \"/**/*.view.lkml\"",
            "takes the project's /views/orders.view.lkml",
        ),
        (
            "okr_okrflow.model.lkml",
            "persist_with: okr_okrflow_run",
            "persist_with: okr_run",
            "persist_with okr_run: no such datagroup",
        ),
        (
            "okr_okrflow.model.lkml",
            "${okr_kr_snapshots.as_of_raw}",
            "${okr_kr_snapshots.as_of}",
            "Unknown or inaccessible field okr_kr_snapshots.as_of",
        ),
        (
            "okr_okrflow.model.lkml",
            "join: okr_objective_latest",
            "join: okr_objective_lates",
            "unknown view okr_objective_lates",
        ),
    ] {
        let (_t, dir) = broken_copy(&out, file, old, new);
        let found = problems(&dir, &FOREIGN);
        assert!(
            found.iter().any(|p| p.contains(expect)),
            "{file}: {old:?} -> {new:?}: expected {expect:?} in {found:#?}"
        );
    }
}

#[test]
fn the_parser_reads_one_line_blocks_and_lists() {
    let pairs = parse_lkml("view: v { dimension: a { sql: ${TABLE}.a ;; } dimension_group: d { type: time timeframes: [raw, date] sql: x ;; } measure: m { type: count filters: [a: \"x, y\"] } }").unwrap();
    let v = match &pairs[0].1 {
        Value::Block(name, body) => {
            assert_eq!(name, "v");
            view_of(body)
        }
        other => panic!("{other:?}"),
    };
    assert_eq!(v.fields, ["a", "d_raw", "d_date", "m"]);
    assert_eq!(v.uses, ["a"]);
    assert!(glob("/f/okr_*.view.lkml", "/f/okr_x.view.lkml"));
    assert!(!glob("/f/okr_*.view.lkml", "/f/sub/okr_x.view.lkml"));
    assert!(glob("/**/*.view.lkml", "/f/sub/x.view.lkml"));
}
