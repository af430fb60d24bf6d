//! The readable table a run prints: the OKR tree — objectives, each followed by its key
//! results and what is aligned to them — with value, progress, expected progress and status.
//! In a pipe it is as wide as its content; on a terminal [`fit`] makes it fit the width.

mod fit;

pub(crate) use fit::target_width;

use crate::job::Plan;
use comfy_table::{ContentArrangement, Table, presets::UTF8_FULL_CONDENSED};
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

/// The summary's columns, in order; the last one is the note.
const HEADER: [&str; 10] = [
    "id", "title", "owner", "value", "progress", "expected", "score", "status", "health", "note",
];

/// Renders the summary table for a run's `kr_snapshots` and `objective_snapshots`, as the
/// tree: each objective with its key results, under each key result the key results it rolls
/// up (`↳`) and the objectives aligned to it. An objective with several parents is shown
/// under the first, and named (`→ see …`) under the others.
///
/// `width` `None` (a pipe, see `target_width`): as wide as the content, notes cut to one
/// short line. `Some(w)`: at most `w` columns where it can be — titles and owners shortened
/// with `…`, notes whole and wrapped, the least needed columns left out when even that does
/// not fit (see `fit.rs`).
pub fn render(
    plan: &Plan,
    krs: &[RecordBatch],
    objectives: &[RecordBatch],
    width: Option<u16>,
) -> String {
    let tree = Tree {
        plan,
        krs: rows(krs, "kr_id"),
        objectives: rows(objectives, "objective_id"),
    };
    let mut lines = Vec::new();
    let is_kr = |id: &str| plan.key_result(id).is_some();
    let mut shown = HashSet::new();
    for o in &plan.objectives {
        if o.aligns_to.first().is_none_or(|(kr, _)| !is_kr(kr)) {
            tree.objective(&mut lines, o, 0, &mut shown);
        }
    }
    for o in &plan.objectives {
        tree.objective(&mut lines, o, 0, &mut shown);
    }
    table(lines, width)
}

/// The table of `lines`, fitted to `width` when there is one.
fn table(lines: Vec<Line>, width: Option<u16>) -> String {
    let mut cells: Vec<Vec<String>> = lines
        .into_iter()
        .map(|l| {
            let mut c = l.cells;
            c.push(l.note.text(width.is_some()));
            c
        })
        .collect();
    let mut table = Table::new();
    table.load_preset(UTF8_FULL_CONDENSED);
    table.set_header(HEADER);
    if let Some(w) = width {
        let constraints = fit::fit(&HEADER, &mut cells, w);
        table
            .set_content_arrangement(ContentArrangement::Dynamic)
            .set_width(w)
            .set_constraints(constraints);
    }
    for c in cells {
        table.add_row(c);
    }
    table.to_string()
}

/// A row's note: a prefix (`failed: `) and a text that the pipe rendering may cut.
struct Note {
    prefix: &'static str,
    text: String,
    /// Cut to one short line in a pipe (an error or a source's note).
    cut: bool,
}

impl Note {
    /// A note shown as it is.
    fn plain(text: String) -> Self {
        Self {
            prefix: "",
            text,
            cut: false,
        }
    }

    /// The cell: whole when `whole` (the table wraps it), else as [`short`] cuts it.
    fn text(&self, whole: bool) -> String {
        let text = match (self.cut, whole) {
            (true, false) => short(&self.text),
            (true, true) => self.text.trim_end().to_string(),
            (false, _) => self.text.clone(),
        };
        format!("{}{text}", self.prefix)
    }
}

/// One row of the tree: its cells but the note, and the note.
struct Line {
    cells: Vec<String>,
    note: Note,
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
        lines: &mut Vec<Line>,
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
        lines.push(row(
            format!("{pad}{}", o.id),
            format!("{} [{}]", o.title, o.period.label),
            o.owner.as_deref(),
            &r,
            false,
            Note::plain(if parents.is_empty() {
                String::new()
            } else {
                format!("→ {}", parents.join(", "))
            }),
        ));
        for k in self
            .plan
            .key_results
            .iter()
            .filter(|k| k.objective_id == o.id)
        {
            self.key_result(lines, k, &format!("{pad}  "), "");
            for child in self
                .plan
                .key_results
                .iter()
                .filter(|c| c.aligns_to.as_deref() == Some(k.id.as_str()))
            {
                self.key_result(lines, child, &format!("{pad}    "), "↳ ");
            }
            for child in self
                .plan
                .objectives
                .iter()
                .filter(|c| c.aligns_to.iter().any(|(kr, _)| *kr == k.id))
            {
                if child.aligns_to[0].0 == k.id {
                    self.objective(lines, child, depth + 2, shown);
                } else {
                    let first = &child.aligns_to[0].0;
                    lines.push(row(
                        format!("{pad}    {}", child.id),
                        format!("{} [{}]", child.title, child.period.label),
                        child.owner.as_deref(),
                        &self.objectives.get(&child.id).cloned().unwrap_or_default(),
                        false,
                        Note::plain(format!("→ see under {first}")),
                    ));
                }
            }
        }
    }

    /// One key result's row, indented by `pad`, its id marked by `mark`.
    fn key_result(&self, lines: &mut Vec<Line>, k: &crate::job::KeyResult, pad: &str, mark: &str) {
        let r = self.krs.get(&k.id).cloned().unwrap_or_default();
        let cut = |prefix, text: &String| Note {
            prefix,
            text: text.clone(),
            cut: true,
        };
        let note = match (&r.error, r.stale, &r.note) {
            (Some(e), true, _) => cut("stale: ", e),
            (Some(e), false, _) => cut("failed: ", e),
            (None, _, Some(n)) => cut("", n),
            _ => Note::plain(String::new()),
        };
        lines.push(row(
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
fn row(id: String, title: String, owner: Option<&str>, r: &Row, valued: bool, note: Note) -> Line {
    Line {
        cells: vec![
            id,
            title,
            owner.unwrap_or("").to_string(),
            if valued { num(r.value) } else { String::new() },
            pct(r.progress),
            pct(r.expected),
            pct(r.score),
            r.status.as_deref().unwrap_or("–").to_string(),
            r.health_cell(),
        ],
        note,
    }
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

    /// A tree like the demo's: an objective, an indented key result, a rolled-up one (`↳`)
    /// with a long title, and one that failed with a 300-character error.
    fn demo_like() -> (Vec<Line>, String, String) {
        let error = (0..50)
            .map(|i| format!("err{i:02}"))
            .collect::<Vec<_>>()
            .join(" ");
        assert!(error.chars().count() >= 299);
        let title = "Cut the median onboarding time from 20 days to 10 days without extra staff";
        let r = Row {
            value: Some(12.5),
            progress: Some(0.75),
            expected: Some(0.83),
            score: Some(0.75),
            status: Some("behind".into()),
            health: Some("on_track".into()),
            health_overdue: true,
            ..Row::default()
        };
        let line = |id: &str, title: &str, note: Note| {
            row(
                id.into(),
                title.into(),
                Some("onboarding-team"),
                &r,
                true,
                note,
            )
        };
        let lines = vec![
            line(
                "O1",
                "Run onboarding without delays [FY27-Q1]",
                Note::plain("→ C1-KR1 ×1".into()),
            ),
            line(
                "  O1-KR1",
                "Complete 20 customer onboardings",
                Note::plain(String::new()),
            ),
            line("    ↳ O4-KR1", title, Note::plain(String::new())),
            line(
                "  O1-KR3",
                "Close bugs",
                Note {
                    prefix: "failed: ",
                    text: error.clone(),
                    cut: true,
                },
            ),
        ];
        (lines, title.to_string(), error)
    }

    /// The cells of the first column (the id), or the last (the note), of each row of a
    /// rendered table.
    fn column(text: &str, last: bool) -> Vec<String> {
        text.lines()
            .filter(|l| l.starts_with('│'))
            .map(|l| {
                let mut cells = l.trim_matches('│').split('┆');
                let c = if last {
                    cells.next_back()
                } else {
                    cells.next()
                };
                c.unwrap_or("").to_string()
            })
            .collect()
    }

    #[test]
    fn at_a_width_the_table_fits_and_notes_wrap_whole() {
        for width in [80u16, 100] {
            let (lines, title, error) = demo_like();
            let text = table(lines, Some(width));
            for l in text.lines() {
                assert!(l.chars().count() <= usize::from(width), "{width}:\n{text}");
            }
            // the tree's indentation is kept
            let ids = column(&text, false);
            for id in ["O1 ", "  O1-KR1 ", "    ↳ O4-KR1 ", "  O1-KR3 "] {
                assert!(
                    ids.iter().any(|c| c.starts_with(&format!(" {id}"))),
                    "{id}:\n{text}"
                );
            }
            // the whole error, wrapped over several lines of the note column
            let notes = column(&text, true);
            let joined: Vec<&str> = notes.iter().flat_map(|c| c.split_whitespace()).collect();
            let words: Vec<&str> = error.split_whitespace().collect();
            let at = joined.iter().position(|w| *w == words[0]).expect(&text);
            assert_eq!(joined[at - 1], "failed:", "{text}");
            assert_eq!(&joined[at..at + words.len()], &words[..], "{text}");
            assert!(
                notes.iter().filter(|c| c.contains("err")).count() > 5,
                "{text}"
            );
            // the long title is shortened, the short ones are not
            assert!(!text.contains(&title), "{text}");
            assert!(text.contains(" Cut the median on"), "{text}");
            assert!(text.contains('…'), "{text}");
            assert!(text.contains(" Close bugs "), "{text}");
        }
        // wide enough: every column, nothing shortened, the error on one line
        let (lines, title, error) = demo_like();
        let text = table(lines, Some(500));
        assert!(text.contains(&title) && text.contains(&error), "{text}");
        assert!(
            text.contains("on_track (overdue)") && text.contains(" 83% "),
            "{text}"
        );
    }

    #[test]
    fn without_a_width_the_table_is_as_wide_as_its_content() {
        let (lines, title, error) = demo_like();
        let text = table(lines, None);
        // every column, the title whole, the error cut to one short line
        assert!(text.contains(&title), "{text}");
        assert!(
            text.contains(&format!("failed: {}", short(&error))),
            "{text}"
        );
        assert!(!text.contains(&error), "{text}");
        assert!(
            text.contains("on_track (overdue)") && text.contains(" 83% "),
            "{text}"
        );
        let widths: Vec<usize> = text.lines().map(|l| l.chars().count()).collect();
        assert!(
            widths.iter().all(|w| *w == widths[0] && *w > 200),
            "{widths:?}"
        );
        // one line a row: header, rule, 4 rows, top and bottom
        assert_eq!(text.lines().count(), 8, "{text}");
    }
}
