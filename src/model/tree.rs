//! The alignment tree checked as a whole: unknown parents, cycles, roll-ups and the practice
//! warnings that need every objective.

use super::plan::{Checker, Spans};
use super::{KeyResult, Measure, Objective};
use std::collections::{BTreeMap, HashMap, HashSet};

/// Checks the alignment tree: unknown targets, cycles, roll-ups, and the practice warnings
/// that need the whole job.
pub(super) fn check_tree<L>(
    c: &mut Checker<'_>,
    objectives: &[Objective],
    key_results: &[KeyResult<L>],
    spans: &Spans,
) {
    let by_id: HashMap<&str, &KeyResult<L>> =
        key_results.iter().map(|k| (k.id.as_str(), k)).collect();
    let known = || {
        key_results
            .iter()
            .map(|k| k.id.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    };
    // An objective's parents: the owners of the key results it aligns to.
    let mut parents: BTreeMap<&str, Vec<(&str, &str)>> = BTreeMap::new();
    for o in objectives {
        let span = spans
            .objective_alignments
            .get(&o.id)
            .cloned()
            .unwrap_or(0..0);
        let subject = Some(format!("objective {}", o.id));
        for (kr, _) in &o.aligns_to {
            match by_id.get(kr.as_str()) {
                Some(k) if k.rollup.is_some() => c.error(
                    span.clone(),
                    subject.clone(),
                    format!(
                        "aligns to `{kr}`, a roll-up of key results' values: align a key result to it, or the objective to another key result"
                    ),
                ),
                Some(k) => parents
                    .entry(o.id.as_str())
                    .or_default()
                    .push((kr.as_str(), k.objective_id.as_str())),
                // defined with errors of its own, already reported
                None if spans.key_results.contains_key(kr) => {}
                None => c.error(
                    span.clone(),
                    subject.clone(),
                    format!(
                        "aligns to key result `{kr}`, which this job does not define (key results: {})",
                        known()
                    ),
                ),
            }
        }
    }
    cycles(c, objectives, &parents, spans);

    for k in key_results {
        let subject = Some(format!("key result {}", k.id));
        let span =
            |m: &HashMap<String, std::ops::Range<usize>>| m.get(&k.id).cloned().unwrap_or(0..0);
        if let Some(parent) = &k.aligns_to {
            let at = span(&spans.kr_alignments);
            match by_id.get(parent.as_str()) {
                None if spans.key_results.contains_key(parent) => {}
                None => c.error(
                    at,
                    subject.clone(),
                    format!(
                        "aligns to key result `{parent}`, which this job does not define (key results: {})",
                        known()
                    ),
                ),
                Some(p) if p.rollup.is_none() => c.error(
                    at,
                    subject.clone(),
                    format!(
                        "aligns to `{parent}`, which does not roll up its children: give it source = {{ aligned = {{ rollup = \"sum\" }} }} (or \"average\")"
                    ),
                ),
                Some(_) if k.rollup.is_some() => c.error(
                    at,
                    subject.clone(),
                    format!("is a roll-up itself: a roll-up's children (here of `{parent}`) need their own source"),
                ),
                Some(_) if k.measure == Measure::Aligned => c.error(
                    at,
                    subject.clone(),
                    format!("is measured by its aligned objectives and has no value to add to `{parent}`"),
                ),
                Some(_) => {}
            }
        }
        if k.rollup.is_some()
            && !key_results
                .iter()
                .any(|child| child.aligns_to.as_deref() == Some(k.id.as_str()))
        {
            c.error(
                span(&spans.key_results),
                subject.clone(),
                "rolls up the key results aligned to it, but none aligns to it (aligns_to = { key_result = \"…\" } on each child)",
            );
        }
        if k.measure == Measure::Aligned
            && !objectives
                .iter()
                .any(|o| o.aligns_to.iter().any(|(kr, _)| *kr == k.id))
        {
            c.error(
                span(&spans.key_results),
                subject,
                "is measured by its aligned objectives (measure = { aligned = {} }), but no objective aligns to it",
            );
        }
    }
    let mut per_owner: BTreeMap<(&str, &str), usize> = BTreeMap::new();
    for o in objectives {
        if let Some(owner) = &o.owner {
            *per_owner
                .entry((owner.as_str(), o.period.label.as_str()))
                .or_default() += 1;
        }
    }
    for ((owner, period), n) in per_owner {
        if n > 3 {
            c.warn(
                None,
                Some(format!("owner {owner}")),
                format!("{n} objectives in {period}; three or fewer keep focus"),
            );
        }
    }
}

/// Reports every alignment cycle once, with the ids around it: `A → B-KR1 (B) → A-KR1 (A)`.
fn cycles(
    c: &mut Checker<'_>,
    objectives: &[Objective],
    parents: &BTreeMap<&str, Vec<(&str, &str)>>,
    spans: &Spans,
) {
    // Depth-first from each objective; `path` holds (objective, key result it was left by).
    fn walk<'a>(
        at: &'a str,
        parents: &BTreeMap<&'a str, Vec<(&'a str, &'a str)>>,
        path: &mut Vec<(&'a str, &'a str)>,
        done: &mut HashSet<&'a str>,
        found: &mut Vec<Vec<(&'a str, &'a str)>>,
    ) {
        if done.contains(at) {
            return;
        }
        for &(kr, owner) in parents.get(at).into_iter().flatten() {
            if let Some(pos) = path.iter().position(|(o, _)| *o == owner) {
                let mut cycle = path[pos..].to_vec();
                cycle.push((at, kr));
                found.push(cycle);
                continue;
            }
            if owner == at {
                found.push(vec![(at, kr)]);
                continue;
            }
            path.push((at, kr));
            walk(owner, parents, path, done, found);
            path.pop();
        }
        done.insert(at);
    }
    let mut done = HashSet::new();
    let mut found = Vec::new();
    for o in objectives {
        walk(&o.id, parents, &mut Vec::new(), &mut done, &mut found);
    }
    let mut reported: HashSet<Vec<&str>> = HashSet::new();
    for cycle in found {
        let mut key: Vec<&str> = cycle.iter().map(|(o, _)| *o).collect();
        key.sort_unstable();
        if !reported.insert(key) {
            continue;
        }
        let (first, _) = cycle[0];
        let mut text = first.to_string();
        for (i, (_, kr)) in cycle.iter().enumerate() {
            let next = cycle.get(i + 1).map_or(first, |(o, _)| *o);
            text.push_str(&format!(" → {kr} ({next})"));
        }
        c.error(
            spans
                .objective_alignments
                .get(first)
                .or_else(|| spans.objectives.get(first))
                .cloned()
                .unwrap_or(0..0),
            Some(format!("objective {first}")),
            format!("alignment cycle: {text}"),
        );
    }
}
