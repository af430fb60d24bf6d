//! The job file as written: typed serde structures with `deny_unknown_fields`, and every
//! default in one place ([`Defaults`]). [`super::plan`] turns this into a validated plan.

use serde::Deserialize;
use std::collections::BTreeMap;
use toml::Spanned;

/// Every default a job file can leave out.
pub struct Defaults;

impl Defaults {
    /// Fiscal years start in January unless the job says otherwise.
    pub const FISCAL_YEAR_START_MONTH: u32 = 1;
    /// Progress minus expected below which a key result is `behind` (points of 1.0).
    pub const BEHIND_BELOW: f64 = 0.0;
    /// Progress minus expected below which a key result is `at_risk`.
    pub const AT_RISK_BELOW: f64 = -0.25;
    /// Weight of a key result inside its objective.
    pub const KR_WEIGHT: f64 = 1.0;
    /// Contribution of an aligned objective to its parent.
    pub const CONTRIBUTION: f64 = 1.0;
    /// Days after which a key result's newest health check-in is overdue: the monthly
    /// update was missed.
    pub const HEALTH_MAX_AGE_DAYS: u32 = 35;
    /// MiB of memory DataFusion may hold at once for the whole run: half of a 4 GiB
    /// container, the other half left for the tables kept outside DataFusion's accounting
    /// (fetched rows, output batches) and the allocator.
    pub const MEMORY_LIMIT_MIB: u32 = 2048;
    /// Seconds one key result's query may run before it is stopped and fails.
    pub const QUERY_TIMEOUT_SECS: u32 = 300;

    fn behind_below() -> f64 {
        Self::BEHIND_BELOW
    }
    fn at_risk_below() -> f64 {
        Self::AT_RISK_BELOW
    }
    fn kr_weight() -> f64 {
        Self::KR_WEIGHT
    }
    fn contribution() -> f64 {
        Self::CONTRIBUTION
    }
}

/// The whole job file. `C` is a connection's table and `S` a key result's `source`, as the
/// source kinds define them ([`super::Kinds`]).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JobFile<C, S> {
    pub job: JobSection,
    pub output: OutputSection,
    /// Named custom periods (`[periods.launch]`), used as `period = "launch"`.
    #[serde(default = "BTreeMap::new")]
    pub periods: BTreeMap<String, Spanned<PeriodConfig>>,
    #[serde(default = "BTreeMap::new")]
    pub connections: BTreeMap<String, Spanned<ConnectionTable<C>>>,
    #[serde(default = "Vec::new")]
    pub objectives: Vec<ObjectiveConfig<S>>,
    /// `[notify.slack]`, `[notify.teams]`: where `run` posts its digest.
    #[serde(default)]
    pub notify: Option<Spanned<NotifySection>>,
}

/// `[notify]`: a digest after each run, to Slack, to Teams, or both.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NotifySection {
    #[serde(default)]
    pub slack: Option<Spanned<NotifyTarget>>,
    #[serde(default)]
    pub teams: Option<Spanned<NotifyTarget>>,
}

/// `[notify.slack]` or `[notify.teams]`: the webhook and when to post.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NotifyTarget {
    /// The environment variable holding the incoming-webhook URL: a secret, never logged.
    pub webhook_url_env: String,
    #[serde(default)]
    pub when: NotifyWhen,
}

/// When a run posts its digest.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NotifyWhen {
    /// After every run.
    #[default]
    Always,
    /// On the first five business days (Monday to Friday) of a month, by the run's date.
    FirstBusinessDays,
    /// When a key result's status or health differs from the previous committed run's.
    OnChange,
}

/// `[periods.NAME]`: a custom period, both days inclusive.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PeriodConfig {
    pub start: toml::value::Datetime,
    pub end: toml::value::Datetime,
}

/// `[connections.NAME]`: the keys every kind takes, and the kind's own table `C`.
#[derive(Debug, Deserialize)]
pub struct ConnectionTable<C> {
    /// Closing-period offset (1 to 30 days): the connection's key results take the value their
    /// source gives as of this many days before the evaluation date.
    #[serde(default)]
    pub offset_days: Option<u32>,
    #[serde(flatten)]
    pub kind: C,
}

/// `[job]`
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JobSection {
    pub name: Spanned<String>,
    /// Month the fiscal year starts in; default [`Defaults::FISCAL_YEAR_START_MONTH`].
    #[serde(default)]
    pub fiscal_year_start_month: Option<Spanned<u32>>,
    /// Status thresholds; default [`StatusThresholds::default`].
    #[serde(default)]
    pub status: Option<Spanned<StatusThresholds>>,
    /// Days after which a health check-in is overdue; default
    /// [`Defaults::HEALTH_MAX_AGE_DAYS`].
    #[serde(default)]
    pub health_max_age_days: Option<Spanned<u32>>,
    /// How an objective's status is computed unless it says otherwise.
    #[serde(default)]
    pub objective_status: ObjectiveStatusRule,
    /// MiB DataFusion may hold at once; default [`Defaults::MEMORY_LIMIT_MIB`].
    #[serde(default)]
    pub memory_limit_mib: Option<Spanned<u32>>,
    /// Seconds a key result's query may run; default [`Defaults::QUERY_TIMEOUT_SECS`].
    #[serde(default)]
    pub query_timeout_secs: Option<Spanned<u32>>,
}

/// How an objective's status is computed.
#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum ObjectiveStatusRule {
    /// From the objective's progress against its expected progress, as a key result's.
    #[default]
    Progress,
    /// The worst computed status among its key results, `no_data` left out (Perdoo's rule).
    WeakestKr,
}

impl ObjectiveStatusRule {
    /// The rule as written in the job file and in the output.
    pub fn as_str(self) -> &'static str {
        match self {
            ObjectiveStatusRule::Progress => "progress",
            ObjectiveStatusRule::WeakestKr => "weakest_kr",
        }
    }
}

/// `status = { behind_below = 0.0, at_risk_below = -0.25 }`: progress minus expected progress.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct StatusThresholds {
    #[serde(default = "Defaults::behind_below")]
    pub behind_below: f64,
    #[serde(default = "Defaults::at_risk_below")]
    pub at_risk_below: f64,
}

impl Default for StatusThresholds {
    fn default() -> Self {
        StatusThresholds {
            behind_below: Defaults::BEHIND_BELOW,
            at_risk_below: Defaults::AT_RISK_BELOW,
        }
    }
}

/// A folder as the job file names it: `[output]` (whose `url` keeps its place in the file,
/// for messages) and the connections that read files (Tallyfy exports, check-ins).
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct FolderSection<U> {
    /// A local folder (relative to the job file) or `s3://bucket/prefix/`.
    pub url: U,
    /// S3 only: AWS profile of the shared config files.
    #[serde(default)]
    pub profile: Option<String>,
    /// S3 only: the bucket's region (default: the profile's or environment's; Tallyfy's
    /// bucket is in us-west-2).
    #[serde(default)]
    pub region: Option<String>,
    /// S3 only: environment variables holding an access key (for Tallyfy, the one it hands
    /// out), instead of the default chain.
    #[serde(default)]
    pub access_key_id_env: Option<String>,
    #[serde(default)]
    pub secret_access_key_env: Option<String>,
}

/// `[output]`: where the tables are written.
pub type OutputSection = FolderSection<Spanned<String>>;

/// How an `s3://` url is reached (the same keys on `[output]` and Tallyfy connections).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct S3Options {
    pub profile: Option<String>,
    pub region: Option<String>,
    pub access_key_id_env: Option<String>,
    pub secret_access_key_env: Option<String>,
}

impl S3Options {
    /// The key variables come as a pair or not at all.
    pub fn check_keys(&self) -> Result<(), String> {
        if self.access_key_id_env.is_some() != self.secret_access_key_env.is_some() {
            return Err("access_key_id_env and secret_access_key_env go together".into());
        }
        Ok(())
    }
}

impl<U> FolderSection<U> {
    /// The S3 keys of the section.
    pub fn s3(&self) -> S3Options {
        S3Options {
            profile: self.profile.clone(),
            region: self.region.clone(),
            access_key_id_env: self.access_key_id_env.clone(),
            secret_access_key_env: self.secret_access_key_env.clone(),
        }
    }
}

/// `[[objectives]]`
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ObjectiveConfig<S> {
    pub id: Spanned<String>,
    pub title: String,
    #[serde(default)]
    pub owner: Option<String>,
    #[serde(default)]
    pub level: Level,
    pub period: Spanned<String>,
    /// One parent key result, or several.
    #[serde(default)]
    pub aligns_to: Option<Spanned<AlignsTo>>,
    /// This objective's status rule, instead of `[job] objective_status`.
    #[serde(default)]
    pub objective_status: Option<ObjectiveStatusRule>,
    #[serde(default = "Vec::new")]
    pub key_results: Vec<KeyResultConfig<S>>,
}

/// Where an objective sits in the company.
#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Level {
    Company,
    Department,
    #[default]
    Team,
    Individual,
}

impl Level {
    /// The level as written in the job file and in the output.
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Company => "company",
            Level::Department => "department",
            Level::Team => "team",
            Level::Individual => "individual",
        }
    }
}

/// `aligns_to = { key_result = "CEO-KR2", contribution = 1.0 }`, or a list of them.
#[derive(Debug, Clone)]
pub enum AlignsTo {
    One(AlignmentConfig),
    Many(Vec<AlignmentConfig>),
}

// By hand rather than `untagged`, so that a mistake inside the table is reported as the
// table's own error (`unknown field `kr``), not as "did not match any variant".
impl<'de> Deserialize<'de> for AlignsTo {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::value::{MapAccessDeserializer, SeqAccessDeserializer};
        struct Visitor;
        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = AlignsTo;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a table { key_result = \"…\", contribution = … } or a list of them")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, m: A) -> Result<AlignsTo, A::Error> {
                AlignmentConfig::deserialize(MapAccessDeserializer::new(m)).map(AlignsTo::One)
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(self, s: A) -> Result<AlignsTo, A::Error> {
                Vec::deserialize(SeqAccessDeserializer::new(s)).map(AlignsTo::Many)
            }
        }
        d.deserialize_any(Visitor)
    }
}

impl AlignsTo {
    /// The parents, in the order written.
    pub fn parents(&self) -> Vec<AlignmentConfig> {
        match self {
            AlignsTo::One(a) => vec![a.clone()],
            AlignsTo::Many(list) => list.clone(),
        }
    }
}

/// One parent key result.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlignmentConfig {
    pub key_result: String,
    /// Weight of this objective in its parent's progress; 0.0 shows the link but counts
    /// nothing. Default [`Defaults::CONTRIBUTION`]; a key result's alignment takes none.
    #[serde(default)]
    pub contribution: Option<f64>,
}

impl AlignmentConfig {
    /// The contribution, defaulted.
    pub fn contribution(&self) -> f64 {
        self.contribution.unwrap_or_else(Defaults::contribution)
    }
}

/// `source = { aligned = { rollup = "sum" } }`: the key result's value is made of the values
/// of the key results aligned to it.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct RollupConfig {
    pub rollup: Rollup,
}

/// How a roll-up key result combines its children's values.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Rollup {
    Sum,
    Average,
}

impl Rollup {
    /// As written in the job file and in the output.
    pub fn as_str(self) -> &'static str {
        match self {
            Rollup::Sum => "sum",
            Rollup::Average => "average",
        }
    }
}

/// `[[objectives.key_results]]`
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyResultConfig<S> {
    pub id: Spanned<String>,
    pub title: String,
    #[serde(default)]
    pub owner: Option<String>,
    pub measure: Spanned<MeasureConfig>,
    /// First day of the key result's own window (added mid-period); defaults to the first
    /// day of the objective's period.
    #[serde(default)]
    pub starts: Option<Spanned<toml::value::Datetime>>,
    /// Due date; defaults to the last day of the objective's period.
    #[serde(default)]
    pub due: Option<Spanned<toml::value::Datetime>>,
    /// The roll-up key result whose value this one's value adds to.
    #[serde(default)]
    pub aligns_to: Option<Spanned<AlignsTo>>,
    /// Closing-period offset in days (1 to 30), instead of its connection's.
    #[serde(default)]
    pub offset_days: Option<Spanned<u32>>,
    #[serde(default = "Defaults::kr_weight")]
    pub weight: f64,
    #[serde(default)]
    pub late_penalty: Option<Spanned<LatePenaltyConfig>>,
    #[serde(default = "Option::default")]
    pub source: Option<Spanned<S>>,
}

/// `measure = { kpi = {...} }`, `{ percent_complete = {} }`, `{ milestones = [...] }`,
/// `{ threshold = { above = 99.0 } }` (a guardrail) or `{ aligned = {} }` (measured by the
/// objectives aligned to this key result).
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum MeasureConfig {
    Kpi {
        start: f64,
        target: f64,
        /// The plan expected progress follows instead of a straight line.
        #[serde(default = "Vec::new")]
        phases: Vec<PhaseConfig>,
    },
    PercentComplete {},
    Milestones(Vec<MilestoneConfig>),
    Threshold(ThresholdConfig),
    Aligned {},
}

/// `{ above = 99.0 }` or `{ below = 5 }`: the value to stay at or above (below).
#[derive(Debug, Clone, Copy, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ThresholdConfig {
    #[serde(default)]
    pub above: Option<f64>,
    #[serde(default)]
    pub below: Option<f64>,
}

/// `{ on = 2026-02-28, target = 10 }`: the value planned for the end of `on`.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct PhaseConfig {
    pub on: toml::value::Datetime,
    pub target: f64,
}

/// One row of a milestone table: reaching `at` (default: the milestone's position, 1-based)
/// means `progress` is done.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct MilestoneConfig {
    pub title: String,
    #[serde(default)]
    pub at: Option<f64>,
    pub progress: f64,
}

/// `late_penalty = { per_week = 0.10 }` or `late_penalty = "zero_if_missed"`.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum LatePenaltyConfig {
    PerWeek(f64),
    ZeroIfMissed,
}
