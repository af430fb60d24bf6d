//! The command line as clap parses it: the commands, their flags and help text.

use crate::model::Location;
use chrono::NaiveDate;
use clap::{Parser, Subcommand, ValueEnum};
use std::path::{Path, PathBuf};

/// okrflow keeps OKRs honest with data: it reads key-result numbers from Tallyfy exports,
/// Looker tiles and looks, and Jira JQL queries, scores them in SQL (progress, expected
/// progress, status, quarterly score) and writes Athena-ready Parquet partitions.
///
/// Exit codes: 0 all key results computed (a key result whose source answered with nothing to
/// measure yet is `no_data`, not a failure); 3 results written but some key results failed
/// (their rows carry the error, and the last good value when there is one); 4 the same, but
/// some key results cannot work as configured (SQL that does not plan, an unset secret
/// variable, an unknown dashboard, tile or look, a JQL syntax error); 1 the job could
/// not run (bad job file, unreadable or unwritable output); 2 bad command line; 130 and 143
/// a run, backfill or recompute stopped by SIGINT or SIGTERM (its running Athena queries
/// stopped, nothing more committed, the lock released).
#[derive(Debug, Parser)]
#[command(name = "okrflow", version, about, long_about)]
pub struct Cli {
    #[command(subcommand)]
    pub(crate) command: Command,
    /// Log format on stderr: `text` for people, `json` for schedulers.
    #[arg(long, value_enum, default_value_t = LogFormat::Text, global = true)]
    pub(crate) log_format: LogFormat,
    /// More log detail (-v: debug, -vv: trace). RUST_LOG overrides this.
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    pub(crate) verbose: u8,
    /// Only warnings and errors in the log.
    #[arg(short, long, global = true)]
    pub(crate) quiet: bool,
}

/// Log output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum LogFormat {
    Text,
    Json,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Run a job: extract every key result's value, score it, write the partitions for the
    /// as-of date and print a summary.
    Run(RunArgs),
    /// Check a job file: syntax, references, periods, SQL, and the OKR-practice warnings a
    /// reviewer would raise, without reading any data. With --online, also log in to every
    /// connection, resolve every dashboard, tile, look and Jira field, check every JQL and
    /// list the Tallyfy exports (no query is run). Exit 1 when it has errors.
    Validate(ValidateArgs),
    /// Fetch one key result's value as a run would and print it with the rows it came from.
    /// Nothing is written or archived.
    Preview(PreviewArgs),
    /// Rebuild the snapshots of a range of dates, one per date, as `run --as-of` that date
    /// would make them. Each source reconstructs the date as well as it honestly can: Tallyfy
    /// from the latest snapshots up to that day; Jira from the issues' created and
    /// status-category dates; Looker from a time x-axis's bucket for the day, or that day's
    /// raw archive, and otherwise the key result says it is not reconstructible. Dates
    /// already committed with the current definitions are skipped (so a stopped backfill
    /// resumes), unless --force. Dates are committed in order under the output's lock.
    Backfill(BackfillArgs),
    /// Re-score a range of committed dates from their raw archives (`<output>/raw/`) and the
    /// Tallyfy exports, without calling Looker or Jira: for a changed target, weight, status
    /// threshold or SQL. Values of API key results stay what the archive says; progress,
    /// status and scores follow the job file as it is now. Dates never run are skipped.
    Recompute(RecomputeArgs),
    /// Write the progress report of a period: one self-contained HTML file (open it in any
    /// browser, offline). It opens on the answer — the period and how far through it is,
    /// status counts, the objective tree, the key results that need attention and why — then
    /// each key result's charts (progress against expected, and its value), stale and failed
    /// dates marked, days without a snapshot left as gaps. Reads the snapshots written so far.
    Report(ReportArgs),
    /// Athena: print or run the statements that make the output tables queryable.
    Athena {
        #[command(subcommand)]
        command: AthenaCommand,
    },
    /// Write LookML for the output tables into a folder a Looker project takes as it is: a
    /// view file per table, a model with explores joining key results to their objectives,
    /// and four LookML dashboards, every name under --prefix.
    Lookml(LookmlArgs),
    /// Write a commented starter job into a folder: `DIR/job.toml` with an objective in the
    /// current calendar quarter and three key results, from three of the five source kinds
    /// (Tallyfy SQL, a Looker tile, a Jira JQL; Athena queries and check-ins are described in
    /// docs/job-file.md), and an empty `DIR/tallyfy/` for the exports. It passes `validate`;
    /// docs/job-file.md describes every field.
    Init(InitArgs),
    /// Regenerate the bundled sample Tallyfy exports (deterministic: the same files every
    /// time). With --copies, write a larger data set for benchmarks instead: that many copies
    /// of the demo's processes over --files export files.
    DemoData(DemoDataArgs),
}

/// `run`'s arguments.
#[derive(Debug, clap::Args)]
pub(crate) struct RunArgs {
    /// The job file (TOML).
    pub(crate) job: PathBuf,
    /// The run date (YYYY-MM-DD, default: today in UTC). Key results of a period that is
    /// over are evaluated on its last day. Rerunning a date replaces its partitions.
    #[arg(long, value_parser = parse_date)]
    pub(crate) as_of: Option<NaiveDate>,
    /// Write to this folder or s3://bucket/prefix/ instead of the job's [output] url (S3
    /// through the default AWS credential chain).
    #[arg(long)]
    pub(crate) output: Option<String>,
    /// Do not print the summary table.
    #[arg(long)]
    pub(crate) no_summary: bool,
    /// Answer Looker and Jira requests from this raw archive instead of the network: an
    /// output's `raw/` folder (the run date's `as_of=` folder is used) or one day's folder.
    #[arg(long, value_name = "DIR")]
    pub(crate) replay: Option<PathBuf>,
    /// Do not post the digest to the job's [notify.slack] / [notify.teams] webhooks.
    #[arg(long)]
    pub(crate) no_notify: bool,
}

/// `validate`'s arguments.
#[derive(Debug, clap::Args)]
pub(crate) struct ValidateArgs {
    /// The job file (TOML).
    pub(crate) job: PathBuf,
    /// Also reach every connection and resolve what each key result reads.
    #[arg(long)]
    pub(crate) online: bool,
    /// With --online: answer Looker and Jira requests from this raw archive.
    #[arg(long, value_name = "DIR")]
    pub(crate) replay: Option<PathBuf>,
}

/// `preview`'s arguments.
#[derive(Debug, clap::Args)]
pub(crate) struct PreviewArgs {
    /// The job file (TOML).
    pub(crate) job: PathBuf,
    /// The key result's id.
    #[arg(long)]
    pub(crate) kr: String,
    /// The evaluation date (YYYY-MM-DD, default: today in UTC).
    #[arg(long, value_parser = parse_date)]
    pub(crate) as_of: Option<NaiveDate>,
    /// Answer Looker and Jira requests from this raw archive instead of the network.
    #[arg(long, value_name = "DIR")]
    pub(crate) replay: Option<PathBuf>,
}

/// `backfill`'s arguments.
#[derive(Debug, clap::Args)]
pub(crate) struct BackfillArgs {
    #[command(flatten)]
    pub(crate) range: RangeArgs,
    /// Fetch only this key result (repeatable). On a date that already has a snapshot,
    /// the other key results keep its values; a date without one fetches them all.
    #[arg(long = "kr", value_name = "ID")]
    pub(crate) krs: Vec<String>,
}

/// `recompute`'s arguments.
#[derive(Debug, clap::Args)]
pub(crate) struct RecomputeArgs {
    #[command(flatten)]
    pub(crate) range: RangeArgs,
}

/// The arguments `backfill` and `recompute` share.
#[derive(Debug, clap::Args)]
pub(crate) struct RangeArgs {
    /// The job file (TOML).
    pub(crate) job: PathBuf,
    /// First date (YYYY-MM-DD).
    #[arg(long, value_parser = parse_date)]
    pub(crate) from: NaiveDate,
    /// Last date, included (YYYY-MM-DD, at the latest today).
    #[arg(long, value_parser = parse_date)]
    pub(crate) to: NaiveDate,
    /// Redo dates already committed with the current definitions.
    #[arg(long)]
    pub(crate) force: bool,
    /// Print what each date would fetch and write, and change nothing.
    #[arg(long)]
    pub(crate) dry_run: bool,
    /// Dates extracted at the same time (committed one by one, in date order). They share
    /// each connection's own request limit (`concurrency`, Athena's `max_concurrency`).
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u16).range(1..=32))]
    pub(crate) concurrency: u16,
    /// Write to this folder or s3://bucket/prefix/ instead of the job's [output] url.
    #[arg(long)]
    pub(crate) output: Option<String>,
}

/// `report`'s arguments.
#[derive(Debug, clap::Args)]
pub(crate) struct ReportArgs {
    /// The job file (TOML).
    pub(crate) job: PathBuf,
    /// The period, e.g. FY27-Q1, FY27 or a custom period (default: of the newest snapshot's
    /// periods, one still running on its date, then the one with the most key results).
    #[arg(long)]
    pub(crate) period: Option<String>,
    /// Report as of this date (YYYY-MM-DD): snapshots after it are left out, and the period
    /// is chosen as on that day (default: the newest snapshot's date; never the clock).
    #[arg(long, value_parser = parse_date)]
    pub(crate) as_of: Option<NaiveDate>,
    /// The HTML file to write.
    #[arg(long, default_value = "report.html")]
    pub(crate) out: PathBuf,
    /// Read snapshots from this folder or s3://bucket/prefix/ instead of the job's [output].
    #[arg(long)]
    pub(crate) output: Option<String>,
}

/// `athena`'s commands.
#[derive(Debug, Subcommand)]
pub(crate) enum AthenaCommand {
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

/// `lookml`'s arguments.
#[derive(Debug, clap::Args)]
pub(crate) struct LookmlArgs {
    /// The job file (TOML).
    pub(crate) job: PathBuf,
    /// Folder to write the LookML files into (made if missing). Copy it to the Looker
    /// project's root as it is: the model's includes are anchored to its last path
    /// component (`--out build/okr_looker` includes "/okr_looker/okr_*.view.lkml").
    #[arg(long)]
    pub(crate) out: PathBuf,
    /// Put before every view, explore, dashboard and the model's name (the model is
    /// `<prefix>okrflow`), so nothing collides with the project's own: lower-case letters,
    /// digits and `_`; "" for none.
    #[arg(long, default_value = "okr_")]
    pub(crate) prefix: String,
    /// The Athena database the tables are registered in.
    #[arg(long, default_value = "okr")]
    pub(crate) database: String,
    /// The Looker connection name the model uses.
    #[arg(long, default_value = "athena")]
    pub(crate) connection: String,
}

/// `init`'s arguments.
#[derive(Debug, clap::Args)]
pub(crate) struct InitArgs {
    /// The folder to write into (made if missing). An existing job.toml is not replaced.
    #[arg(default_value = ".")]
    pub(crate) dir: PathBuf,
}

/// `demo-data`'s arguments.
#[derive(Debug, clap::Args)]
pub(crate) struct DemoDataArgs {
    /// Folder to write into.
    #[arg(long, default_value = "jobs/demo/tallyfy")]
    pub(crate) out: PathBuf,
    /// Copies of the demo organisation's processes (about 1,500 rows each).
    #[arg(long)]
    pub(crate) copies: Option<usize>,
    /// With --copies: how many export files to spread them over.
    #[arg(long, default_value_t = 300)]
    pub(crate) files: usize,
    /// With --copies: write each snapshot this many times, to different files (more rows
    /// for the same processes). --files must keep them apart: at least 6 files a repeat.
    #[arg(long, default_value_t = 1)]
    pub(crate) repeats: usize,
}

fn parse_date(s: &str) -> Result<NaiveDate, String> {
    NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .map_err(|e| format!("`{s}` is not a date like 2026-11-23 ({e})"))
}

/// An `--output` given on the command line: a folder (relative to the working directory) or
/// an `s3://` url reached through the default AWS settings.
pub(crate) fn output_location(output: Option<&str>) -> anyhow::Result<Option<Location>> {
    output
        .map(|o| Location::parse(o, Path::new("."), &Default::default()))
        .transpose()
        .map_err(anyhow::Error::msg)
}
