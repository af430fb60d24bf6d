//! The alignment tree checked as a whole: unknown parents, cycles, roll-ups and the practice
//! warnings that need every objective.

use super::check::{Checker, Spans};
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

#[cfg(test)]
mod tests {
    use super::super::parse::test_support::*;

    #[test]
    fn alignment_cycle_and_unknown_alignment_are_errors() {
        let obj = |id: &str, to: &str| {
            format!(
                "[[objectives]]\nid = \"{id}\"\ntitle = \"x\"\nowner = \"{id}\"\nperiod = \"FY27-Q1\"\naligns_to = {{ key_result = \"{to}\" }}\n[[objectives.key_results]]\nid = \"{id}-KR\"\ntitle = \"t\"\nowner = \"o\"\nmeasure = {{ percent_complete = {{}} }}\n{KR_SQL}\n"
            )
        };
        let errs = errors(&format!(
            "{}{}{}",
            obj("A", "B-KR"),
            obj("B", "C-KR"),
            obj("C", "A-KR")
        ));
        assert_eq!(errs.len(), 1, "{errs:?}");
        assert!(errs[0].contains("alignment cycle: "), "{}", errs[0]);

        // A typo in aligns_to would move a company score silently: an error with its line.
        let errs = errors(&format!("{}{}", obj("A", "B-KR"), obj("B", "B-KR9")));
        assert_eq!(errs.len(), 1, "{errs:?}");
        assert!(
            errs[0].contains(":29:")
                && errs[0].contains("objective B: aligns to key result `B-KR9`, which this job does not define (key results: A-KR, B-KR)"),
            "{}",
            errs[0]
        );
        // An aligned key result nothing aligns to would never get a value.
        let errs = errors(
            "[[objectives]]\nid = \"C\"\ntitle = \"x\"\nowner = \"o\"\nperiod = \"FY27-Q1\"\n\
             [[objectives.key_results]]\nid = \"C-KR1\"\ntitle = \"t\"\nowner = \"o\"\nmeasure = { aligned = {} }\n",
        );
        assert_eq!(errs.len(), 1, "{errs:?}");
        assert!(
            errs[0].contains("key result C-KR1: is measured by its aligned objectives")
                && errs[0].contains("but no objective aligns to it"),
            "{}",
            errs[0]
        );
    }

    #[test]
    fn practice_warnings() {
        let mut body = String::new();
        for i in 0..4 {
            body.push_str(&format!("[[objectives]]\nid = \"O{i}\"\ntitle = \"x\"\nowner = \"sam\"\nperiod = \"FY27-Q1\"\n"));
        }
        for j in 0..4 {
            body.push_str(&format!(
                "[[objectives.key_results]]\nid = \"O3-KR{j}\"\ntitle = \"t\"\nmeasure = {{ percent_complete = {{}} }}\n{KR_SQL}\n"
            ));
        }
        let plan = parse_str(&body).unwrap();
        let w: Vec<String> = plan.warnings.iter().map(|p| p.to_string()).collect();
        assert_eq!(
            w.iter()
                .filter(|s| s.contains("key result has no owner"))
                .count(),
            4,
            "{w:#?}"
        );
        assert!(
            w.iter().any(|s| s.contains("objective O3: 4 key results")),
            "{w:#?}"
        );
        assert!(
            w.iter()
                .any(|s| s.contains("owner sam: 4 objectives in FY27-Q1")),
            "{w:#?}"
        );
    }

    #[test]
    fn a_mistake_inside_aligns_to_names_the_field() {
        let obj = |aligns: &str| {
            format!(
                "[[objectives]]\nid = \"A\"\ntitle = \"x\"\nowner = \"o\"\nperiod = \"FY27-Q1\"\naligns_to = {aligns}\n"
            )
        };
        let errs = errors(&obj(r#"{ kr = "C-KR1" }"#));
        assert_eq!(errs.len(), 1, "{errs:?}");
        assert!(
            errs[0].contains(
                "objective A: unknown field `kr`, expected `key_result` or `contribution`"
            ),
            "{errs:?}"
        );
        let errs = errors(&obj(r#"[{ key_result = "C-KR1", weight = 2 }]"#));
        assert!(errs[0].contains("unknown field `weight`"), "{errs:?}");
        let errs = errors(&obj(r#""C-KR1""#));
        assert!(
            errs[0].contains(
                "expected a table { key_result = \"…\", contribution = … } or a list of them"
            ),
            "{errs:?}"
        );
    }
}
