//! The validated plan: the job file with references resolved and defaults applied, as the
//! rest of okrflow reads it ([`super::parse`] builds it).

use super::job::{Level, ObjectiveStatusRule, Rollup, StatusThresholds};
use super::{Location, Period, Problem};
use chrono::{Days, NaiveDate};
use std::collections::BTreeMap;
use std::path::PathBuf;

/// An objective of the OKR tree.
#[derive(Debug, Clone, PartialEq)]
pub struct Objective {
    pub id: String,
    pub title: String,
    pub owner: Option<String>,
    pub level: Level,
    pub period: Period,
    /// The key results this objective contributes to, each with its weight, in the order
    /// written.
    pub aligns_to: Vec<(String, f64)>,
    /// How its status is computed: its own, or the job's default.
    pub status_rule: ObjectiveStatusRule,
}

/// How a key result's value becomes progress.
#[derive(Debug, Clone, PartialEq)]
pub enum Measure {
    /// From `start` to `target` (either direction); expected progress follows `phases` when
    /// there are any, else a straight line.
    Kpi {
        start: f64,
        target: f64,
        phases: Vec<Phase>,
    },
    /// The value is a percentage, 0 to 100.
    PercentComplete,
    /// The highest milestone whose `at` the value reaches.
    Milestones(Vec<Milestone>),
    /// A guardrail: the value must stay at or above (below) a threshold all period.
    Threshold(Threshold),
    /// The contribution-weighted progress of the objectives aligned to this key result.
    Aligned,
}

/// A guardrail's threshold, inclusive.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Threshold {
    /// Holds while the value is at or above it.
    Above(f64),
    /// Holds while the value is at or below it.
    Below(f64),
}

impl Measure {
    /// The measure's name in the job file and in the output.
    pub fn kind(&self) -> &'static str {
        match self {
            Measure::Kpi { .. } => "kpi",
            Measure::PercentComplete => "percent_complete",
            Measure::Milestones(_) => "milestones",
            Measure::Threshold(_) => "threshold",
            Measure::Aligned => "aligned",
        }
    }
}

/// A phased target: the value planned for the end of day `on`.
#[derive(Debug, Clone, PartialEq)]
pub struct Phase {
    pub on: NaiveDate,
    pub target: f64,
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
    /// First day of its window: `starts`, or the first day of the period.
    pub window_start: NaiveDate,
    /// Due date: the one in the job file, or the last day of the period.
    pub due: NaiveDate,
    pub late_penalty: LatePenalty,
    /// `None` for [`Measure::Aligned`] and for a roll-up.
    pub source: Option<KrSource<L>>,
    /// A roll-up: its value is the sum or mean of its children's values.
    pub rollup: Option<Rollup>,
    /// The roll-up key result this one's value adds to.
    pub aligns_to: Option<String>,
    /// Closing-period offset: its value on day D is its source's as of D minus this many
    /// days (0: none).
    pub offset_days: u32,
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

    /// The day its value is read as of for a run as of `as_of`: the evaluation date less the
    /// closing-period offset.
    pub fn value_date(&self, as_of: NaiveDate) -> NaiveDate {
        self.evaluation_date(as_of) - Days::new(u64::from(self.offset_days))
    }
}

/// `[job] memory_limit_mib` and `query_timeout_secs`, validated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bounds {
    /// MiB DataFusion may hold at once, over every query of the run.
    pub memory_limit_mib: u32,
    /// Seconds one key result's query may run.
    pub query_timeout_secs: u32,
}

impl Default for Bounds {
    fn default() -> Self {
        Bounds {
            memory_limit_mib: super::job::Defaults::MEMORY_LIMIT_MIB,
            query_timeout_secs: super::job::Defaults::QUERY_TIMEOUT_SECS,
        }
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
    /// What DataFusion may use: memory for the run, time per key-result query.
    pub bounds: Bounds,
    pub output: Location,
    pub connections: BTreeMap<String, C>,
    pub objectives: Vec<Objective>,
    pub key_results: Vec<KeyResult<L>>,
    /// Where `run` posts its digest: `("slack" | "teams", target)`.
    pub notify: Vec<(&'static str, super::job::NotifyTarget)>,
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
