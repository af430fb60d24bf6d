//! How a run ends, and the exit codes a scheduler sees.
//!
//! Each layer has its own error enum ([`crate::model::JobError`], [`crate::sources::SourceError`],
//! [`crate::engine::EngineError`], [`crate::sink::SinkError`]); they meet here only as the
//! outcome of a whole command.

use crate::stop::Signal;
use std::process::ExitCode;

/// The outcome of one command, mapped to the documented exit codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Everything worked: exit 0.
    Ok,
    /// The job could not run at all (bad job file, unreadable output, I/O failure): exit 1.
    CouldNotRun,
    /// The job ran and wrote its results, but some key results failed and were written
    /// stale or with an error: exit 3. (Exit 2 is clap's code for a bad command line.)
    SomeKeyResultsFailed,
    /// The job ran and wrote its results, but some key results cannot work as configured (an
    /// unset secret variable, an unknown dashboard, tile or look, a JQL Jira rejects, SQL
    /// that does not plan): exit 4, whatever else failed. Unlike 3 it will not pass by itself.
    Misconfigured,
    /// A signal stopped it (`run`, `backfill`, `recompute`): its running queries were
    /// stopped, nothing more was committed and the lock was released; exit 130 for SIGINT,
    /// 143 for SIGTERM.
    Stopped(Signal),
}

impl Outcome {
    /// The process exit code for this outcome.
    pub fn code(self) -> u8 {
        match self {
            Outcome::Ok => 0,
            Outcome::CouldNotRun => 1,
            Outcome::SomeKeyResultsFailed => 3,
            Outcome::Misconfigured => 4,
            Outcome::Stopped(signal) => signal.exit_code(),
        }
    }

    /// The outcome as a process exit code.
    pub fn exit_code(self) -> ExitCode {
        ExitCode::from(self.code())
    }
}
