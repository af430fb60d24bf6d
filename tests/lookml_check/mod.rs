//! The offline checks of a LookML folder that `tests/lookml.rs` runs: a small LookML brace
//! parser (views, model), the dashboards read with a YAML parser, and [`problems`]: every
//! reference resolved the way Looker's validator would.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::path::{Path, PathBuf};

/// A parsed LookML value.
#[derive(Debug, Clone)]
pub enum Value {
    /// A word, a quoted string's content, or SQL up to `;;`.
    Scalar(String),
    /// `[a, b: "c"]`: the items as written, trimmed.
    List(Vec<String>),
    /// `name { … }` (name empty for `{ … }`).
    Block(String, Vec<(String, Value)>),
}

/// Parses LookML: `key: value` pairs, blocks, lists, strings, `sql…: … ;;`, `#` comments.
pub fn parse_lkml(text: &str) -> Result<Vec<(String, Value)>, String> {
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
pub struct View {
    pub extends: Vec<String>,
    pub fields: Vec<String>,
    /// `${field}` and filter keys its fields use, to resolve in the view.
    pub uses: Vec<String>,
}

/// `${a}` and `${a.b}` references in SQL (not `${TABLE}`).
fn refs(sql: &str) -> Vec<String> {
    sql.split("${")
        .skip(1)
        .filter_map(|s| s.split_once('}').map(|(r, _)| r.to_string()))
        .filter(|r| r != "TABLE")
        .collect()
}

pub fn view_of(pairs: &[(String, Value)]) -> View {
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
pub fn glob(pattern: &str, path: &str) -> bool {
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
pub fn problems(dir: &Path, foreign: &[&str]) -> Vec<String> {
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
        if let ("persist_with", Value::Scalar(dg)) = (k.as_str(), v)
            && !datagroups.contains(&dg.as_str())
        {
            errs.push(format!("persist_with {dg}: no such datagroup"));
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
