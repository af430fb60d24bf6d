//! Backfills and recomputes: one snapshot per date over a range, each made as a run with
//! `--as-of` that date would make it. A backfill asks the sources (each reconstructs the date
//! as well as it honestly can); a recompute re-scores from each date's raw archive and the
//! Tallyfy exports without calling Looker or Jira. Dates already committed with the current
//! definitions are skipped unless forced, so an interrupted backfill resumes where it stopped;
//! a stop ([`crate::stop`]) ends it between dates, or finishes the commit of the date it came
//! in.

use crate::engine::tables::RunInfo;
use crate::job::{KeyResult, Plan};
use crate::model::Location;
use crate::pipeline::{self, PipelineError, RunReport};
use crate::sink::history::{self, Committed};
use crate::sink::lock::{LeaseTerms, RunLock};
use crate::sink::{SinkError, TABLES};
use crate::sources::http::Archive;
use crate::sources::{ApiOptions, KrValue, Measured, Slots, SourceError, is_past, today};
use crate::stop::{Stop, Stopped};
use crate::storage::{self, Opened, StorageError};
use chrono::{NaiveDate, Utc};
use futures::StreamExt;
use object_store::ObjectStoreExt;
use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

/// What the range is rebuilt from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Ask the sources for each date.
    Backfill,
    /// Re-score each committed date from its raw archive and the Tallyfy exports.
    Recompute,
}

impl Mode {
    fn verb(self) -> &'static str {
        match self {
            Mode::Backfill => "backfill",
            Mode::Recompute => "recompute",
        }
    }
}

/// What a backfill or recompute is asked to do.
#[derive(Debug, Clone)]
pub struct RangeOptions {
    pub mode: Mode,
    /// First and last date, both included.
    pub from: NaiveDate,
    pub to: NaiveDate,
    /// Only these key results are fetched (empty: all). On a date that already has a
    /// snapshot, the others keep its values.
    pub krs: Vec<String>,
    /// Redo dates already committed with the current definitions.
    pub force: bool,
    /// Dates extracted at the same time (they are still committed in date order).
    pub concurrency: usize,
    /// Write here instead of the job's `[output]`.
    pub output: Option<Location>,
    /// Stops the range when it fires ([`Stop::new`] for none).
    pub stop: Stop,
}

/// Why a backfill or recompute stopped. Dates committed before the failure stay committed;
/// running the same command again resumes after them.
#[derive(Debug, thiserror::Error)]
pub enum BackfillError {
    #[error("--from {from} is after --to {to}")]
    Range { from: NaiveDate, to: NaiveDate },
    #[error("--to {to} is after today ({today}): a date can only be rebuilt once it has begun")]
    Future { to: NaiveDate, today: NaiveDate },
    #[error("unknown key result `{id}` (known: {known})")]
    UnknownKeyResult { id: String, known: String },
    /// The output cannot be opened; the message is whole (no second `caused by` line).
    #[error("output {0}")]
    Output(StorageError),
    #[error(transparent)]
    Sink(#[from] SinkError),
    #[error("{date}: {source}")]
    Date {
        date: NaiveDate,
        #[source]
        source: PipelineError,
    },
    #[error("{date}: cannot read the raw archive {path}: {message}")]
    Archive {
        date: NaiveDate,
        path: String,
        message: String,
    },
    /// A signal stopped it; the dates committed before stay.
    #[error(transparent)]
    Stopped(#[from] Stopped),
}

impl BackfillError {
    /// A date's failure, or the stop that ended it.
    fn of_date(date: NaiveDate, source: PipelineError) -> BackfillError {
        match source {
            PipelineError::Stopped(s) => BackfillError::Stopped(s),
            source => BackfillError::Date { date, source },
        }
    }
}

/// What happens to one date.
#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    /// Nothing to do, and why.
    Skip(String),
    /// Fetch these key results; keep the committed values of the others (`keep`).
    Run {
        fetch: Vec<String>,
        keep: Vec<String>,
    },
}

/// One date of the range and its step.
#[derive(Debug, Clone, PartialEq)]
pub struct DatePlan {
    pub date: NaiveDate,
    pub step: Step,
}

/// What happened to one date.
#[derive(Debug)]
pub struct DateOutcome {
    pub date: NaiveDate,
    /// `None` when the date was skipped (the plan says why).
    pub report: Option<RunReport>,
}

/// Checks the options against the job: a range that has begun, known key results.
pub fn check(plan: &Plan, options: &RangeOptions) -> Result<(), BackfillError> {
    if options.from > options.to {
        return Err(BackfillError::Range {
            from: options.from,
            to: options.to,
        });
    }
    if options.to > today() {
        return Err(BackfillError::Future {
            to: options.to,
            today: today(),
        });
    }
    for id in &options.krs {
        if plan.key_result(id).is_none() {
            return Err(BackfillError::UnknownKeyResult {
                id: id.clone(),
                known: plan.key_result_ids(),
            });
        }
    }
    Ok(())
}

/// What is committed in a range: the dates whose commit finished, and each date's
/// key-result rows.
struct CommittedState {
    dates: BTreeSet<NaiveDate>,
    rows: BTreeMap<NaiveDate, BTreeMap<String, Committed>>,
}

async fn read_committed(
    opened: &Opened,
    options: &RangeOptions,
) -> Result<CommittedState, BackfillError> {
    let ctx = crate::engine::new_session();
    history::register(&ctx, opened).await?;
    Ok(CommittedState {
        rows: history::committed_rows(&ctx, options.from, options.to).await?,
        dates: history::committed_dates(opened).await?,
    })
}

/// Decides each date's step from what is committed. Reads the output; writes nothing.
pub async fn plan_dates(
    plan: &Plan,
    options: &RangeOptions,
    opened: &Opened,
) -> Result<Vec<DatePlan>, BackfillError> {
    check(plan, options)?;
    let state = read_committed(opened, options).await?;
    Ok(steps(plan, options, &state))
}

/// [`plan_dates`] for an output that does not exist yet (a dry run creates nothing): no
/// date is committed, so every date is run.
pub fn plan_dates_new_output(
    plan: &Plan,
    options: &RangeOptions,
) -> Result<Vec<DatePlan>, BackfillError> {
    check(plan, options)?;
    let state = CommittedState {
        dates: BTreeSet::new(),
        rows: BTreeMap::new(),
    };
    Ok(steps(plan, options, &state))
}

fn steps(plan: &Plan, options: &RangeOptions, state: &CommittedState) -> Vec<DatePlan> {
    let selected: Vec<&KeyResult> = plan
        .key_results
        .iter()
        .filter(|k| options.krs.is_empty() || options.krs.contains(&k.id))
        .collect();
    let hashes: BTreeMap<&str, String> = plan
        .key_results
        .iter()
        .map(|k| (k.id.as_str(), pipeline::sha256_hex(&k.definition)))
        .collect();
    let empty = BTreeMap::new();
    options
        .from
        .iter_days()
        .take_while(|d| *d <= options.to)
        .map(|date| {
            let done = state.dates.contains(&date);
            let found = if done {
                state.rows.get(&date).unwrap_or(&empty)
            } else {
                &empty
            };
            let current = selected.iter().all(|k| {
                found.get(&k.id).and_then(|c| c.definition_hash.as_deref())
                    == Some(hashes[k.id.as_str()].as_str())
            });
            let step = if options.mode == Mode::Recompute && !done {
                Step::Skip("no committed run to recompute".into())
            } else if done && current && !options.force {
                Step::Skip("committed with the current definitions".into())
            } else {
                step_for(plan, options, found)
            };
            DatePlan { date, step }
        })
        .collect()
}

/// Which key results a date fetches: all of them, or with `--kr` on a date that has a
/// snapshot, the selected ones and any the snapshot lacks.
fn step_for(plan: &Plan, options: &RangeOptions, found: &BTreeMap<String, Committed>) -> Step {
    let (mut fetch, mut keep) = (Vec::new(), Vec::new());
    for k in plan.key_results.iter().filter(|k| k.source.is_some()) {
        let chosen = options.krs.is_empty() || options.krs.contains(&k.id);
        if chosen || !found.contains_key(&k.id) {
            fetch.push(k.id.clone());
        } else {
            keep.push(k.id.clone());
        }
    }
    Step::Run { fetch, keep }
}

/// Rebuilds the range: extracts up to `concurrency` dates at a time and commits them in
/// date order under the output's lock. `on_date` is called after each date (for progress).
pub async fn run(
    plan: &Plan,
    options: &RangeOptions,
    on_date: &(dyn Fn(&DatePlan) + Sync),
) -> Result<(Vec<DatePlan>, Vec<DateOutcome>), BackfillError> {
    check(plan, options)?;
    let output = options
        .output
        .clone()
        .unwrap_or_else(|| plan.output.clone());
    let opened = storage::open(&output, true).await?;
    let run_id = pipeline::new_run_id(options.to);
    let lock = RunLock::acquire(&opened, &plan.job_name, &run_id, LeaseTerms::default()).await?;
    let result = run_locked(plan, options, &output, &opened, &lock, on_date).await;
    lock.release().await;
    result
}

async fn run_locked(
    plan: &Plan,
    options: &RangeOptions,
    output: &Location,
    opened: &Opened,
    lock: &RunLock,
    on_date: &(dyn Fn(&DatePlan) + Sync),
) -> Result<(Vec<DatePlan>, Vec<DateOutcome>), BackfillError> {
    // Read once, before anything is rewritten: it says what to do and which values to keep.
    let state = read_committed(opened, options).await?;
    let dates = steps(plan, options, &state);
    tracing::info!(
        job = %plan.job_name,
        mode = options.mode.verb(),
        from = %options.from,
        to = %options.to,
        dates = dates.len(),
        to_do = dates.iter().filter(|d| matches!(d.step, Step::Run { .. })).count(),
        "range started"
    );
    let mut outcomes = Vec::new();
    {
        // Up to `concurrency` dates are extracted at once; they are committed in date order.
        let range = Range {
            plan,
            options,
            opened,
            committed: &state.rows,
            slots: Slots::default(),
        };
        let extracted = futures::stream::iter(dates.iter())
            .map(|d| {
                let range = &range;
                async move {
                    let started_at = Utc::now();
                    let values = match &d.step {
                        Step::Skip(_) => None,
                        Step::Run { fetch, keep } => Some(range.extract(d.date, fetch, keep).await),
                    };
                    (d, started_at, values)
                }
            })
            .buffered(options.concurrency.max(1));
        futures::pin_mut!(extracted);
        while let Some((d, started_at, values)) =
            pipeline::extracting(plan, &options.stop, extracted.next()).await?
        {
            let report = match values {
                None => None,
                Some(values) => {
                    let run = RunInfo {
                        run_id: pipeline::new_run_id(d.date),
                        as_of: d.date,
                        started_at,
                        computed_at: Utc::now(),
                        definition_hash: pipeline::definition_hash(plan),
                    };
                    let stop = &options.stop;
                    let report =
                        pipeline::write(plan, run, &values?, output.clone(), opened, lock, stop)
                            .await
                            .map_err(|source| BackfillError::of_date(d.date, source))?;
                    Some(report)
                }
            };
            on_date(d);
            outcomes.push(DateOutcome {
                date: d.date,
                report,
            });
        }
    }
    Ok((dates, outcomes))
}

/// What every date of a range extracts with: the job, the command's options, the output,
/// what was committed before it began, and the connections' request slots, shared by the
/// dates extracted at once so that a connection's concurrency holds across them.
struct Range<'a> {
    plan: &'a Plan,
    options: &'a RangeOptions,
    opened: &'a Opened,
    committed: &'a BTreeMap<NaiveDate, BTreeMap<String, Committed>>,
    slots: Slots,
}

impl Range<'_> {
    /// One date's values: the fetched key results' from their sources (or, recomputing,
    /// from the date's raw archive) and the kept ones' from the date's snapshot.
    async fn extract(
        &self,
        date: NaiveDate,
        fetch: &[String],
        keep: &[String],
    ) -> Result<crate::sources::Extracted, BackfillError> {
        let Range {
            plan,
            options,
            opened,
            committed,
            ..
        } = *self;
        let fetching = Plan {
            key_results: plan
                .key_results
                .iter()
                .filter(|k| fetch.contains(&k.id))
                .cloned()
                .collect(),
            ..plan.clone()
        };
        let archive = Archive::of_output(opened, date);
        let (api, _download) = match options.mode {
            Mode::Backfill => (
                ApiOptions {
                    replay: None,
                    archive: Some(archive.clone()),
                    as_of: Some(date),
                    day_archive: is_past(date).then_some(archive),
                    state: Some(opened.clone()),
                    slots: self.slots.clone(),
                },
                None,
            ),
            Mode::Recompute => {
                let (folder, download) = archive_folder(opened, date).await?;
                (
                    ApiOptions {
                        replay: Some(folder),
                        archive: None,
                        as_of: Some(date),
                        day_archive: None,
                        state: Some(opened.clone()),
                        slots: self.slots.clone(),
                    },
                    download,
                )
            }
        };
        let mut extracted = pipeline::extract(&fetching, date, &api)
            .await
            .map_err(|e| BackfillError::Date {
                date,
                source: e.into(),
            })?;
        let found = committed.get(&date);
        for id in keep {
            let Some(c) = found.and_then(|f| f.get(id)) else {
                continue;
            };
            let value = match (&c.error, c.value) {
                (Some(message), _) => Err(SourceError::Kept {
                    message: message.clone(),
                }),
                // a note beside a value says where it came from (a check-in's file and line)
                (None, Some(v)) => Ok(match c.note.clone() {
                    Some(source) => Measured::Traced { value: v, source },
                    None => Measured::Value(v),
                }),
                (None, None) => Ok(Measured::NoData(
                    c.note.clone().unwrap_or_else(|| "no data yet".into()),
                )),
            };
            extracted.values.push(KrValue {
                kr_id: id.clone(),
                value,
            });
        }
        Ok(extracted)
    }
}

/// A local folder holding the date's raw archive: the output's own folder on disk, or a
/// temporary copy of it from S3 (kept alive by the returned guard).
async fn archive_folder(
    opened: &Opened,
    date: NaiveDate,
) -> Result<(PathBuf, Option<tempfile::TempDir>), BackfillError> {
    let relative = format!("raw/as_of={date}");
    let err = |message: String| BackfillError::Archive {
        date,
        path: opened.url(&relative),
        message,
    };
    if !opened.is_s3() {
        let url = opened.url(&relative);
        let folder = url::Url::parse(&url)
            .ok()
            .and_then(|u| u.to_file_path().ok())
            .ok_or_else(|| err("not a local path".into()))?;
        return Ok((folder, None));
    }
    let dir = tempfile::tempdir().map_err(|e| err(e.to_string()))?;
    let prefix = opened.path(&relative);
    let listed: Vec<_> = opened
        .store
        .list(Some(&prefix))
        .collect::<Vec<_>>()
        .await
        .into_iter()
        .collect::<Result<_, _>>()
        .map_err(|e| err(e.to_string()))?;
    for meta in listed {
        let Some(rel) = meta.location.prefix_match(&prefix) else {
            continue;
        };
        let parts: Vec<String> = rel.map(|p| p.as_ref().to_string()).collect();
        let path = parts
            .iter()
            .fold(dir.path().to_path_buf(), |p, s| p.join(s));
        let bytes = opened
            .store
            .get(&meta.location)
            .await
            .map_err(|e| err(e.to_string()))?
            .bytes()
            .await
            .map_err(|e| err(e.to_string()))?;
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|e| err(e.to_string()))?;
        }
        std::fs::write(&path, &bytes).map_err(|e| err(e.to_string()))?;
    }
    Ok((dir.path().to_path_buf(), Some(dir)))
}

/// The partitions a date's run writes, for `--dry-run`: one per table, of that date.
pub fn partitions_of(output: &Location, date: NaiveDate) -> Vec<String> {
    let base = output.to_string();
    let base = base.trim_end_matches('/').to_string();
    TABLES
        .iter()
        .map(|(table, column)| format!("{base}/{table}/{column}={date}/"))
        .collect()
}

/// The connections a date's fetched key results read, with how many each.
pub fn fetch_by_connection(plan: &Plan, fetch: &[String]) -> BTreeMap<String, usize> {
    let mut out = BTreeMap::new();
    for k in plan.key_results.iter().filter(|k| fetch.contains(&k.id)) {
        if let Some(s) = &k.source {
            *out.entry(format!("{} ({})", s.connection(), s.kind()))
                .or_default() += 1;
        }
    }
    out
}

impl From<StorageError> for BackfillError {
    fn from(e: StorageError) -> Self {
        BackfillError::Output(e)
    }
}
