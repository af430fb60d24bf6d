//! Parsing a job file into the validated [`super::Plan`]: references resolved, defaults
//! applied and every check that needs no network done. All problems are collected at once,
//! so a user fixes a job file in one pass.

use super::check::{Checker, Spans, check_offset, date};
use super::job::{JobFile, StatusThresholds};
use super::kinds::Kinds;
use super::plan::*;
use super::{JobError, Location, Period, Problem, Severity, line_col};
use std::collections::BTreeMap;
use std::path::Path;

/// Parses and validates a job file's text. `path` is used for messages and to resolve
/// relative URLs.
pub fn parse<K: Kinds>(path: &Path, text: &str) -> Result<Plan<K::Connection, K::Link>, JobError> {
    let file: JobFile<K::ConnectionConfig, K::SourceConfig> = match toml::from_str(text) {
        Ok(file) => file,
        Err(e) => {
            // serde stops at the first problem: look at each table on its own for all of them.
            let found = super::diagnose::diagnose::<K>(text);
            if found.is_empty() {
                let (line, column) = e.span().map_or((1, 1), |s| line_col(text, s.start));
                return Err(JobError::Syntax {
                    path: path.to_path_buf(),
                    line,
                    column,
                    message: e.message().trim().to_string(),
                });
            }
            return Err(JobError::Invalid {
                path: path.to_path_buf(),
                problems: found
                    .into_iter()
                    .map(|f| Problem {
                        severity: Severity::Error,
                        file: path.to_path_buf(),
                        line: f.span.map(|s| line_col(text, s.start)),
                        subject: f.subject,
                        message: f.message,
                    })
                    .collect(),
                warnings: Vec::new(),
            });
        }
    };
    let base_dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
    let mut c = Checker {
        path,
        text,
        problems: Vec::new(),
    };

    let job_name = file.job.name.get_ref().trim().to_string();
    if job_name.is_empty() {
        c.error(file.job.name.span(), None, "job name is empty");
    }
    let fiscal_year_start_month = file
        .job
        .fiscal_year_start_month
        .as_ref()
        .map_or(super::job::Defaults::FISCAL_YEAR_START_MONTH, |m| {
            *m.get_ref()
        });
    if let Some(m) = &file.job.fiscal_year_start_month
        && !(1..=12).contains(&fiscal_year_start_month)
    {
        c.error(
            m.span(),
            None,
            format!("fiscal_year_start_month must be 1 to 12, not {fiscal_year_start_month}"),
        );
    }
    let thresholds = file
        .job
        .status
        .as_ref()
        .map_or_else(StatusThresholds::default, |s| *s.get_ref());
    if thresholds.at_risk_below > thresholds.behind_below {
        c.error(
            file.job.status.as_ref().map_or(0..0, |s| s.span()),
            None,
            format!(
                "status.at_risk_below ({}) must not be above status.behind_below ({})",
                thresholds.at_risk_below, thresholds.behind_below
            ),
        );
    }

    let output = match Location::parse(file.output.url.get_ref(), &base_dir, &file.output.s3()) {
        Ok(l) => Some(l),
        Err(e) => {
            c.error(file.output.url.span(), Some("output".into()), e);
            None
        }
    };

    let health_max_age_days = file
        .job
        .health_max_age_days
        .as_ref()
        .map_or(super::job::Defaults::HEALTH_MAX_AGE_DAYS, |d| *d.get_ref());
    if let Some(d) = &file.job.health_max_age_days
        && health_max_age_days == 0
    {
        c.error(d.span(), None, "health_max_age_days must be 1 or more");
    }

    let bounds = bounds(&mut c, &file.job);

    let mut periods = BTreeMap::new();
    for (name, p) in &file.periods {
        if let Some(period) = custom_period(&mut c, name, p, fiscal_year_start_month) {
            periods.insert(name.clone(), period);
        }
    }

    let mut connections = BTreeMap::new();
    let mut offsets = BTreeMap::new();
    for (name, conn) in &file.connections {
        let subject = Some(format!("connection {name}"));
        if let Some(days) = conn.get_ref().offset_days {
            if let Err(e) = check_offset(days) {
                c.error(conn.span(), subject.clone(), e);
            }
            offsets.insert(name.clone(), days);
        }
        match K::connection(&conn.get_ref().kind, &base_dir) {
            Ok(resolved) => {
                for w in resolved.warnings {
                    c.warn(Some(conn.span()), subject.clone(), w);
                }
                connections.insert(name.clone(), resolved.value);
            }
            Err(problems) => {
                for p in problems {
                    c.error(conn.span(), subject.clone(), p);
                }
            }
        }
    }
    for (name, problem) in K::bind(&mut connections) {
        let span = file.connections.get(&name).map_or(0..0, |c| c.span());
        c.error(span, Some(format!("connection {name}")), problem);
    }
    let context = super::key_result::Context::<K> {
        connections: &connections,
        offsets: &offsets,
    };

    let mut objectives = Vec::new();
    let mut key_results = Vec::new();
    let mut spans = Spans::default();

    for o in &file.objectives {
        let id = o.id.get_ref().trim().to_string();
        let subject = Some(format!("objective {id}"));
        if id.is_empty() {
            c.error(o.id.span(), None, "objective id is empty");
        }
        if let Some(first) = spans.objectives.get(&id) {
            let (line, _) = line_col(text, first.start);
            c.error(
                o.id.span(),
                subject.clone(),
                format!("duplicate objective id (first defined on line {line})"),
            );
        } else {
            spans.objectives.insert(id.clone(), o.id.span());
        }
        let period = match Period::parse(o.period.get_ref(), fiscal_year_start_month, &periods) {
            Ok(p) => p,
            Err(e) => {
                c.error(o.period.span(), subject.clone(), e);
                continue;
            }
        };
        if o.owner.as_deref().is_none_or(|s| s.trim().is_empty()) {
            c.warn(Some(o.id.span()), subject.clone(), "objective has no owner");
        }
        let mut aligns_to: Vec<(String, f64)> = Vec::new();
        if let Some(a) = &o.aligns_to {
            spans.objective_alignments.insert(id.clone(), a.span());
            for parent in a.get_ref().parents() {
                let contribution = parent.contribution();
                if !(contribution >= 0.0 && contribution.is_finite()) {
                    c.error(
                        a.span(),
                        subject.clone(),
                        format!("contribution must be 0 or more, not {contribution}"),
                    );
                }
                let kr = parent.key_result.trim().to_string();
                if aligns_to.iter().any(|(k, _)| *k == kr) {
                    c.error(a.span(), subject.clone(), format!("aligns to `{kr}` twice"));
                }
                aligns_to.push((kr, contribution));
            }
        }
        if o.key_results.len() > 3 {
            c.warn(
                Some(o.id.span()),
                subject.clone(),
                format!(
                    "{} key results; three or fewer keep an objective focused",
                    o.key_results.len()
                ),
            );
        }
        for kr in &o.key_results {
            if let Some(k) =
                super::key_result::key_result(&mut c, &context, kr, &id, &period, &mut spans)
            {
                key_results.push(k);
            }
        }
        objectives.push(Objective {
            id,
            title: o.title.clone(),
            owner: o.owner.clone().filter(|s| !s.trim().is_empty()),
            level: o.level,
            period,
            aligns_to,
            status_rule: o.objective_status.unwrap_or(file.job.objective_status),
        });
    }

    super::tree::check_tree(&mut c, &objectives, &key_results, &spans);

    let mut notify = Vec::new();
    if let Some(section) = &file.notify {
        let n = section.get_ref();
        for (channel, target) in [("slack", &n.slack), ("teams", &n.teams)] {
            let Some(target) = target else { continue };
            let span = target.span();
            let target = target.get_ref();
            let var = target.webhook_url_env.trim();
            let subject = Some(format!("notify.{channel}"));
            if var.is_empty() {
                c.error(span.clone(), subject, "webhook_url_env is empty");
                continue;
            }
            if std::env::var_os(var).is_none() {
                c.warn(
                    Some(span.clone()),
                    subject,
                    format!(
                        "environment variable {var} is not set: `run` will not post to {channel}"
                    ),
                );
            }
            notify.push((channel, target.clone()));
        }
    }

    let (errors, warnings): (Vec<_>, Vec<_>) = c
        .problems
        .into_iter()
        .partition(|p| p.severity == Severity::Error);
    if !errors.is_empty() {
        return Err(JobError::Invalid {
            path: path.to_path_buf(),
            problems: errors,
            warnings,
        });
    }
    let definitions = kr_definitions(text);
    for kr in &mut key_results {
        kr.definition = definitions.get(&kr.id).cloned().unwrap_or_default();
    }
    Ok(Plan {
        job_name,
        job_path: path.to_path_buf(),
        job_text: text.to_string(),
        fiscal_year_start_month,
        thresholds,
        health_max_age_days,
        bounds,
        output: output.expect("an output error was reported above"),
        connections,
        objectives,
        key_results,
        notify,
        warnings,
    })
}

/// Validates `[job] memory_limit_mib` (64 MiB to 1 TiB) and `query_timeout_secs` (a second
/// to a day).
fn bounds(c: &mut Checker<'_>, job: &super::job::JobSection) -> Bounds {
    let mut bounds = Bounds::default();
    if let Some(m) = &job.memory_limit_mib {
        match *m.get_ref() {
            n @ 64..=1_048_576 => bounds.memory_limit_mib = n,
            n => c.error(
                m.span(),
                None,
                format!("memory_limit_mib must be 64 to 1048576 (1 TiB), not {n}"),
            ),
        }
    }
    if let Some(t) = &job.query_timeout_secs {
        match *t.get_ref() {
            n @ 1..=86_400 => bounds.query_timeout_secs = n,
            n => c.error(
                t.span(),
                None,
                format!("query_timeout_secs must be 1 to 86400 (a day), not {n}"),
            ),
        }
    }
    bounds
}

/// Validates `[periods.NAME]`.
fn custom_period(
    c: &mut Checker<'_>,
    name: &str,
    p: &toml::Spanned<super::job::PeriodConfig>,
    fiscal_year_start_month: u32,
) -> Option<Period> {
    let subject = Some(format!("period {name}"));
    if Period::fiscal(name, fiscal_year_start_month).is_ok()
        || name.trim().is_empty()
        || name.trim() != name
    {
        c.error(
            p.span(),
            subject,
            format!("`{name}` cannot name a custom period: it is empty, padded or a fiscal label"),
        );
        return None;
    }
    let start = date(
        c,
        &toml::Spanned::new(p.span(), p.get_ref().start),
        &subject,
        "start",
    );
    let end = date(
        c,
        &toml::Spanned::new(p.span(), p.get_ref().end),
        &subject,
        "end",
    );
    let (start, end) = (start?, end?);
    if end < start {
        c.error(
            p.span(),
            subject,
            format!("ends ({end}) before it starts ({start})"),
        );
        return None;
    }
    Some(Period {
        label: name.to_string(),
        start,
        end,
    })
}

/// Each key result's definition text by id: its table from the job file, re-serialised
/// (so comments and layout do not change it) under its objective's id and period.
fn kr_definitions(text: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let Ok(file) = text.parse::<toml::Table>() else {
        return out;
    };
    let objectives = file.get("objectives").and_then(|o| o.as_array());
    for objective in objectives.into_iter().flatten() {
        let Some(objective) = objective.as_table() else {
            continue;
        };
        let krs = objective.get("key_results").and_then(|k| k.as_array());
        for kr in krs.into_iter().flatten() {
            let Some(id) = kr.get("id").and_then(|i| i.as_str()) else {
                continue;
            };
            let mut definition = toml::Table::new();
            for key in ["id", "period"] {
                if let Some(v) = objective.get(key) {
                    definition.insert(format!("objective_{key}"), v.clone());
                }
            }
            definition.insert("key_result".into(), kr.clone());
            out.insert(
                id.trim().to_string(),
                toml::to_string(&definition).unwrap_or_default(),
            );
        }
    }
    out
}
/// What the model's unit tests share: a job head and parsing helpers.
#[cfg(test)]
pub(super) mod test_support {
    use super::*;

    pub const HEAD: &str = r#"
[job]
name = "t"
fiscal_year_start_month = 2

[output]
url = "out"

[connections.tallyfy]
kind = "tallyfy"
url = "data"
"#;

    pub fn parse_str(body: &str) -> Result<crate::sources::Plan, JobError> {
        parse::<crate::sources::Registry>(Path::new("jobs/t.toml"), &format!("{HEAD}{body}"))
    }

    pub fn errors(body: &str) -> Vec<String> {
        match parse_str(body) {
            Err(JobError::Invalid { problems, .. }) => {
                problems.iter().map(|p| p.to_string()).collect()
            }
            Err(other) => vec![other.to_string()],
            Ok(_) => vec![],
        }
    }

    pub const KR_SQL: &str =
        r#"source = { tallyfy = { sql = "SELECT count(*) FROM tallyfy_processes" } }"#;
}

#[cfg(test)]
mod tests {
    use super::test_support::*;
    use super::*;
    use chrono::NaiveDate;
    use std::path::PathBuf;

    #[test]
    fn a_valid_tree_resolves_defaults_and_connections() {
        let plan = parse_str(&format!(
            r#"
[[objectives]]
id = "C1"
title = "Company"
owner = "ceo"
level = "company"
period = "FY27-Q1"
[[objectives.key_results]]
id = "C1-KR1"
title = "Teams deliver"
owner = "ceo"
measure = {{ aligned = {{}} }}

[[objectives]]
id = "O1"
title = "Team"
owner = "ops"
period = "FY27-Q1"
aligns_to = {{ key_result = "C1-KR1", contribution = 0.5 }}
[[objectives.key_results]]
id = "O1-KR1"
title = "Do things"
owner = "dana"
measure = {{ kpi = {{ start = 0, target = 120 }} }}
due = 2026-04-15
late_penalty = {{ per_week = 0.1 }}
{KR_SQL}
"#
        ))
        .unwrap();
        assert!(plan.warnings.is_empty(), "{:?}", plan.warnings);
        let kr = plan.key_result("O1-KR1").unwrap();
        assert_eq!(
            kr.measure,
            Measure::Kpi {
                start: 0.0,
                target: 120.0,
                phases: vec![]
            }
        );
        assert_eq!(kr.due, NaiveDate::from_ymd_opt(2026, 4, 15).unwrap());
        assert_eq!(kr.late_penalty, LatePenalty::PerWeek(0.1));
        assert_eq!(kr.source.as_ref().unwrap().connection(), "tallyfy");
        assert_eq!(
            plan.key_result("C1-KR1").unwrap().due,
            NaiveDate::from_ymd_opt(2026, 4, 30).unwrap()
        );
        assert_eq!(
            plan.objectives[1].aligns_to,
            vec![("C1-KR1".to_string(), 0.5)]
        );
        assert_eq!(plan.output, Location::Local(PathBuf::from("jobs/out")));
        assert_eq!(
            plan.thresholds,
            StatusThresholds {
                behind_below: 0.0,
                at_risk_below: -0.25
            }
        );
    }
    #[test]
    fn unknown_keys_are_errors_with_line_and_column() {
        let err = parse_str(
            "[[objectives]]\nid = \"O1\"\ntitle = \"x\"\nperiod = \"FY27-Q1\"\ncolour = \"red\"\n",
        )
        .unwrap_err();
        let msg = err.to_string();
        // HEAD takes lines 1-11; `colour` is the fifth line of the body.
        assert!(
            msg.contains("jobs/t.toml:16:1: error: objective O1: unknown field `colour`"),
            "{msg}"
        );
    }

    #[test]
    fn every_unknown_field_of_the_file_is_reported_at_once() {
        let err = parse_str(
            "[[objectives]]\nid = \"O1\"\ntitel = \"x\"\ntitle = \"x\"\nperiod = \"FY27-Q1\"\n\
             [[objectives.key_results]]\nid = \"K1\"\ntitle = \"t\"\nmesure = { kpi = { start = 0, target = 1 } }\n",
        )
        .unwrap_err();
        let msg = err.to_string();
        assert!(
            msg.starts_with("job file jobs/t.toml has 3 error(s):"),
            "{msg}"
        );
        assert!(
            msg.contains("jobs/t.toml:14:1: error: objective O1: unknown field `titel`"),
            "{msg}"
        );
        assert!(
            msg.contains("jobs/t.toml:20:1: error: key result K1: unknown field `mesure`"),
            "{msg}"
        );
        assert!(
            msg.contains("error: key result K1: missing field `measure`"),
            "{msg}"
        );
    }
    #[test]
    fn reference_errors_are_all_reported_at_once() {
        let errs = errors(
            r#"
[[objectives]]
id = "O1"
title = "x"
owner = "o"
period = "FY27-Q9"

[[objectives]]
id = "O2"
title = "y"
owner = "o"
period = "FY27-Q1"
[[objectives.key_results]]
id = "K1"
title = "t"
owner = "o"
measure = { percent_complete = {} }
source = { tallyfy = { connection = "nope", sql = "SELECT 1" } }
[[objectives.key_results]]
id = "K1"
title = "t"
owner = "o"
measure = { percent_complete = {} }
source = { tallyfy = { sql = "DELETE FROM tallyfy_processes" } }
"#,
        );
        assert_eq!(errs.len(), 4, "{errs:#?}");
        assert!(
            errs[0].contains("objective O1: period `FY27-Q9`"),
            "{}",
            errs[0]
        );
        assert!(
            errs[1].contains("key result K1: unknown connection `nope` (the job defines: tallyfy)"),
            "{}",
            errs[1]
        );
        assert!(
            errs[2].contains("key result K1: duplicate key result id (first defined on line 25)"),
            "{}",
            errs[2]
        );
        assert!(errs[3].contains("only a single SELECT"), "{}", errs[3]);
    }
}
