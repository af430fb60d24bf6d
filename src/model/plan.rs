//! The validated plan: the job file with references resolved, defaults applied and every
//! check that needs no network done. All problems are collected at once, so a user fixes a
//! job file in one pass.

use super::job::{
    JobFile, LatePenaltyConfig, Level, MeasureConfig, ObjectiveStatusRule, S3Options,
    StatusThresholds,
};
use super::kinds::Kinds;
use super::{JobError, Period, Problem, Severity, line_col};
use chrono::NaiveDate;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::ops::Range;
use std::path::{Path, PathBuf};

/// A place data is read from or written to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    /// A local folder (absolute, or relative to the working directory).
    Local(PathBuf),
    /// An S3 prefix.
    S3(S3Location),
}

/// An S3 prefix and how to reach it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct S3Location {
    pub bucket: String,
    /// The prefix inside the bucket, without leading or trailing `/` (may be empty).
    pub prefix: String,
    pub profile: Option<String>,
    pub region: Option<String>,
    pub access_key_id_env: Option<String>,
    pub secret_access_key_env: Option<String>,
}

impl std::fmt::Display for S3Location {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "s3://{}/{}", self.bucket, self.prefix)
    }
}

impl std::fmt::Display for Location {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Location::Local(p) => write!(f, "{}", p.display()),
            Location::S3(s) => s.fmt(f),
        }
    }
}

impl Location {
    /// Resolves a job-file `url` against the job file's folder; `s3` says how an `s3://`
    /// url is reached.
    pub fn parse(url: &str, base_dir: &Path, s3: &S3Options) -> Result<Location, String> {
        let url = url.trim();
        if url.is_empty() {
            return Err("url is empty".into());
        }
        let s3_given = s3 != &S3Options::default();
        if let Some(rest) = url.strip_prefix("s3://") {
            let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
            if bucket.is_empty() {
                return Err(format!("url `{url}` has no bucket"));
            }
            if s3.access_key_id_env.is_some() != s3.secret_access_key_env.is_some() {
                return Err("access_key_id_env and secret_access_key_env go together".into());
            }
            return Ok(Location::S3(S3Location {
                bucket: bucket.to_string(),
                prefix: prefix.trim_matches('/').to_string(),
                profile: s3.profile.clone(),
                region: s3.region.clone(),
                access_key_id_env: s3.access_key_id_env.clone(),
                secret_access_key_env: s3.secret_access_key_env.clone(),
            }));
        }
        if s3_given {
            return Err(format!(
                "profile, region and the access key variables apply to s3:// urls only, not `{url}`"
            ));
        }
        if let Some((scheme, _)) = url.split_once("://") {
            if scheme == "file" {
                return Ok(Location::Local(PathBuf::from(&url["file://".len()..])));
            }
            return Err(format!(
                "url `{url}`: use a local folder or s3://bucket/prefix/ (`{scheme}://` is not supported)"
            ));
        }
        let path = Path::new(url);
        Ok(Location::Local(normalise(&if path.is_absolute() {
            path.to_path_buf()
        } else {
            base_dir.join(path)
        })))
    }
}

/// `path` without `.` components and with each `name/..` pair removed, as people write it
/// (`jobs/../out` is `out`). Lexical: the folder need not exist yet. A `..` that climbs above
/// a relative path's start is kept; an empty result is `.`.
pub fn normalise(path: &Path) -> PathBuf {
    use std::path::Component;
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => match out.components().next_back() {
                Some(Component::Normal(_)) => {
                    out.pop();
                }
                Some(Component::RootDir | Component::Prefix(_)) => {}
                _ => out.push(".."),
            },
            other => out.push(other),
        }
    }
    if out.as_os_str().is_empty() {
        out.push(".");
    }
    out
}

/// An objective of the OKR tree.
#[derive(Debug, Clone, PartialEq)]
pub struct Objective {
    pub id: String,
    pub title: String,
    pub owner: Option<String>,
    pub level: Level,
    pub period: Period,
    /// The key result this objective contributes to, and with which weight.
    pub aligns_to: Option<(String, f64)>,
    /// How its status is computed: its own, or the job's default.
    pub status_rule: ObjectiveStatusRule,
}

/// How a key result's value becomes progress.
#[derive(Debug, Clone, PartialEq)]
pub enum Measure {
    /// From `start` to `target` (either direction).
    Kpi { start: f64, target: f64 },
    /// The value is a percentage, 0 to 100.
    PercentComplete,
    /// The highest milestone whose `at` the value reaches.
    Milestones(Vec<Milestone>),
    /// The contribution-weighted progress of the objectives aligned to this key result.
    Aligned,
}

impl Measure {
    /// The measure's name in the job file and in the output.
    pub fn kind(&self) -> &'static str {
        match self {
            Measure::Kpi { .. } => "kpi",
            Measure::PercentComplete => "percent_complete",
            Measure::Milestones(_) => "milestones",
            Measure::Aligned => "aligned",
        }
    }
}

/// One row of a milestone table.
#[derive(Debug, Clone, PartialEq)]
pub struct Milestone {
    pub title: String,
    pub at: f64,
    pub progress: f64,
}

/// What happens to the score after the due date.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum LatePenalty {
    None,
    /// Points of 1.0 taken off for every started week past the due date.
    PerWeek(f64),
    /// Score 0 when not done by the due date.
    ZeroIfMissed,
}

/// Where a key result's value comes from: a connection, and what to read from it (`L`, a
/// source kind's validated `source`).
#[derive(Debug, Clone, PartialEq)]
pub struct KrSource<L> {
    /// The source kind (`tallyfy`, …).
    pub kind: &'static str,
    /// The connection name.
    pub connection: String,
    pub link: L,
}

impl<L> KrSource<L> {
    /// The source kind (`tallyfy`, …).
    pub fn kind(&self) -> &'static str {
        self.kind
    }

    /// The connection name.
    pub fn connection(&self) -> &str {
        &self.connection
    }
}

/// A key result with everything resolved.
#[derive(Debug, Clone, PartialEq)]
pub struct KeyResult<L> {
    pub id: String,
    pub objective_id: String,
    pub title: String,
    pub owner: Option<String>,
    pub measure: Measure,
    pub weight: f64,
    pub period: Period,
    /// Due date: the one in the job file, or the last day of the period.
    pub due: NaiveDate,
    pub late_penalty: LatePenalty,
    /// `None` only for [`Measure::Aligned`].
    pub source: Option<KrSource<L>>,
    /// The key result's table as written in the job file, with its objective's id and
    /// period: recorded (text and hash) with each snapshot, so a reader can tell which
    /// definition produced a number.
    pub definition: String,
    /// The line of the key result's `source` in the job file (1-based), for messages about
    /// its SQL or selection found after parsing.
    pub source_line: Option<usize>,
}

impl<L> KeyResult<L> {
    /// The day the key result is evaluated on: see [`Period::evaluation_date`].
    pub fn evaluation_date(&self, as_of: NaiveDate) -> NaiveDate {
        self.period.evaluation_date(as_of)
    }
}

/// A validated job, ready to run: `C` are its connections and `L` what its key results read
/// from them, as the source kinds define them.
#[derive(Debug, Clone)]
pub struct Plan<C, L> {
    pub job_name: String,
    pub job_path: PathBuf,
    /// The job file's text, recorded with each run.
    pub job_text: String,
    pub fiscal_year_start_month: u32,
    pub thresholds: StatusThresholds,
    /// Days after which a key result's newest health check-in is overdue.
    pub health_max_age_days: u32,
    pub output: Location,
    pub connections: BTreeMap<String, C>,
    pub objectives: Vec<Objective>,
    pub key_results: Vec<KeyResult<L>>,
    /// OKR-practice findings that do not stop the job.
    pub warnings: Vec<Problem>,
}

impl<C, L> Plan<C, L> {
    /// The key result with this id.
    pub fn key_result(&self, id: &str) -> Option<&KeyResult<L>> {
        self.key_results.iter().find(|k| k.id == id)
    }

    /// The key results' ids, comma-separated, for messages about an unknown one.
    pub fn key_result_ids(&self) -> String {
        self.key_results
            .iter()
            .map(|k| k.id.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// Collects problems while the plan is built.
struct Checker<'a> {
    path: &'a Path,
    text: &'a str,
    problems: Vec<Problem>,
}

impl Checker<'_> {
    fn push(
        &mut self,
        severity: Severity,
        span: Option<Range<usize>>,
        subject: Option<String>,
        message: String,
    ) {
        self.problems.push(Problem {
            severity,
            file: self.path.to_path_buf(),
            line: span.map(|s| line_col(self.text, s.start)),
            subject,
            message,
        });
    }
    fn error(
        &mut self,
        span: Range<usize>,
        subject: impl Into<Option<String>>,
        message: impl Into<String>,
    ) {
        self.push(Severity::Error, Some(span), subject.into(), message.into());
    }
    fn warn(
        &mut self,
        span: Option<Range<usize>>,
        subject: impl Into<Option<String>>,
        message: impl Into<String>,
    ) {
        self.push(Severity::Warning, span, subject.into(), message.into());
    }
}

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

    let mut connections = BTreeMap::new();
    for (name, conn) in &file.connections {
        let subject = Some(format!("connection {name}"));
        match K::connection(conn.get_ref(), &base_dir) {
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

    let mut objectives = Vec::new();
    let mut key_results = Vec::new();
    let mut objective_spans: HashMap<String, Range<usize>> = HashMap::new();
    let mut kr_spans: HashMap<String, Range<usize>> = HashMap::new();
    let mut alignment_spans: HashMap<String, Range<usize>> = HashMap::new();

    for o in &file.objectives {
        let id = o.id.get_ref().trim().to_string();
        let subject = Some(format!("objective {id}"));
        if id.is_empty() {
            c.error(o.id.span(), None, "objective id is empty");
        }
        if let Some(first) = objective_spans.get(&id) {
            let (line, _) = line_col(text, first.start);
            c.error(
                o.id.span(),
                subject.clone(),
                format!("duplicate objective id (first defined on line {line})"),
            );
        } else {
            objective_spans.insert(id.clone(), o.id.span());
        }
        let period = match Period::parse(o.period.get_ref(), fiscal_year_start_month) {
            Ok(p) => p,
            Err(e) => {
                c.error(o.period.span(), subject.clone(), e);
                continue;
            }
        };
        if o.owner.as_deref().is_none_or(|s| s.trim().is_empty()) {
            c.warn(Some(o.id.span()), subject.clone(), "objective has no owner");
        }
        let aligns_to = o.aligns_to.as_ref().map(|a| {
            let cfg = a.get_ref();
            if !(cfg.contribution >= 0.0 && cfg.contribution.is_finite()) {
                c.error(
                    a.span(),
                    subject.clone(),
                    format!("contribution must be 0 or more, not {}", cfg.contribution),
                );
            }
            alignment_spans.insert(id.clone(), a.span());
            (cfg.key_result.trim().to_string(), cfg.contribution)
        });
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
            if let Some(k) = key_result::<K>(&mut c, kr, &id, &period, &connections, &mut kr_spans)
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

    check_tree(
        &mut c,
        &objectives,
        &key_results,
        &objective_spans,
        &alignment_spans,
        &kr_spans,
    );

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
        output: output.expect("an output error was reported above"),
        connections,
        objectives,
        key_results,
        warnings,
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

/// Validates one key result; `None` when it has errors (already recorded).
fn key_result<K: Kinds>(
    c: &mut Checker<'_>,
    kr: &super::job::KeyResultConfig<K::SourceConfig>,
    objective_id: &str,
    period: &Period,
    connections: &BTreeMap<String, K::Connection>,
    kr_spans: &mut HashMap<String, Range<usize>>,
) -> Option<KeyResult<K::Link>> {
    let before = c
        .problems
        .iter()
        .filter(|p| p.severity == Severity::Error)
        .count();
    let id = kr.id.get_ref().trim().to_string();
    let subject = Some(format!("key result {id}"));
    if id.is_empty() {
        c.error(kr.id.span(), None, "key result id is empty");
    }
    if let Some(first) = kr_spans.get(&id) {
        let (line, _) = line_col(c.text, first.start);
        c.error(
            kr.id.span(),
            subject.clone(),
            format!("duplicate key result id (first defined on line {line})"),
        );
    } else {
        kr_spans.insert(id.clone(), kr.id.span());
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

    let mspan = kr.measure.span();
    let measure = match kr.measure.get_ref() {
        MeasureConfig::Kpi { start, target } => {
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
            }
        }
        MeasureConfig::PercentComplete {} => Measure::PercentComplete,
        MeasureConfig::Aligned {} => Measure::Aligned,
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
    };

    let due = match &kr.due {
        None => period.end,
        Some(d) => match d
            .get_ref()
            .date
            .and_then(|t| NaiveDate::from_ymd_opt(t.year.into(), t.month.into(), t.day.into()))
        {
            Some(day) if d.get_ref().time.is_none() => {
                if day < period.start {
                    c.error(
                        d.span(),
                        subject.clone(),
                        format!("due date {day} is before the period starts ({period})"),
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
            _ => {
                c.error(
                    d.span(),
                    subject.clone(),
                    "due must be a date such as 2026-04-15",
                );
                period.end
            }
        },
    };

    let late_penalty = match kr.late_penalty.as_ref().map(|p| (p.span(), *p.get_ref())) {
        None => LatePenalty::None,
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

    let source = match (&measure, &kr.source) {
        (Measure::Aligned, None) => None,
        (Measure::Aligned, Some(s)) => {
            c.error(
                s.span(),
                subject.clone(),
                "an `aligned` key result is measured by its aligned objectives and takes no source",
            );
            None
        }
        (_, None) => {
            c.error(kr.id.span(), subject.clone(), "key result has no `source`");
            None
        }
        (_, Some(s)) => {
            let config = s.get_ref();
            let kind = K::source_kind(config);
            let connection = resolve_connection::<K>(
                c,
                s.span(),
                &subject,
                K::source_connection(config),
                kind,
                connections,
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

    let after = c
        .problems
        .iter()
        .filter(|p| p.severity == Severity::Error)
        .count();
    (after == before).then(|| KeyResult {
        id,
        objective_id: objective_id.to_string(),
        title: kr.title.clone(),
        owner: kr.owner.clone().filter(|s| !s.trim().is_empty()),
        measure,
        weight: kr.weight,
        period: period.clone(),
        due,
        late_penalty,
        source,
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

/// Checks the alignment tree: unknown targets, cycles, and the practice warnings that need the
/// whole job.
fn check_tree<L>(
    c: &mut Checker<'_>,
    objectives: &[Objective],
    key_results: &[KeyResult<L>],
    objective_spans: &HashMap<String, Range<usize>>,
    alignment_spans: &HashMap<String, Range<usize>>,
    kr_spans: &HashMap<String, Range<usize>>,
) {
    let kr_owner: HashMap<&str, &str> = key_results
        .iter()
        .map(|k| (k.id.as_str(), k.objective_id.as_str()))
        .collect();
    // Each objective has at most one parent objective: the owner of the KR it aligns to.
    let mut parent: HashMap<&str, &str> = HashMap::new();
    for o in objectives {
        if let Some((kr, _)) = &o.aligns_to {
            match kr_owner.get(kr.as_str()) {
                Some(p) => {
                    parent.insert(o.id.as_str(), p);
                }
                None => c.error(
                    alignment_spans.get(&o.id).cloned().unwrap_or(0..0),
                    Some(format!("objective {}", o.id)),
                    format!(
                        "aligns to key result `{kr}`, which this job does not define (key results: {})",
                        key_results.iter().map(|k| k.id.as_str()).collect::<Vec<_>>().join(", ")
                    ),
                ),
            }
        }
    }
    let mut reported: HashSet<&str> = HashSet::new();
    for o in objectives {
        let mut seen = vec![o.id.as_str()];
        let mut at = o.id.as_str();
        while let Some(&p) = parent.get(at) {
            if let Some(pos) = seen.iter().position(|s| *s == p) {
                let cycle = &seen[pos..];
                if cycle.iter().all(|s| reported.insert(s)) {
                    let mut path: Vec<&str> = cycle.to_vec();
                    path.push(p);
                    c.error(
                        alignment_spans
                            .get(p)
                            .or_else(|| objective_spans.get(p))
                            .cloned()
                            .unwrap_or(0..0),
                        Some(format!("objective {p}")),
                        format!("alignment cycle: {}", path.join(" → ")),
                    );
                }
                break;
            }
            seen.push(p);
            at = p;
        }
    }
    for k in key_results {
        if k.measure == Measure::Aligned
            && !objectives
                .iter()
                .any(|o| o.aligns_to.as_ref().is_some_and(|(kr, _)| *kr == k.id))
        {
            c.error(
                kr_spans.get(&k.id).cloned().unwrap_or(0..0),
                Some(format!("key result {}", k.id)),
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

#[cfg(test)]
mod tests {
    use super::*;

    const HEAD: &str = r#"
[job]
name = "t"
fiscal_year_start_month = 2

[output]
url = "out"

[connections.tallyfy]
kind = "tallyfy"
url = "data"
"#;

    fn parse_str(body: &str) -> Result<crate::sources::Plan, JobError> {
        parse::<crate::sources::Registry>(Path::new("jobs/t.toml"), &format!("{HEAD}{body}"))
    }

    #[test]
    fn local_paths_are_printed_normalised() {
        let n = |p: &str| normalise(Path::new(p)).display().to_string();
        assert_eq!(n("jobs/../out"), "out");
        assert_eq!(n("./jobs/./demo/../out/"), "jobs/out");
        assert_eq!(n("../x/../../y"), "../../y");
        assert_eq!(n("/a/../../b"), "/b");
        assert_eq!(n("jobs/.."), ".");
        let demo = Location::parse("../out", Path::new("jobs"), &S3Options::default()).unwrap();
        assert_eq!(demo.to_string(), "out");
    }

    fn errors(body: &str) -> Vec<String> {
        match parse_str(body) {
            Err(JobError::Invalid { problems, .. }) => {
                problems.iter().map(|p| p.to_string()).collect()
            }
            Err(other) => vec![other.to_string()],
            Ok(_) => vec![],
        }
    }

    const KR_SQL: &str =
        r#"source = { tallyfy = { sql = "SELECT count(*) FROM tallyfy_processes" } }"#;

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
                target: 120.0
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
            Some(("C1-KR1".to_string(), 0.5))
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
}
