//! `backfill` and `recompute`: plan the dates, print the plan (`--dry-run`) or rebuild them
//! with a progress bar on a terminal, then print a line per date.

use super::args::{BackfillArgs, LogFormat, RangeArgs, RecomputeArgs, output_location};
use super::logging::set_bar;
use crate::backfill::{self, BackfillError, DateOutcome, DatePlan, Mode, RangeOptions, Step};
use crate::error::Outcome;
use crate::job::{self, Plan};
use crate::model::Location;
use crate::stop::{Stop, Stopped};
use crate::storage;
use crate::summary;
use anyhow::Context;
use indicatif::{ProgressBar, ProgressStyle};

/// `backfill`: fetch and rebuild the range's dates; `stop` stops it.
pub(crate) async fn backfill(
    args: BackfillArgs,
    log_format: LogFormat,
    stop: Stop,
) -> anyhow::Result<Outcome> {
    rebuild(args.range, args.krs, Mode::Backfill, log_format, stop).await
}

/// `recompute`: re-score the range's dates from their raw archives; `stop` stops it.
pub(crate) async fn recompute(
    args: RecomputeArgs,
    log_format: LogFormat,
    stop: Stop,
) -> anyhow::Result<Outcome> {
    rebuild(args.range, Vec::new(), Mode::Recompute, log_format, stop).await
}

/// Plans the dates of `range`, then prints the plan (`--dry-run`) or rebuilds them.
async fn rebuild(
    range: RangeArgs,
    krs: Vec<String>,
    mode: Mode,
    log_format: LogFormat,
    stop: Stop,
) -> anyhow::Result<Outcome> {
    let started = std::time::Instant::now();
    let plan = job::load(&range.job)?;
    for w in &plan.warnings {
        tracing::warn!("{w}");
    }
    let options = RangeOptions {
        mode,
        from: range.from,
        to: range.to,
        krs,
        force: range.force,
        concurrency: range.concurrency.into(),
        output: output_location(range.output.as_deref())?,
        stop,
    };
    let verb = if mode == Mode::Backfill {
        "backfill"
    } else {
        "recompute"
    };
    let failed_to_start = || format!("{verb} of {} could not run", range.job.display());
    if range.dry_run {
        let output = options
            .output
            .clone()
            .unwrap_or_else(|| plan.output.clone());
        let dates = match &output {
            // Not created yet: nothing is committed there, and a dry run creates nothing.
            Location::Local(dir) if !dir.exists() => {
                backfill::plan_dates_new_output(&plan, &options).with_context(failed_to_start)?
            }
            _ => {
                let opened = storage::open(&output, false)
                    .await
                    .with_context(failed_to_start)?;
                backfill::plan_dates(&plan, &options, &opened)
                    .await
                    .with_context(failed_to_start)?
            }
        };
        println!(
            "{verb} of {} from {} to {} into {output} (dry run: nothing is fetched or written)",
            plan.job_name, range.from, range.to
        );
        print_plan(&plan, &output, &dates, mode);
        return Ok(Outcome::Ok);
    }
    let to_do = (range
        .from
        .iter_days()
        .take_while(|d| *d <= range.to)
        .count()) as u64;
    let bar = if log_format == LogFormat::Json {
        ProgressBar::hidden()
    } else {
        ProgressBar::new(to_do)
    };
    bar.set_style(
        ProgressStyle::with_template(
            "{bar:30} {pos}/{len} dates  {msg}  ({elapsed}, about {eta} left)",
        )
        .expect("a valid template"),
    );
    set_bar(Some(bar.clone()));
    let on_date = |d: &DatePlan| {
        bar.set_message(d.date.to_string());
        bar.inc(1);
    };
    let result = backfill::run(&plan, &options, &on_date).await;
    bar.finish_and_clear();
    set_bar(None);
    let (dates, outcomes) = match result {
        Err(BackfillError::Stopped(Stopped(signal))) => {
            let left =
                "the dates committed before it stay, and the same command resumes after them";
            return Ok(super::stopped(signal, left));
        }
        done => done.with_context(failed_to_start)?,
    };
    let (written, rows, failures) = print_dates(&dates, &outcomes);
    let misconfigured = outcomes
        .iter()
        .filter_map(|o| o.report.as_ref())
        .any(|report| !report.misconfigured.is_empty());
    tracing::info!(
        dates = dates.len(),
        written,
        skipped = dates.len() - written,
        rows,
        key_result_failures = failures,
        elapsed_s = started.elapsed().as_secs_f64(),
        "{verb} finished"
    );
    if failures > 0 {
        let outcome = match misconfigured {
            true => Outcome::Misconfigured,
            false => Outcome::SomeKeyResultsFailed,
        };
        tracing::error!(
            "{failures} key result value(s) failed across the dates{}; exit code {}",
            if misconfigured {
                ", some of them cannot work as configured"
            } else {
                ""
            },
            outcome.code()
        );
        Ok(outcome)
    } else {
        Ok(Outcome::Ok)
    }
}

/// `--dry-run`: a line per date, what it would fetch and keep, and the partitions it would
/// write.
fn print_plan(plan: &Plan, output: &Location, dates: &[DatePlan], mode: Mode) {
    for d in dates {
        match &d.step {
            Step::Skip(why) => println!("{}  skip: {why}", d.date),
            Step::Run { fetch, keep } => {
                let by_connection = backfill::fetch_by_connection(plan, fetch)
                    .into_iter()
                    .map(|(c, n)| format!("{n} from {c}"))
                    .collect::<Vec<_>>()
                    .join(", ");
                let source = if mode == Mode::Backfill {
                    "fetch"
                } else {
                    "re-read from the raw archive"
                };
                println!(
                    "{}  {source} {} key result(s){}{}",
                    d.date,
                    fetch.len(),
                    if by_connection.is_empty() {
                        String::new()
                    } else {
                        format!(": {by_connection}")
                    },
                    if keep.is_empty() {
                        String::new()
                    } else {
                        format!("; keep {} from the date's snapshot", keep.len())
                    }
                );
                for p in backfill::partitions_of(output, d.date) {
                    println!("            write {p}");
                }
            }
        }
    }
}

/// The table of what became of each date; `(dates written, rows, key result failures)`.
fn print_dates(dates: &[DatePlan], outcomes: &[DateOutcome]) -> (usize, usize, usize) {
    let mut table = comfy_table::Table::new();
    table.load_preset(comfy_table::presets::UTF8_FULL_CONDENSED);
    table.set_header(["date", "done", "ok", "no data", "stale", "failed", "run"]);
    let (mut written, mut rows, mut failures) = (0, 0, 0);
    for (d, o) in dates.iter().zip(outcomes) {
        match (&d.step, &o.report) {
            (step, None) => {
                let why = if let Step::Skip(w) = step {
                    w.as_str()
                } else {
                    ""
                };
                table.add_row([
                    d.date.to_string(),
                    format!("skipped: {why}"),
                    String::new(),
                    String::new(),
                    String::new(),
                    String::new(),
                    String::new(),
                ]);
            }
            (_, Some(report)) => {
                let c =
                    summary::counts(report.tables.get("runs").map_or(&[][..], |b| b.as_slice()));
                written += 1;
                failures += report.failed.len();
                rows += report
                    .tables
                    .values()
                    .flatten()
                    .map(|b| b.num_rows())
                    .sum::<usize>();
                table.add_row([
                    d.date.to_string(),
                    "written".into(),
                    c.ok.to_string(),
                    c.no_data.to_string(),
                    c.stale.to_string(),
                    c.failed.to_string(),
                    report.run_id.clone(),
                ]);
            }
        }
    }
    println!("{}", table);
    (written, rows, failures)
}
