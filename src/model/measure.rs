//! A key result's `measure` validated: a KPI with its phases, percent complete, milestones, a
//! threshold (guardrail) or aligned.

use super::check::{Checker, date};
use super::job::{KeyResultConfig, MeasureConfig};
use super::{Measure, Milestone, Phase, Threshold};
use chrono::NaiveDate;
use std::ops::Range;

/// Validates a key result's measure; phases are checked against its window.
pub(super) fn measure<S>(
    c: &mut Checker<'_>,
    kr: &KeyResultConfig<S>,
    subject: &Option<String>,
    window_start: NaiveDate,
    due: NaiveDate,
) -> Measure {
    let mspan = kr.measure.span();
    match kr.measure.get_ref() {
        MeasureConfig::Kpi {
            start,
            target,
            phases,
        } => {
            if start == target {
                c.error(
                    mspan.clone(),
                    subject.clone(),
                    format!("target equals start ({start}): progress would divide by zero"),
                );
            }
            if !start.is_finite() || !target.is_finite() {
                c.error(
                    mspan.clone(),
                    subject.clone(),
                    "start and target must be finite numbers",
                );
            }
            Measure::Kpi {
                start: *start,
                target: *target,
                phases: phased(
                    c,
                    mspan,
                    subject,
                    phases,
                    (*start, *target),
                    (window_start, due),
                ),
            }
        }
        MeasureConfig::PercentComplete {} => Measure::PercentComplete,
        MeasureConfig::Aligned {} => Measure::Aligned,
        MeasureConfig::Threshold(t) => {
            let (threshold, problem) = match (t.above, t.below) {
                (Some(v), None) => (Threshold::Above(v), (!v.is_finite()).then_some("above")),
                (None, Some(v)) => (Threshold::Below(v), (!v.is_finite()).then_some("below")),
                _ => {
                    c.error(
                        mspan.clone(),
                        subject.clone(),
                        "a threshold takes one of `above` or `below`: { threshold = { above = 99.0 } }",
                    );
                    (Threshold::Above(0.0), None)
                }
            };
            if let Some(side) = problem {
                c.error(
                    mspan.clone(),
                    subject.clone(),
                    format!("threshold.{side} must be a finite number"),
                );
            }
            Measure::Threshold(threshold)
        }
        MeasureConfig::Milestones(list) => {
            if list.is_empty() {
                c.error(
                    mspan.clone(),
                    subject.clone(),
                    "the milestone table is empty",
                );
            }
            let mut out: Vec<Milestone> = Vec::new();
            for (i, m) in list.iter().enumerate() {
                let at = m.at.unwrap_or((i + 1) as f64);
                if !(m.progress > 0.0 && m.progress <= 1.0) {
                    c.error(
                        mspan.clone(),
                        subject.clone(),
                        format!(
                            "milestone `{}`: progress must be above 0 and at most 1, not {}",
                            m.title, m.progress
                        ),
                    );
                }
                if let Some(prev) = out.last()
                    && (at <= prev.at || m.progress <= prev.progress)
                {
                    c.error(
                        mspan.clone(),
                        subject.clone(),
                        format!(
                            "milestone `{}` must come after `{}` in both `at` and `progress`",
                            m.title, prev.title
                        ),
                    );
                }
                out.push(Milestone {
                    title: m.title.clone(),
                    at,
                    progress: m.progress,
                });
            }
            Measure::Milestones(out)
        }
    }
}

/// Validates phased targets: in date order, inside the window (on or after its first day,
/// before the due date) and between start and target.
fn phased(
    c: &mut Checker<'_>,
    span: Range<usize>,
    subject: &Option<String>,
    phases: &[super::job::PhaseConfig],
    (start, target): (f64, f64),
    (window_start, due): (NaiveDate, NaiveDate),
) -> Vec<Phase> {
    let mut out: Vec<Phase> = Vec::new();
    for p in phases {
        let Some(on) = date(
            c,
            &toml::Spanned::new(span.clone(), p.on),
            subject,
            "a phase's `on`",
        ) else {
            continue;
        };
        let (low, high) = (start.min(target), start.max(target));
        if !(p.target >= low && p.target <= high) {
            c.error(
                span.clone(),
                subject.clone(),
                format!(
                    "phase on {on}: target {} is not between start ({start}) and target ({target})",
                    p.target
                ),
            );
        }
        if on < window_start || on >= due {
            c.error(
                span.clone(),
                subject.clone(),
                format!(
                    "phase on {on} is outside the key result's window ({window_start} to the day before its due date {due})"
                ),
            );
        }
        if let Some(prev) = out.last()
            && on <= prev.on
        {
            c.error(
                span.clone(),
                subject.clone(),
                format!("phase on {on} must come after the phase on {}", prev.on),
            );
        }
        out.push(Phase {
            on,
            target: p.target,
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::super::parse::test_support::*;
    use super::*;

    #[test]
    fn target_equal_to_start_names_the_key_result_and_line() {
        let errs = errors(&format!(
            "[[objectives]]\nid = \"O1\"\ntitle = \"x\"\nowner = \"o\"\nperiod = \"FY27-Q1\"\n[[objectives.key_results]]\nid = \"O1-KR1\"\ntitle = \"t\"\nowner = \"o\"\nmeasure = {{ kpi = {{ start = 5, target = 5 }} }}\n{KR_SQL}\n"
        ));
        assert_eq!(errs.len(), 1, "{errs:?}");
        assert!(
            errs[0].starts_with(
                "jobs/t.toml:21:11: error: key result O1-KR1: target equals start (5)"
            ),
            "{}",
            errs[0]
        );
    }

    #[test]
    fn milestones_take_positions_by_default_and_must_ascend() {
        let kr = |m: &str| {
            format!(
                "[[objectives]]\nid = \"O\"\ntitle = \"x\"\nowner = \"o\"\nperiod = \"FY27-Q1\"\n[[objectives.key_results]]\nid = \"K\"\ntitle = \"t\"\nowner = \"o\"\nmeasure = {{ milestones = {m} }}\n{KR_SQL}\n"
            )
        };
        let plan = parse_str(&kr(
            r#"[{ title = "a", progress = 0.2 }, { title = "b", progress = 0.4 }]"#,
        ))
        .unwrap();
        let Measure::Milestones(m) = &plan.key_results[0].measure else {
            panic!()
        };
        assert_eq!((m[0].at, m[1].at), (1.0, 2.0));
        let errs = errors(&kr(
            r#"[{ title = "a", progress = 0.6 }, { title = "b", progress = 0.4 }]"#,
        ));
        assert!(
            errs[0].contains("milestone `b` must come after `a`"),
            "{errs:?}"
        );
    }

    #[test]
    fn a_threshold_takes_above_or_below_and_no_late_penalty() {
        let kr = |m: &str, extra: &str| {
            format!(
                "[[objectives]]\nid = \"O\"\ntitle = \"x\"\nowner = \"o\"\nperiod = \"FY27-Q1\"\n[[objectives.key_results]]\nid = \"K\"\ntitle = \"t\"\nowner = \"o\"\nmeasure = {{ threshold = {m} }}\n{extra}{KR_SQL}\n"
            )
        };
        let plan = parse_str(&kr("{ above = 99.0 }", "")).unwrap();
        assert_eq!(
            plan.key_results[0].measure,
            Measure::Threshold(Threshold::Above(99.0))
        );
        assert_eq!(plan.key_results[0].measure.kind(), "threshold");
        let plan = parse_str(&kr("{ below = 5 }", "")).unwrap();
        assert_eq!(
            plan.key_results[0].measure,
            Measure::Threshold(Threshold::Below(5.0))
        );
        for both in ["{ above = 1, below = 5 }", "{}"] {
            let errs = errors(&kr(both, ""));
            assert_eq!(errs.len(), 1, "{errs:?}");
            assert!(
                errs[0].contains("key result K: a threshold takes one of `above` or `below`"),
                "{errs:?}"
            );
        }
        let errs = errors(&kr("{ at = 5 }", ""));
        assert!(errs[0].contains("unknown field `at`"), "{errs:?}");
        let errs = errors(&kr("{ below = 5 }", "late_penalty = { per_week = 0.1 }\n"));
        assert_eq!(errs.len(), 1, "{errs:?}");
        assert!(
            errs[0].contains("key result K: a threshold (guardrail) key result is never done early or late: it takes no late_penalty"),
            "{errs:?}"
        );
    }
}
