//! One key result of the job file validated: its window, measure (`measure.rs`), penalty,
//! source or roll-up, and offset, every problem recorded in the [`Checker`].

use super::check::{Checker, Spans, check_offset, date};
use super::job::{KeyResultConfig, LatePenaltyConfig};
use super::kinds::Kinds;
use super::{KeyResult, KrSource, LatePenalty, Measure, Period, Severity, line_col};
use std::collections::BTreeMap;
use std::ops::Range;

/// What a key result is resolved against: the job's connections and their offsets.
pub(super) struct Context<'a, K: Kinds> {
    pub connections: &'a BTreeMap<String, K::Connection>,
    pub offsets: &'a BTreeMap<String, u32>,
}

/// Validates one key result; `None` when it has errors (already recorded).
pub(super) fn key_result<K: Kinds>(
    c: &mut Checker<'_>,
    context: &Context<'_, K>,
    kr: &KeyResultConfig<K::SourceConfig>,
    objective_id: &str,
    period: &Period,
    spans: &mut Spans,
) -> Option<KeyResult<K::Link>> {
    let errors = |c: &Checker<'_>| {
        c.problems
            .iter()
            .filter(|p| p.severity == Severity::Error)
            .count()
    };
    let before = errors(c);
    let id = kr.id.get_ref().trim().to_string();
    let subject = Some(format!("key result {id}"));
    if id.is_empty() {
        c.error(kr.id.span(), None, "key result id is empty");
    }
    if let Some(first) = spans.key_results.get(&id) {
        let (line, _) = line_col(c.text, first.start);
        c.error(
            kr.id.span(),
            subject.clone(),
            format!("duplicate key result id (first defined on line {line})"),
        );
    } else {
        spans.key_results.insert(id.clone(), kr.id.span());
    }
    if kr.owner.as_deref().is_none_or(|s| s.trim().is_empty()) {
        c.warn(
            Some(kr.id.span()),
            subject.clone(),
            "key result has no owner",
        );
    }
    if !(kr.weight >= 0.0 && kr.weight.is_finite()) {
        c.error(
            kr.id.span(),
            subject.clone(),
            format!("weight must be 0 or more, not {}", kr.weight),
        );
    }

    let window_start = match &kr.starts {
        None => period.start,
        Some(d) => match date(c, d, &subject, "starts") {
            Some(day) if !period.contains(day) => {
                c.error(
                    d.span(),
                    subject.clone(),
                    format!("starts {day} is outside its period ({period})"),
                );
                period.start
            }
            Some(day) => day,
            None => period.start,
        },
    };
    let due = match &kr.due {
        None => period.end,
        Some(d) => match date(c, d, &subject, "due") {
            Some(day) => {
                if day < window_start {
                    let what = if kr.starts.is_some() {
                        format!("the key result starts ({window_start})")
                    } else {
                        format!("the period starts ({period})")
                    };
                    c.error(
                        d.span(),
                        subject.clone(),
                        format!("due date {day} is before {what}"),
                    );
                } else if day > period.end {
                    c.warn(
                        Some(d.span()),
                        subject.clone(),
                        format!("due date {day} is after the period ends ({period})"),
                    );
                }
                day
            }
            None => period.end,
        },
    };
    let measure = super::measure::measure(c, kr, &subject, window_start, due);

    let late_penalty = match kr.late_penalty.as_ref().map(|p| (p.span(), *p.get_ref())) {
        None => LatePenalty::None,
        Some((span, _)) if matches!(measure, Measure::Threshold(_)) => {
            c.error(
                span,
                subject.clone(),
                "a threshold (guardrail) key result is never done early or late: it takes no late_penalty",
            );
            LatePenalty::None
        }
        Some((_, LatePenaltyConfig::ZeroIfMissed)) => LatePenalty::ZeroIfMissed,
        Some((span, LatePenaltyConfig::PerWeek(w))) => {
            if !(0.0..=1.0).contains(&w) {
                c.error(
                    span,
                    subject.clone(),
                    format!("late_penalty.per_week must be 0 to 1, not {w}"),
                );
            }
            LatePenalty::PerWeek(w)
        }
    };

    let rollup = kr.source.as_ref().and_then(|s| K::rollup(s.get_ref()));
    let source = match (&measure, &kr.source, rollup) {
        (Measure::Aligned, None, _) => None,
        (Measure::Aligned, Some(s), _) => {
            c.error(
                s.span(),
                subject.clone(),
                "an `aligned` key result is measured by its aligned objectives and takes no source",
            );
            None
        }
        (_, None, _) => {
            c.error(kr.id.span(), subject.clone(), "key result has no `source`");
            None
        }
        (
            Measure::Kpi { .. } | Measure::PercentComplete | Measure::Threshold(_),
            Some(_),
            Some(_),
        ) => None,
        (_, Some(s), Some(_)) => {
            c.error(
                s.span(),
                subject.clone(),
                "a roll-up (source = { aligned = { rollup = … } }) needs a kpi, percent_complete or threshold measure",
            );
            None
        }
        (_, Some(s), None) => {
            let config = s.get_ref();
            let kind = K::source_kind(config);
            let connection = resolve_connection::<K>(
                c,
                s.span(),
                &subject,
                K::source_connection(config),
                kind,
                context.connections,
            );
            match K::link(config, &measure) {
                Ok(link) => connection.map(|connection| KrSource {
                    kind,
                    connection,
                    link,
                }),
                Err(problems) => {
                    for p in problems {
                        c.error(s.span(), subject.clone(), format!("{kind} source: {p}"));
                    }
                    None
                }
            }
        }
    };

    let offset_days = match (&kr.offset_days, &source) {
        (Some(days), _) if rollup.is_some() || measure == Measure::Aligned => {
            c.error(
                days.span(),
                subject.clone(),
                "offset_days applies to a key result with a source; a roll-up or aligned key result takes its children's",
            );
            0
        }
        (Some(days), _) => {
            if let Err(e) = check_offset(*days.get_ref()) {
                c.error(days.span(), subject.clone(), e);
            }
            *days.get_ref()
        }
        (None, Some(s)) => context.offsets.get(&s.connection).copied().unwrap_or(0),
        (None, None) => 0,
    };

    let aligns_to = kr.aligns_to.as_ref().and_then(|a| {
        spans.kr_alignments.insert(id.clone(), a.span());
        match a.get_ref().parents().as_slice() {
            [one] if one.contribution.is_none() => Some(one.key_result.trim().to_string()),
            [_] => {
                c.error(
                    a.span(),
                    subject.clone(),
                    "a key result's value adds to its roll-up as it is: its aligns_to takes no contribution",
                );
                None
            }
            _ => {
                c.error(
                    a.span(),
                    subject.clone(),
                    "a key result's value adds to one roll-up: give aligns_to one key result",
                );
                None
            }
        }
    });

    (errors(c) == before).then(|| KeyResult {
        id,
        objective_id: objective_id.to_string(),
        title: kr.title.clone(),
        owner: kr.owner.clone().filter(|s| !s.trim().is_empty()),
        measure,
        weight: kr.weight,
        period: period.clone(),
        window_start,
        due,
        late_penalty,
        source,
        rollup,
        aligns_to,
        offset_days,
        definition: String::new(),
        source_line: kr
            .source
            .as_ref()
            .map(|s| line_col(c.text, s.span().start).0),
    })
}

/// Finds the named connection, or the only one of `kind` when none is named.
fn resolve_connection<K: Kinds>(
    c: &mut Checker<'_>,
    span: Range<usize>,
    subject: &Option<String>,
    named: Option<&str>,
    kind: &str,
    connections: &BTreeMap<String, K::Connection>,
) -> Option<String> {
    match named {
        Some(name) => match connections.get(name) {
            Some(conn) if K::connection_kind(conn) == kind => Some(name.to_string()),
            Some(conn) => {
                c.error(
                    span,
                    subject.clone(),
                    format!(
                        "connection `{name}` is a {} connection, not {kind}",
                        K::connection_kind(conn)
                    ),
                );
                None
            }
            None => {
                let known: Vec<_> = connections.keys().map(String::as_str).collect();
                c.error(
                    span,
                    subject.clone(),
                    format!(
                        "unknown connection `{name}` (the job defines: {})",
                        if known.is_empty() {
                            "none".to_string()
                        } else {
                            known.join(", ")
                        }
                    ),
                );
                None
            }
        },
        None => {
            let of_kind: Vec<_> = connections
                .iter()
                .filter(|(_, v)| K::connection_kind(v) == kind)
                .map(|(k, _)| k.clone())
                .collect();
            match of_kind.as_slice() {
                [only] => Some(only.clone()),
                [] => {
                    c.error(
                        span,
                        subject.clone(),
                        format!("the job has no {kind} connection"),
                    );
                    None
                }
                many => {
                    c.error(
                        span,
                        subject.clone(),
                        format!(
                            "name the connection: the job has several {kind} connections ({})",
                            many.join(", ")
                        ),
                    );
                    None
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::job::Rollup;
    use super::super::parse::test_support::*;
    use chrono::NaiveDate;

    #[test]
    fn offsets_starts_phases_and_several_parents_resolve() {
        let text = format!(
            r#"
[periods.launch]
start = 2026-02-15
end = 2026-06-30

[connections.late]
kind = "tallyfy"
url = "data"
offset_days = 5

[[objectives]]
id = "C"
title = "Year"
owner = "ceo"
period = "fy27"
[[objectives.key_results]]
id = "C-KR1"
title = "a"
owner = "o"
measure = {{ aligned = {{}} }}
[[objectives.key_results]]
id = "C-KR2"
title = "b"
owner = "o"
measure = {{ kpi = {{ start = 0, target = 10 }} }}
source = {{ aligned = {{ rollup = "average" }} }}

[[objectives]]
id = "L"
title = "Launch"
owner = "pm"
period = "launch"
aligns_to = [{{ key_result = "C-KR1" }}, {{ key_result = "C-KR1" }}]
[[objectives.key_results]]
id = "L-KR1"
title = "l"
owner = "o"
measure = {{ percent_complete = {{}} }}
source = {{ tallyfy = {{ connection = "tallyfy", sql = "SELECT 1" }} }}

[[objectives]]
id = "H"
title = "Half"
owner = "pm"
period = "FY27-H2"
aligns_to = [{{ key_result = "C-KR1" }}, {{ key_result = "C-KR2", contribution = 0.5 }}]
[[objectives.key_results]]
id = "H-KR1"
title = "inherits the connection's offset"
owner = "o"
measure = {{ kpi = {{ start = 0, target = 10, phases = [{{ on = 2026-09-30, target = 4 }}] }} }}
starts = 2026-09-01
aligns_to = {{ key_result = "C-KR2" }}
source = {{ tallyfy = {{ connection = "late", sql = "SELECT 1" }} }}
[[objectives.key_results]]
id = "H-KR2"
title = "its own offset wins"
owner = "o"
measure = {{ kpi = {{ start = 0, target = 10 }} }}
offset_days = 12
source = {{ tallyfy = {{ connection = "late", sql = "SELECT 1" }} }}
[[objectives.key_results]]
id = "H-KR3"
title = "none"
owner = "o"
measure = {{ percent_complete = {{}} }}
source = {{ tallyfy = {{ connection = "tallyfy", sql = "SELECT 1" }} }}
"#
        );
        // L aligns to C-KR1 twice: an error naming it, then the rest resolves.
        let errs = errors(&text);
        assert_eq!(errs.len(), 2, "{errs:#?}");
        assert!(
            errs[0].contains("objective L: aligns to `C-KR1` twice"),
            "{errs:?}"
        );
        assert!(
            errs[1].contains("objective H: aligns to `C-KR2`, a roll-up"),
            "{errs:?}"
        );
        let text = text
            .replace(
                r#"[{ key_result = "C-KR1" }, { key_result = "C-KR1" }]"#,
                r#"{ key_result = "C-KR1" }"#,
            )
            .replace(
                r#"{ key_result = "C-KR2", contribution = 0.5 }"#,
                r#"{ key_result = "L-KR1", contribution = 0.5 }"#,
            );
        let plan = parse_str(&text).unwrap();
        let d = |m, day| NaiveDate::from_ymd_opt(2026, m, day).unwrap();
        let c = &plan.objectives[0];
        assert_eq!(
            (c.period.label.as_str(), c.period.end),
            ("FY27", NaiveDate::from_ymd_opt(2027, 1, 31).unwrap())
        );
        assert_eq!(plan.objectives[1].period.start, d(2, 15));
        let h = &plan.objectives[2];
        assert_eq!(
            h.aligns_to,
            vec![("C-KR1".to_string(), 1.0), ("L-KR1".to_string(), 0.5)]
        );
        let k1 = plan.key_result("H-KR1").unwrap();
        assert_eq!((k1.offset_days, k1.window_start), (5, d(9, 1)));
        assert_eq!(k1.aligns_to.as_deref(), Some("C-KR2"));
        assert_eq!(k1.value_date(d(10, 20)), d(10, 15));
        assert_eq!(plan.key_result("H-KR2").unwrap().offset_days, 12);
        assert_eq!(plan.key_result("H-KR3").unwrap().offset_days, 0);
        assert_eq!(
            plan.key_result("C-KR2").unwrap().rollup,
            Some(Rollup::Average)
        );
        assert!(plan.key_result("C-KR2").unwrap().source.is_none());
    }
}
