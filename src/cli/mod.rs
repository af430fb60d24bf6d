//! The command line: `run`, `validate`, `preview`, `backfill`, `recompute`, `report`,
//! `athena ddl|register`, `lookml`, `init` and `demo-data`, and how their results become an
//! [`Outcome`]. The arguments are in `args`, logging in `logging`, and each command in a file
//! of its own.

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
        match cli.command {
            Command::Run(args) => run::run(args).await,
            Command::Validate(args) => validate::validate(args).await,
            Command::Preview(args) => preview::preview(args).await,
            Command::Backfill(args) => backfill::backfill(args, log_format).await,
            Command::Recompute(args) => backfill::recompute(args, log_format).await,
            Command::Report(args) => report::report(args).await,
            Command::Athena { command } => athena::athena(command).await,
            Command::Lookml(args) => lookml::lookml(args).await,
            Command::Init(args) => init::init(args),
            Command::DemoData(args) => demo_data::demo_data(args),
        }
    })
}
