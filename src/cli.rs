//! The command line: `run`, `validate`, `preview`, `athena ddl|register`, `lookml` and
//! `demo-data`, and how their results become an
//! [`Outcome`].

use crate::backfill::{self, Mode, RangeOptions, Step};
use crate::error::Outcome;
use crate::inspect;
use crate::job;
use crate::model::{self, Location};
use crate::pipeline::{self, RunOptions};
use crate::report;
use crate::sink::{athena, lookml};
use crate::sources::Measured;
use crate::storage;
use crate::summary;
use anyhow::Context;
use chrono::{NaiveDate, Utc};
use clap::{Parser, Subcommand, ValueEnum};
use indicatif::{ProgressBar, ProgressStyle};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// okrflow keeps OKRs honest with data: it reads key-result numbers from Tallyfy exports,
/// Looker tiles and looks, and Jira JQL queries, scores them in SQL (progress, expected progress, status, quarterly score) and writes
/// Athena-ready Parquet partitions.
///
/// Exit codes: 0 all key results computed (a key result whose source answered with nothing to
/// measure yet is `no_data`, not a failure); 3 results written but some key results failed
/// (their rows carry the error, and the last good value when there is one); 1 the job could
/// not run (bad job file, unreadable or unwritable output); 2 bad command line.
#[derive(Debug, Parser)]
#[command(name = "okrflow", version, about, long_about)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
    /// Log format on stderr: `text` for people, `json` for schedulers.
    #[arg(long, value_enum, default_value_t = LogFormat::Text, global = true)]
    pub log_format: LogFormat,
    /// More log detail (-v: debug, -vv: trace). RUST_LOG overrides this.
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    pub verbose: u8,
    /// Only warnings and errors in the log.
    #[arg(short, long, global = true)]
    pub quiet: bool,
}

/// Log output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run a job: extract every key result's value, score it, write the partitions for the
    /// as-of date and print a summary.
    Run {
        /// The job file (TOML).
        job: PathBuf,
        /// The run date (YYYY-MM-DD, default: today in UTC). Key results of a period that is
        /// over are evaluated on its last day. Rerunning a date replaces its partitions.
        #[arg(long, value_parser = parse_date)]
        as_of: Option<NaiveDate>,
        /// Write to this folder or s3://bucket/prefix/ instead of the job's [output] url (S3
        /// through the default AWS credential chain).
        #[arg(long)]
        output: Option<String>,
        /// Do not print the summary table.
        #[arg(long)]
        no_summary: bool,
        /// Answer Looker and Jira requests from this raw archive instead of the network: an output's
        /// `raw/` folder (the run date's `as_of=` folder is used) or one day's folder.
        #[arg(long, value_name = "DIR")]
        replay: Option<PathBuf>,
    },
    /// Check a job file: syntax, references, periods, SQL, and the OKR-practice warnings a
    /// reviewer would raise, without reading any data. With --online, also log in to every
    /// connection, resolve every dashboard, tile, look and Jira field, check every JQL and
    /// list the Tallyfy exports (no query is run). Exit 1 when it has errors.
    Validate {
        /// The job file (TOML).
        job: PathBuf,
        /// Also reach every connection and resolve what each key result reads.
        #[arg(long)]
        online: bool,
        /// With --online: answer Looker and Jira requests from this raw archive.
        #[arg(long, value_name = "DIR")]
        replay: Option<PathBuf>,
    },
    /// Fetch one key result's value as a run would and print it with the rows it came from.
    /// Nothing is written or archived.
    Preview {
        /// The job file (TOML).
        job: PathBuf,
        /// The key result's id.
        #[arg(long)]
        kr: String,
        /// The evaluation date (YYYY-MM-DD, default: today in UTC).
        #[arg(long, value_parser = parse_date)]
        as_of: Option<NaiveDate>,
        /// Answer Looker and Jira requests from this raw archive instead of the network.
        #[arg(long, value_name = "DIR")]
        replay: Option<PathBuf>,
    },
    /// Rebuild the snapshots of a range of dates, one per date, as `run --as-of` that date
    /// would make them. Each source reconstructs the date as well as it honestly can: Tallyfy
    /// from the latest snapshots up to that day; Jira from the issues' created and
    /// status-category dates; Looker from a time x-axis's bucket for the day, or that day's
    /// raw archive, and otherwise the key result says it is not reconstructible. Dates
    /// already committed with the current definitions are skipped (so a stopped backfill
    /// resumes), unless --force. Dates are committed in order under the output's lock.
    Backfill {
        #[command(flatten)]
        range: RangeArgs,
        /// Fetch only this key result (repeatable). On a date that already has a snapshot,
        /// the other key results keep its values; a date without one fetches them all.
        #[arg(long = "kr", value_name = "ID")]
        krs: Vec<String>,
    },
    /// Re-score a range of committed dates from their raw archives (`<output>/raw/`) and the
    /// Tallyfy exports, without calling Looker or Jira: for a changed target, weight, status
    /// threshold or SQL. Values of API key results stay what the archive says; progress,
    /// status and scores follow the job file as it is now. Dates never run are skipped.
    Recompute {
        #[command(flatten)]
        range: RangeArgs,
    },
    /// Write the progress report of a period: one self-contained HTML file (open it in any
    /// browser, offline) with each objective's status and progress against expected, and a
    /// chart per key result of its value and progress over the period against the expected
    /// line, stale and failed dates marked. Reads the snapshots written so far.
    Report {
        /// The job file (TOML).
        job: PathBuf,
        /// The period, e.g. FY27-Q1, FY27 or a custom period (default: of the newest snapshot's
        /// periods, the one with the most key results).
        #[arg(long)]
        period: Option<String>,
        /// The HTML file to write.
        #[arg(long, default_value = "report.html")]
        out: PathBuf,
        /// Read snapshots from this folder or s3://bucket/prefix/ instead of the job's [output].
        #[arg(long)]
        output: Option<String>,
    },
    /// Athena: print or run the statements that make the output tables queryable.
    Athena {
        #[command(subcommand)]
        command: AthenaCommand,
    },
    /// Write LookML for the output tables: a view file per table and a model with explores
    /// joining key results to their objectives.
    Lookml {
        /// The job file (TOML).
        job: PathBuf,
        /// Folder to write the .lkml files into.
        #[arg(long)]
        out: PathBuf,
        /// The Athena database the tables are registered in.
        #[arg(long, default_value = "okr")]
        database: String,
        /// The Looker connection name the model uses.
        #[arg(long, default_value = "athena")]
        connection: String,
    },
    /// Write a commented starter job into a folder: `DIR/job.toml` with one key result per
    /// source kind (Tallyfy SQL, a Looker tile, a Jira JQL), and an empty `DIR/tallyfy/`
    /// for the exports. It passes `validate`; docs/job-file.md describes every field.
    Init {
        /// The folder to write into (made if missing). An existing job.toml is not replaced.
        #[arg(default_value = ".")]
        dir: PathBuf,
    },
    /// Regenerate the bundled sample Tallyfy exports (deterministic: the same files every time).
    /// With --copies, write a larger data set for benchmarks instead: that many copies of the
    /// demo's processes over --files export files.
    DemoData {
        /// Folder to write into.
        #[arg(long, default_value = "jobs/demo/tallyfy")]
        out: PathBuf,
        /// Copies of the demo organisation's processes (about 1,500 rows each).
        #[arg(long)]
        copies: Option<usize>,
        /// With --copies: how many export files to spread them over.
        #[arg(long, default_value_t = 300)]
        files: usize,
        /// With --copies: write each snapshot this many times, to different files (more rows
        /// for the same processes). --files must keep them apart: at least 6 files a repeat.
        #[arg(long, default_value_t = 1)]
        repeats: usize,
    },
}

/// The arguments `backfill` and `recompute` share.
#[derive(Debug, clap::Args)]
pub struct RangeArgs {
    /// The job file (TOML).
    pub job: PathBuf,
    /// First date (YYYY-MM-DD).
    #[arg(long, value_parser = parse_date)]
    pub from: NaiveDate,
    /// Last date, included (YYYY-MM-DD, at the latest today).
    #[arg(long, value_parser = parse_date)]
    pub to: NaiveDate,
    /// Redo dates already committed with the current definitions.
    #[arg(long)]
    pub force: bool,
    /// Print what each date would fetch and write, and change nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Dates extracted at the same time (committed one by one, in date order).
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u16).range(1..=32))]
    pub concurrency: u16,
    /// Write to this folder or s3://bucket/prefix/ instead of the job's [output] url.
    #[arg(long)]
    pub output: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum AthenaCommand {
    /// Print the DDL: a CREATE EXTERNAL TABLE per output table (Parquet, partition projection
    /// on as_of and period, so no MSCK REPAIR or ADD PARTITION is needed) and the kr_latest and
    /// objective_latest views. Needs an s3:// [output].
    Ddl {
        /// The job file (TOML).
        job: PathBuf,
        /// The tables' location, s3://bucket/prefix/, instead of the job's [output] url.
        #[arg(long)]
        output: Option<String>,
    },
    /// Run the DDL through the Athena API, one statement at a time, after CREATE DATABASE IF
    /// NOT EXISTS; stops at the first failure with Athena's reason. Running it twice ends in
    /// the same state. Credentials and region come from the output's settings and the AWS
    /// chain; AWS_ENDPOINT_URL is honoured.
    Register {
        /// The job file (TOML).
        job: PathBuf,
        /// The database to create the tables in.
        #[arg(long)]
        database: String,
        /// The Athena workgroup (default: the account's primary).
        #[arg(long)]
        workgroup: Option<String>,
        /// Where Athena writes query results (s3://…); default: the workgroup's setting.
        #[arg(long)]
        results: Option<String>,
        /// Give up on a statement after this many seconds.
        #[arg(long, default_value_t = 300)]
        timeout_secs: u64,
        /// The tables' location, s3://bucket/prefix/, instead of the job's [output] url.
        #[arg(long)]
        output: Option<String>,
    },
}

fn parse_date(s: &str) -> Result<NaiveDate, String> {
    NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .map_err(|e| format!("`{s}` is not a date like 2026-11-23 ({e})"))
}

/// Sets up logging on stderr as the command line asks.
pub fn init_logging(cli: &Cli) {
    let level = match (cli.quiet, cli.verbose) {
        (true, _) => "warn",
        (false, 0) => "info",
        (false, 1) => "debug",
        _ => "trace",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(format!("okrflow={level},warn")));
    // Colour only on a terminal, and never when NO_COLOR is set (https://no-color.org).
    let colour = std::io::IsTerminal::is_terminal(&std::io::stderr())
        && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(colour)
        .with_writer(|| BarAwareStderr);
    let _ = match cli.log_format {
        LogFormat::Text => builder.with_target(false).try_init(),
        LogFormat::Json => builder.json().try_init(),
    };
}

/// The progress bar on screen, if any: log lines are written above it.
static BAR: std::sync::Mutex<Option<ProgressBar>> = std::sync::Mutex::new(None);

/// Standard error, written around the progress bar so that log lines do not tear it.
struct BarAwareStderr;

impl std::io::Write for BarAwareStderr {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let bar = BAR.lock().ok().and_then(|b| b.clone());
        match bar {
            Some(bar) => bar
                .suspend(|| std::io::stderr().write_all(buf))
                .map(|()| buf.len()),
            None => std::io::stderr().write(buf),
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        std::io::stderr().flush()
    }
}

/// `backfill` and `recompute`: plan the dates, print the plan (`--dry-run`) or rebuild them
/// with a progress bar on a terminal, then print a line per date.
async fn rebuild(
    range: RangeArgs,
    krs: Vec<String>,
    mode: Mode,
    log_format: LogFormat,
) -> anyhow::Result<Outcome> {
    let started = std::time::Instant::now();
    let plan = job::load(&range.job)?;
    for w in &plan.warnings {
        tracing::warn!("{w}");
    }
    let output = range
        .output
        .as_deref()
        .map(|o| Location::parse(o, Path::new("."), &Default::default()))
        .transpose()
        .map_err(anyhow::Error::msg)?;
    let options = RangeOptions {
        mode,
        from: range.from,
        to: range.to,
        krs,
        force: range.force,
        concurrency: range.concurrency.into(),
        output,
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
        for d in &dates {
            match &d.step {
                Step::Skip(why) => println!("{}  skip: {why}", d.date),
                Step::Run { fetch, keep } => {
                    let by_connection = backfill::fetch_by_connection(&plan, fetch)
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
                    for p in backfill::partitions_of(&plan, &output, d.date) {
                        println!("            write {p}");
                    }
                }
            }
        }
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
    if let Ok(mut b) = BAR.lock() {
        *b = Some(bar.clone());
    }
    let on_date = |d: &backfill::DatePlan| {
        bar.set_message(d.date.to_string());
        bar.inc(1);
    };
    let result = backfill::run(&plan, &options, &on_date).await;
    bar.finish_and_clear();
    if let Ok(mut b) = BAR.lock() {
        *b = None;
    }
    let (dates, outcomes) = result.with_context(failed_to_start)?;
    let mut table = comfy_table::Table::new();
    table.load_preset(comfy_table::presets::UTF8_FULL_CONDENSED);
    table.set_header(["date", "done", "ok", "no data", "stale", "failed", "run"]);
    let (mut written, mut rows, mut failures) = (0, 0, 0);
    for (d, o) in dates.iter().zip(&outcomes) {
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
        tracing::error!("{failures} key result value(s) failed across the dates; exit code 3");
        Ok(Outcome::SomeKeyResultsFailed)
    } else {
        Ok(Outcome::Ok)
    }
}

/// The job `okrflow init` writes.
pub const STARTER_JOB: &str = include_str!("../templates/starter.toml");

/// Runs a parsed command line.
pub fn run(cli: Cli) -> anyhow::Result<Outcome> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(async move {
        match cli.command {
            Command::Run { job, as_of, output, no_summary, replay } => {
                let plan = job::load(&job)?;
                for w in &plan.warnings {
                    tracing::warn!("{w}");
                }
                let options = RunOptions { as_of: as_of.unwrap_or_else(|| Utc::now().date_naive()), output: output.map(|o| Location::parse(&o, Path::new("."), &Default::default())).transpose().map_err(anyhow::Error::msg)?, replay };
                let started = std::time::Instant::now();
                let report = pipeline::run(&plan, &options).await.with_context(|| format!("job {} could not run", job.display()))?;
                let c = summary::counts(report.tables.get("runs").map_or(&[][..], |b| b.as_slice()));
                let rows: usize = report.tables.values().flatten().map(|b| b.num_rows()).sum();
                let closed = summary::closed_periods(&plan, report.as_of);
                tracing::info!(as_of = %report.as_of, closed = (!closed.is_empty()).then(|| closed.join("; ")).as_deref(), ok = c.ok, no_data = c.no_data, stale = c.stale, failed = c.failed, metrics = %c.metrics_text(), rows, partitions = report.partitions.len(), elapsed_s = started.elapsed().as_secs_f64(), "run finished");
                if !no_summary {
                    let empty = Vec::new();
                    let krs = report.tables.get("kr_snapshots").unwrap_or(&empty);
                    let objectives = report.tables.get("objective_snapshots").unwrap_or(&empty);
                    println!("{} as of {} (run {})", plan.job_name, report.as_of, report.run_id);
                    for note in &closed {
                        println!("{note}");
                    }
                    println!("{}", crate::summary::render(&plan, krs, objectives));
                    println!("written to {}", report.output);
                }
                if report.failed.is_empty() {
                    Ok(Outcome::Ok)
                } else {
                    // Each failure was logged once where it happened; here only which ones.
                    let ids: Vec<&str> = report.failed.iter().map(|(kr, _)| kr.as_str()).collect();
                    tracing::error!("{} key result(s) failed ({}); exit code 3", ids.len(), ids.join(", "));
                    Ok(Outcome::SomeKeyResultsFailed)
                }
            }
            Command::Backfill { range, krs } => rebuild(range, krs, Mode::Backfill, cli.log_format).await,
            Command::Recompute { range } => rebuild(range, Vec::new(), Mode::Recompute, cli.log_format).await,
            Command::Report { job, period, out, output } => {
                let plan = job::load(&job)?;
                let output = output.map(|o| Location::parse(&o, Path::new("."), &Default::default())).transpose().map_err(anyhow::Error::msg)?;
                let built = report::build(&plan, period.as_deref(), output.as_ref()).await.context("cannot build the report")?;
                let html = report::render(&built)?;
                // Written aside and renamed, so a reader never opens half a report.
                let dir = out.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
                let mut file = tempfile::Builder::new().permissions(std::os::unix::fs::PermissionsExt::from_mode(0o644)).tempfile_in(dir).with_context(|| format!("cannot write in {}", dir.display()))?;
                std::io::Write::write_all(&mut file, html.as_bytes()).with_context(|| format!("cannot write {}", out.display()))?;
                file.persist(&out).with_context(|| format!("cannot write {}", out.display()))?;
                let krs: usize = built.objectives.iter().map(|o| o.key_results.len()).sum();
                println!("wrote {} ({} {}: {} objective(s), {} key result(s), snapshots {} to {})", out.display(), built.job, built.period, built.objectives.len(), krs, built.first_date, built.last_date);
                Ok(Outcome::Ok)
            }
            Command::Validate { job, online, replay } => match job::load(&job) {
                Ok(plan) => {
                    for w in &plan.warnings {
                        println!("{w}");
                    }
                    // Every problem at once: what needs no data, then (--online) what does.
                    let planned = inspect::check_offline(&plan, Utc::now().date_naive()).await?;
                    for p in &planned {
                        println!("{p}");
                    }
                    let replay_given = replay.is_some();
                    let problems = if online { inspect::check_online(&plan, replay).await } else { Vec::new() };
                    for (subject, problem) in &problems {
                        println!("{}: error: {subject}: {problem}", job.display());
                    }
                    if !planned.is_empty() || !problems.is_empty() {
                        let online_part = if online { format!(" ({} online)", problems.len()) } else { String::new() };
                        println!("{}: {} error(s){online_part}, {} warning(s)", job.display(), planned.len() + problems.len(), plan.warnings.len());
                        return Ok(Outcome::CouldNotRun);
                    }
                    // An API connection answered from an archive was not reached: say so.
                    let replayed: Vec<&str> = plan
                        .connections
                        .iter()
                        .filter(|(_, c)| c.replayed(replay_given))
                        .map(|(n, _)| n.as_str())
                        .collect();
                    let online_note = match (online, replayed.is_empty()) {
                        (false, _) => String::new(),
                        (true, true) => " (online: every connection reached, every key result's source found)".into(),
                        (true, false) => format!(
                            " (online: every key result's source found; {} answered from a replay archive, not the network)",
                            replayed.join(", ")
                        ),
                    };
                    println!(
                        "{}: ok{} — {} objective(s), {} key result(s), {} connection(s), {} warning(s)",
                        job.display(),
                        online_note,
                        plan.objectives.len(),
                        plan.key_results.len(),
                        plan.connections.len(),
                        plan.warnings.len()
                    );
                    Ok(Outcome::Ok)
                }
                Err(model::JobError::Invalid { problems, warnings, .. }) => {
                    for p in problems.iter().chain(&warnings) {
                        println!("{p}");
                    }
                    println!("{}: {} error(s), {} warning(s)", job.display(), problems.len(), warnings.len());
                    Ok(Outcome::CouldNotRun)
                }
                Err(e) => Err(e.into()),
            },
            Command::Preview { job, kr, as_of, replay } => {
                let plan = job::load(&job)?;
                let as_of = as_of.unwrap_or_else(|| Utc::now().date_naive());
                let preview = inspect::preview(&plan, &kr, as_of, replay).await?;
                println!("{} as of {as_of} — {}", preview.kr_id, preview.source);
                if let Some(note) = plan.key_result(&kr).and_then(|k| k.period.closed_note(as_of)) {
                    println!("{note}");
                }
                if let Some(k) = plan.key_result(&kr).filter(|k| k.offset_days > 0) {
                    println!("value as of {} (offset_days = {}: evaluated on {})", k.value_date(as_of), k.offset_days, k.evaluation_date(as_of));
                }
                if let Some(rows) = &preview.rows {
                    println!("{rows}");
                }
                match preview.value {
                    Ok(Measured::Value(v)) => {
                        println!("value: {v}");
                        Ok(Outcome::Ok)
                    }
                    Ok(Measured::Traced { value, source }) => {
                        println!("value: {value} (from the {source})");
                        Ok(Outcome::Ok)
                    }
                    Ok(Measured::NoData(note)) => {
                        println!("no_data: {note}");
                        Ok(Outcome::Ok)
                    }
                    Err(e) => {
                        println!("no value: {e}");
                        Ok(Outcome::SomeKeyResultsFailed)
                    }
                }
            }
            Command::Athena { command } => {
                let (job, output, register) = match command {
                    AthenaCommand::Ddl { job, output } => (job, output, None),
                    AthenaCommand::Register { job, database, workgroup, results, timeout_secs, output } => (
                        job,
                        output,
                        Some(athena::RegisterOptions { database, workgroup, results, timeout: Duration::from_secs(timeout_secs), poll: Duration::from_millis(500) }),
                    ),
                };
                let mut plan = job::load(&job)?;
                if let Some(o) = output {
                    plan.output = Location::parse(&o, Path::new("."), &Default::default()).map_err(anyhow::Error::msg)?;
                }
                let Location::S3(s3) = &plan.output else {
                    return Err(athena::AthenaError::NotS3(plan.output.to_string()).into());
                };
                let schemas = pipeline::output_schemas(&plan).await?;
                let statements = athena::statements(&plan, s3, &schemas)?;
                match register {
                    None => {
                        for s in &statements {
                            println!("-- {}\n{};\n", s.name, s.sql);
                        }
                    }
                    Some(options) => {
                        let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest());
                        if let Some(p) = &s3.aws.profile {
                            loader = loader.profile_name(p);
                        }
                        if let Some(r) = &s3.aws.region {
                            loader = loader.region(aws_config::Region::new(r.clone()));
                        }
                        let client = aws_sdk_athena::Client::new(&loader.load().await);
                        let n = athena::register(&client, &options, &statements).await?;
                        println!("{n} statement(s) succeeded in database {}", options.database);
                    }
                }
                Ok(Outcome::Ok)
            }
            Command::Lookml { job, out, database, connection } => {
                let plan = job::load(&job)?;
                let schemas = pipeline::output_schemas(&plan).await?;
                std::fs::create_dir_all(&out).with_context(|| format!("cannot create {}", out.display()))?;
                let mut written = Vec::new();
                for (table, partition, schema) in &schemas {
                    let path = out.join(format!("{table}.view.lkml"));
                    std::fs::write(&path, lookml::view(&database, table, partition, schema)?).with_context(|| format!("cannot write {}", path.display()))?;
                    written.push(path);
                }
                for (view, text) in lookml::latest_views(&database) {
                    let path = out.join(format!("{view}.view.lkml"));
                    std::fs::write(&path, text).with_context(|| format!("cannot write {}", path.display()))?;
                    written.push(path);
                }
                let path = out.join("okrflow.model.lkml");
                std::fs::write(&path, lookml::model(&connection)).with_context(|| format!("cannot write {}", path.display()))?;
                written.push(path);
                for p in &written {
                    println!("wrote {}", p.display());
                }
                Ok(Outcome::Ok)
            }
            Command::Init { dir } => {
                let job = dir.join("job.toml");
                let shown = crate::model::normalise(&job);
                storage::create_folder(&dir.join("tallyfy")).map_err(anyhow::Error::msg)?;
                let mut file = match std::fs::OpenOptions::new().write(true).create_new(true).open(&job) {
                    Ok(file) => file,
                    Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                        anyhow::bail!("{} exists already; an existing job file is never replaced", shown.display())
                    }
                    Err(e) => return Err(anyhow::Error::new(e).context(format!("cannot write {}", shown.display()))),
                };
                std::io::Write::write_all(&mut file, STARTER_JOB.as_bytes()).with_context(|| format!("cannot write {}", shown.display()))?;
                println!("wrote {} — check it with `okrflow validate {}`", shown.display(), shown.display());
                Ok(Outcome::Ok)
            }
            Command::DemoData { out, copies, files, repeats } => {
                let stats = match copies {
                    None => crate::demo_data::write_demo(&out),
                    Some(copies) => crate::demo_data::write_scaled(&out, copies, files, repeats),
                }
                .with_context(|| format!("cannot write {}", out.display()))?;
                println!("wrote {} files ({} rows, {} processes) to {}", stats.files, stats.rows, stats.processes, out.display());
                Ok(Outcome::Ok)
            }
        }
    })
}
