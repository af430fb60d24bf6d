//! The report's opening: where the period stands, how many objectives and key results are in
//! each status, and every key result that needs attention with why and whose it is — what a
//! manager reads before any chart.

use super::ObjectiveView;
use chrono::NaiveDate;
use serde::Serialize;
use std::collections::BTreeMap;

/// The report's first screen.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Overview {
    pub period_start: NaiveDate,
    pub period_end: NaiveDate,
    /// Days of the period up to the newest snapshot, and in all.
    pub days_through: i64,
    pub days_total: i64,
    /// `(status, count)` of the objectives and of the key results, worst first.
    pub objective_counts: Vec<(String, usize)>,
    pub kr_counts: Vec<(String, usize)>,
    /// Key results at risk or behind, failed, stale, with an overdue health or no data.
    pub attention: Vec<Attention>,
}

/// A key result that needs attention: a row of `report_attention`.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Attention {
    pub id: String,
    pub title: String,
    pub owner: Option<String>,
    pub objective_id: String,
    /// What is wrong: `at risk`, `behind`, `no data`, `failed`, `stale`, `health overdue`.
    pub reasons: String,
    /// Why, in the words of the source or the owner: the error, the note, the health note.
    pub why: Option<String>,
    /// At risk or behind; failed or stale; the owner's health update overdue.
    pub off_pace: bool,
    pub failing: bool,
    pub health_overdue: bool,
}

/// The order statuses are listed in: what needs a reader first.
const ORDER: [&str; 8] = [
    "at_risk", "missed", "behind", "no_data", "on_track", "done", "stale", "failed",
];

/// The overview of `objectives` for a period from `start` to `end`, seen on `last_date`;
/// `attention` in the objectives' order.
pub(crate) fn overview(
    objectives: &[ObjectiveView],
    mut attention: Vec<Attention>,
    start: NaiveDate,
    end: NaiveDate,
    last_date: NaiveDate,
) -> Overview {
    let days_total = (end - start).num_days() + 1;
    let days_through = ((last_date - start).num_days() + 1).clamp(0, days_total);
    let position = |id: &str| objectives.iter().position(|o| o.id == id);
    attention.sort_by_key(|a| (position(&a.objective_id), a.id.clone()));
    Overview {
        period_start: start,
        period_end: end,
        days_through,
        days_total,
        objective_counts: counts(objectives.iter().map(|o| o.status.as_deref())),
        kr_counts: counts(
            objectives
                .iter()
                .flat_map(|o| &o.key_results)
                .map(|k| k.latest.status.as_deref()),
        ),
        attention,
    }
}

fn counts<'a>(statuses: impl Iterator<Item = Option<&'a str>>) -> Vec<(String, usize)> {
    let mut by: BTreeMap<String, usize> = BTreeMap::new();
    for s in statuses {
        *by.entry(s.unwrap_or("no_status").to_string()).or_default() += 1;
    }
    let rank = |s: &str| ORDER.iter().position(|o| *o == s).unwrap_or(ORDER.len());
    let mut out: Vec<(String, usize)> = by.into_iter().collect();
    out.sort_by_key(|(s, _)| rank(s));
    out
}

/// `objectives` as a tree: each followed by the objectives aligned to its key results (their
/// `depth` one more), the others in their given order. An objective aligned to several key
/// results is placed under the first one in the report.
pub(crate) fn tree(
    objectives: Vec<ObjectiveView>,
    parent_of: impl Fn(&str) -> Option<String>,
) -> Vec<ObjectiveView> {
    let kr_owner = |kr: &str| {
        objectives
            .iter()
            .find(|o| o.key_results.iter().any(|k| k.id == kr))
            .map(|o| o.id.clone())
    };
    let parents: Vec<Option<String>> = objectives
        .iter()
        .map(|o| {
            parent_of(&o.id)
                .and_then(|kr| kr_owner(&kr))
                .filter(|p| *p != o.id)
        })
        .collect();
    let mut out = Vec::with_capacity(objectives.len());
    let mut placed = vec![false; objectives.len()];
    fn place(
        i: usize,
        depth: usize,
        objectives: &[ObjectiveView],
        parents: &[Option<String>],
        placed: &mut [bool],
        out: &mut Vec<ObjectiveView>,
    ) {
        if placed[i] {
            return;
        }
        placed[i] = true;
        let mut o = objectives[i].clone();
        o.depth = depth;
        out.push(o);
        for (j, p) in parents.iter().enumerate() {
            if p.as_deref() == Some(objectives[i].id.as_str()) {
                place(j, depth + 1, objectives, parents, placed, out);
            }
        }
    }
    for i in 0..objectives.len() {
        if parents[i].is_none() {
            place(i, 0, &objectives, &parents, &mut placed, &mut out);
        }
    }
    // a circle of parents (not possible in a valid job) still shows every objective
    for i in 0..objectives.len() {
        place(i, 0, &objectives, &parents, &mut placed, &mut out);
    }
    out
}
