//! The command line: `run`, `validate`, `preview`, `backfill`, `recompute`, `report`,
//! `athena ddl|register`, `lookml`, `init` and `demo-data`, and how their results become an
//! [`Outcome`] or the error text printed on stderr. The arguments are in `args`, logging in
//! `logging`, and each command in a file of its own. `run`, `backfill` and `recompute` stop
//! cleanly on SIGTERM or SIGINT ([`crate::stop`]); the other commands end as the signal ends
//! any process.

mod args;
mod athena;
mod backfill;
mod demo_data;
mod init;
mod logging;
mod lookml;
mod preview;
mod report;
mod run;
mod validate;

pub use args::Cli;
pub use logging::init_logging;

use crate::error::Outcome;
use crate::stop::{Signal, Stop};
use anyhow::Context;
use args::Command;

/// Runs a parsed command line.
pub fn run(cli: Cli) -> anyhow::Result<Outcome> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let log_format = cli.log_format;
    runtime.block_on(async move {
        let on_signals = || Stop::on_signals().context("cannot listen for SIGTERM and SIGINT");
        match cli.command {
            Command::Run(args) => run::run(args, on_signals()?).await,
            Command::Validate(args) => validate::validate(args).await,
            Command::Preview(args) => preview::preview(args).await,
            Command::Backfill(args) => backfill::backfill(args, log_format, on_signals()?).await,
            Command::Recompute(args) => backfill::recompute(args, log_format, on_signals()?).await,
            Command::Report(args) => report::report(args).await,
            Command::Athena { command } => athena::athena(command).await,
            Command::Lookml(args) => lookml::lookml(args).await,
            Command::Init(args) => init::init(args),
            Command::DemoData(args) => demo_data::demo_data(args),
        }
    })
}

/// The outcome of a command `signal` stopped, said on stderr with what it left.
fn stopped(signal: Signal, left: &str) -> Outcome {
    tracing::error!(
        "stopped by {signal}: {left}; the lock is released; exit code {}",
        signal.exit_code()
    );
    Outcome::Stopped(signal)
}

/// Says on stderr why a command could not run, and the exit code it ends with: the text of
/// [`error_report`], or with `json` one JSON line shaped as the log's (`timestamp`, `level`,
/// `fields` with `message`, `chain` — each cause once, the error first — and `exit_code`).
pub fn report_fatal(err: &anyhow::Error, outcome: Outcome, json: bool) {
    if !json {
        eprint!("{}", error_report(err));
        return;
    }
    let mut chain: Vec<String> = Vec::new();
    for cause in err.chain() {
        let text = cause.to_string();
        if !chain
            .last()
            .is_some_and(|previous| previous.contains(&text))
        {
            chain.push(text);
        }
    }
    let line = serde_json::json!({
        "timestamp": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
        "level": "ERROR",
        "fields": {
            "message": format!("error: {err}"),
            "chain": chain,
            "exit_code": outcome.code(),
        },
        "target": "okrflow",
    });
    eprintln!("{line}");
}

/// Ends a command line clap refused: help and version as clap prints them; a usage error as
/// clap prints it (exit 2), or, when the arguments ask for `--log-format json`, as one JSON
/// line like [`report_fatal`]'s, so that a scheduler reading JSON sees it.
pub fn usage_error(e: clap::Error) -> std::process::ExitCode {
    let args: Vec<String> = std::env::args().collect();
    let json = args
        .windows(2)
        .any(|w| w[0] == "--log-format" && w[1] == "json")
        || args.iter().any(|a| a == "--log-format=json");
    if !json || !e.use_stderr() {
        e.exit()
    }
    let code = e.exit_code();
    let text = e.render().to_string();
    let mut lines = text.lines().filter(|l| !l.trim().is_empty());
    let message = lines
        .next()
        .unwrap_or("error: bad command line")
        .to_string();
    let line = serde_json::json!({
        "timestamp": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
        "level": "ERROR",
        "fields": {
            "message": message,
            "chain": lines.map(str::trim).collect::<Vec<_>>(),
            "exit_code": code,
        },
        "target": "okrflow",
    });
    eprintln!("{line}");
    std::process::ExitCode::from(u8::try_from(code).unwrap_or(2))
}

/// What `okrflow` prints on stderr for a command that could not run: `error: …`, then a
/// `caused by: …` line for each cause in the chain whose text the line before does not
/// already include (an error such as "cannot read job file F: REASON" carries its cause's
/// text, and printing REASON again would say it twice).
pub fn error_report(err: &anyhow::Error) -> String {
    let mut report = format!("error: {err}\n");
    let mut previous = err.to_string();
    for cause in err.chain().skip(1) {
        let text = cause.to_string();
        if !previous.contains(&text) {
            report.push_str(&format!("  caused by: {text}\n"));
        }
        previous = text;
    }
    report
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cause_already_in_the_message_is_not_repeated() {
        let io = std::io::Error::new(std::io::ErrorKind::NotFound, "no such file");
        let read = crate::model::JobError::Read {
            path: "nope.toml".into(),
            source: io,
        };
        let report = error_report(&anyhow::Error::new(read));
        assert_eq!(
            report,
            "error: cannot read job file nope.toml: no such file\n"
        );

        let chained = anyhow::anyhow!("no such folder").context("cannot build the report");
        assert_eq!(
            error_report(&chained),
            "error: cannot build the report\n  caused by: no such folder\n"
        );
    }
}
