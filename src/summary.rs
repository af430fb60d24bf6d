//! The readable table a run prints: the OKR tree — objectives, each followed by its key
//! results and what is aligned to them — with value, progress, expected progress and status.

use crate::job::Plan;
use comfy_table::{Cell, Table, presets::UTF8_FULL_CONDENSED};
use datafusion::arrow::array::{Array, AsArray};
use datafusion::arrow::datatypes::{Float64Type, Int64Type};
use datafusion::arrow::record_batch::RecordBatch;
use std::collections::{HashMap, HashSet};

/// One printed row, read back from an output table.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Row {
    pub value: Option<f64>,
    pub progress: Option<f64>,
    pub expected: Option<f64>,
    pub score: Option<f64>,
    pub status: Option<String>,
    pub stale: bool,
    pub error: Option<String>,
    /// Why there is nothing to measure yet, for a `no_data` key result.
    pub note: Option<String>,
    /// The owner's newest health, and whether it is overdue.
    pub health: Option<String>,
    pub health_overdue: bool,
}

impl Row {
    /// The health as the summary shows it: `at_risk`, `on_track (overdue)`, or empty.
    fn health_cell(&self) -> String {
        match (&self.health, self.health_overdue) {
            (Some(h), true) => format!("{h} (overdue)"),
            (Some(h), false) => h.clone(),
            (None, _) => String::new(),
        }
    }
}

fn text(batch: &RecordBatch, col: &str, i: usize) -> Option<String> {
    let c = batch.column_by_name(col)?;
    let c = c.as_string_opt::<i32>()?;
    c.is_valid(i).then(|| c.value(i).to_string())
}

fn number(batch: &RecordBatch, col: &str, i: usize) -> Option<f64> {
    let c = batch.column_by_name(col)?;
    let c = c.as_primitive_opt::<Float64Type>()?;
    c.is_valid(i).then(|| c.value(i))
}

/// Rows of an output table keyed by `key` (`kr_id` or `objective_id`).
pub fn rows(batches: &[RecordBatch], key: &str) -> HashMap<String, Row> {
    let mut out = HashMap::new();
    for b in batches {
        for i in 0..b.num_rows() {
            let Some(id) = text(b, key, i) else { continue };
            let flag = |name: &str| {
                b.column_by_name(name)
                    .and_then(|c| c.as_boolean_opt().map(|c| c.is_valid(i) && c.value(i)))
                    .unwrap_or(false)
            };
            let stale = flag("stale");
            out.insert(
                id,
                Row {
                    value: number(b, "value", i),
                    progress: number(b, "progress", i),
                    expected: number(b, "expected_progress", i),
                    score: number(b, "score", i),
                    status: text(b, "status", i),
                    stale,
                    error: text(b, "error", i),
                    note: text(b, "note", i),
                    health: text(b, "health", i),
                    health_overdue: flag("health_overdue"),
                },
            );
        }
    }
    out
}

/// The longest note the summary shows; the row and the log keep the whole text.
const NOTE_CHARS: usize = 100;

/// The first line of `text`, cut to [`NOTE_CHARS`] with `…`.
fn short(text: &str) -> String {
    let first = text.lines().next().unwrap_or("").trim_end();
    let cut = first.chars().count() > NOTE_CHARS || text.trim_end().contains('\n');
    if !cut {
        return first.to_string();
    }
    let kept: String = first.chars().take(NOTE_CHARS - 1).collect();
    format!("{}…", kept.trim_end())
}

fn pct(v: Option<f64>) -> String {
    v.map_or_else(|| "–".into(), |v| format!("{:.0}%", v * 100.0))
}

fn num(v: Option<f64>) -> String {
    match v {
        None => "–".into(),
        Some(v) if v.fract() == 0.0 && v.abs() < 1e12 => format!("{v:.0}"),
        Some(v) => format!("{v:.2}"),
    }
}

/// Renders the summary table for a run's `kr_snapshots` and `objective_snapshots`, as the
/// tree: each objective with its key results, under each key result the key results it rolls
/// up (`↳`) and the objectives aligned to it. An objective with several parents is shown
/// under the first, and named (`→ see …`) under the others.
pub fn render(plan: &Plan, krs: &[RecordBatch], objectives: &[RecordBatch]) -> String {
    let tree = Tree {
        plan,
        krs: rows(krs, "kr_id"),
        objectives: rows(objectives, "objective_id"),
    };
    let mut table = Table::new();
    table.load_preset(UTF8_FULL_CONDENSED);
    table.set_header([
        "id", "title", "owner", "value", "progress", "expected", "score", "status", "health",
        "note",
    ]);
    let is_kr = |id: &str| plan.key_result(id).is_some();
    let mut shown = HashSet::new();
    for o in &plan.objectives {
        if o.aligns_to.first().is_none_or(|(kr, _)| !is_kr(kr)) {
            tree.objective(&mut table, o, 0, &mut shown);
        }
    }
    for o in &plan.objectives {
        tree.objective(&mut table, o, 0, &mut shown);
    }
    table.to_string()
}

/// The plan and the rows it renders.
struct Tree<'a> {
    plan: &'a Plan,
    krs: HashMap<String, Row>,
    objectives: HashMap<String, Row>,
}

impl Tree<'_> {
    /// An objective, its key results and what hangs under them, at `depth`.
    fn objective(
        &self,
        table: &mut Table,
        o: &crate::model::Objective,
        depth: usize,
        shown: &mut HashSet<String>,
    ) {
        if !shown.insert(o.id.clone()) {
            return;
        }
        let pad = "  ".repeat(depth);
        let r = self.objectives.get(&o.id).cloned().unwrap_or_default();
        let parents: Vec<String> = o
            .aligns_to
            .iter()
            .map(|(kr, w)| format!("{kr} ×{w}"))
            .collect();
        table.add_row(row(
            format!("{pad}{}", o.id),
            format!("{} [{}]", o.title, o.period.label),
            o.owner.as_deref(),
            &r,
            false,
            if parents.is_empty() {
                String::new()
            } else {
                format!("→ {}", parents.join(", "))
            },
        ));
        for k in self
            .plan
            .key_results
            .iter()
            .filter(|k| k.objective_id == o.id)
        {
            self.key_result(table, k, &format!("{pad}  "), "");
            for child in self
                .plan
                .key_results
                .iter()
                .filter(|c| c.aligns_to.as_deref() == Some(k.id.as_str()))
            {
                self.key_result(table, child, &format!("{pad}    "), "↳ ");
            }
            for child in self
                .plan
                .objectives
                .iter()
                .filter(|c| c.aligns_to.iter().any(|(kr, _)| *kr == k.id))
            {
                if child.aligns_to[0].0 == k.id {
                    self.objective(table, child, depth + 2, shown);
                } else {
                    let first = &child.aligns_to[0].0;
                    table.add_row(row(
                        format!("{pad}    {}", child.id),
                        format!("{} [{}]", child.title, child.period.label),
                        child.owner.as_deref(),
                        &self.objectives.get(&child.id).cloned().unwrap_or_default(),
                        false,
                        format!("→ see under {first}"),
                    ));
                }
            }
        }
    }

    /// One key result's row, indented by `pad`, its id marked by `mark`.
    fn key_result(&self, table: &mut Table, k: &crate::job::KeyResult, pad: &str, mark: &str) {
        let r = self.krs.get(&k.id).cloned().unwrap_or_default();
        let note = match (&r.error, r.stale, &r.note) {
            (Some(e), true, _) => format!("stale: {}", short(e)),
            (Some(e), false, _) => format!("failed: {}", short(e)),
            (None, _, Some(n)) => short(n),
            _ => String::new(),
        };
        table.add_row(row(
            format!("{pad}{mark}{}", k.id),
            k.title.clone(),
            k.owner.as_deref(),
            &r,
            true,
            note,
        ));
    }
}

/// The cells of one row; `valued` rows show the value.
fn row(
    id: String,
    title: String,
    owner: Option<&str>,
    r: &Row,
    valued: bool,
    note: String,
) -> Vec<Cell> {
    vec![
        Cell::new(id),
        Cell::new(title),
        Cell::new(owner.unwrap_or("")),
        Cell::new(if valued { num(r.value) } else { String::new() }),
        Cell::new(pct(r.progress)),
        Cell::new(pct(r.expected)),
        Cell::new(pct(r.score)),
        Cell::new(r.status.as_deref().unwrap_or("–")),
        Cell::new(r.health_cell()),
        Cell::new(note),
    ]
}

/// What the run says of each period of the job that is over on `as_of`: `FY27-Q1 closed —
/// final, as of 2026-04-30`, once per period, in the job's order.
pub fn closed_periods(plan: &Plan, as_of: chrono::NaiveDate) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for o in &plan.objectives {
        if let Some(note) = o.period.closed_note(as_of)
            && !out.contains(&note)
        {
            out.push(note);
        }
    }
    out
}

/// How a run's key results came out.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Counts {
    /// A value from the source.
    pub ok: usize,
    /// The source answered with nothing to measure yet (not a failure).
    pub no_data: usize,
    /// Failed, the last good value kept.
    pub stale: usize,
    /// Failed, no value at all.
    pub failed: usize,
    /// The source kinds' counters (`runs` has a column for each), by name.
    pub metrics: Vec<(&'static str, i64)>,
}

impl Counts {
    /// The counters as `name=value` pairs, for the `run finished` line.
    pub fn metrics_text(&self) -> String {
        let pairs: Vec<String> = self
            .metrics
            .iter()
            .map(|(n, v)| format!("{n}={v}"))
            .collect();
        pairs.join(" ")
    }
}

/// The key results' counts of a run, as its `runs` row says (`sql/runs.sql` decides what
/// ok, no_data, stale and failed are).
pub fn counts(runs: &[RecordBatch]) -> Counts {
    let count = |b: &RecordBatch, name: &str| {
        b.column_by_name(name)
            .and_then(|c| c.as_primitive_opt::<Int64Type>())
            .filter(|c| c.is_valid(0))
            .map_or(0, |c| c.value(0) as usize)
    };
    runs.iter()
        .find(|b| b.num_rows() > 0)
        .map_or_else(Counts::default, |b| Counts {
            ok: count(b, "krs_ok"),
            no_data: count(b, "krs_no_data"),
            stale: count(b, "krs_stale"),
            failed: count(b, "krs_failed"),
            metrics: crate::sources::registry::metrics()
                .map(|m| (m.name, count(b, m.name) as i64))
                .collect(),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notes_are_cut_to_one_short_line() {
        assert_eq!(
            short("no data yet: `x` is NULL"),
            "no data yet: `x` is NULL"
        );
        let long = format!(
            "Schema error: No field named a. {}\nValid fields are b, c.",
            "x".repeat(200)
        );
        let s = short(&long);
        assert_eq!(s.chars().count(), NOTE_CHARS);
        assert!(
            s.starts_with("Schema error: No field named a. xxx") && s.ends_with('…'),
            "{s}"
        );
        assert_eq!(short("first line\nsecond"), "first line…");
    }
}
