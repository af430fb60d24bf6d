//! The report's opening: where the period stands, how many objectives and key results are in
//! each status, and every key result that needs attention with why and whose it is — what a
//! manager reads before any chart.

use super::{KeyResultView, ObjectiveView};
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

/// A key result that needs attention.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Attention {
    pub id: String,
    pub title: String,
    pub owner: Option<String>,
    pub objective_id: String,
    /// What is wrong: `at risk`, `behind`, `failed`, `stale`, `health overdue`, `no data`
    /// (a closed period's `missed` is its final score, shown in the counts, not here).
    pub reasons: Vec<String>,
    /// Why, in the words of the source or the owner: the error, the note, the health note.
    pub why: Option<String>,
}

/// The order statuses are listed in: what needs a reader first.
const ORDER: [&str; 8] = [
    "at_risk", "missed", "behind", "no_data", "on_track", "done", "stale", "failed",
];

/// The overview of `objectives` for a period from `start` to `end`, seen on `last_date`.
pub(crate) fn overview(
    objectives: &[ObjectiveView],
    start: NaiveDate,
    end: NaiveDate,
    last_date: NaiveDate,
) -> Overview {
    let days_total = (end - start).num_days() + 1;
    let days_through = ((last_date - start).num_days() + 1).clamp(0, days_total);
    let krs: Vec<(&ObjectiveView, &KeyResultView)> = objectives
        .iter()
        .flat_map(|o| o.key_results.iter().map(move |k| (o, k)))
        .collect();
    Overview {
        period_start: start,
        period_end: end,
        days_through,
        days_total,
        objective_counts: counts(objectives.iter().map(|o| o.status.as_deref())),
        kr_counts: counts(krs.iter().map(|(_, k)| k.latest.status.as_deref())),
        attention: krs
            .into_iter()
            .filter_map(|(o, k)| attention(o, k))
            .collect(),
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

fn attention(o: &ObjectiveView, k: &KeyResultView) -> Option<Attention> {
    let p = &k.latest;
    let mut reasons = Vec::new();
    match p.status.as_deref() {
        Some("at_risk") => reasons.push("at risk"),
        Some("behind") => reasons.push("behind"),
        Some("no_data") => reasons.push("no data"),
        _ => {}
    }
    if p.stale {
        reasons.push("stale");
    } else if p.error.is_some() {
        reasons.push("failed");
    }
    if p.health_overdue {
        reasons.push("health overdue");
    }
    if reasons.is_empty() {
        return None;
    }
    let health = p.health_note.as_ref().map(|n| format!("owner: {n}"));
    let why = [p.error.clone(), p.note.clone(), health]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>();
    Some(Attention {
        id: k.id.clone(),
        title: k.title.clone(),
        owner: k.owner.clone(),
        objective_id: o.id.clone(),
        reasons: reasons.into_iter().map(String::from).collect(),
        why: (!why.is_empty()).then(|| why.join(" · ")),
    })
}
