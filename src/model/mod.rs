//! The OKR tree: the job file ([`job`]), fiscal periods ([`period`]) and the validated plan
//! ([`plan`]) that the rest of okrflow runs from. Nothing here does I/O beyond reading the
//! job file itself.

mod check;
pub mod diagnose;
pub mod job;
mod key_result;
pub mod kinds;
pub mod location;
mod measure;
pub mod parse;
pub mod period;
pub mod plan;
mod tree;
pub mod value;

pub use kinds::{Kinds, Resolved};
pub use location::{Location, S3Location, normalise};
pub use period::Period;
pub use plan::{
    Bounds, KeyResult, KrSource, LatePenalty, Measure, Milestone, Objective, Phase, Plan, Threshold,
};

use std::fmt;
use std::path::{Path, PathBuf};

/// How bad a finding in a job file is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Severity {
    /// The job cannot run as written.
    Error,
    /// OKR practice a reviewer would question; the job still runs.
    Warning,
}

/// One finding in a job file, with where it is and which objective or key result it is about.
#[derive(Debug, Clone, PartialEq)]
pub struct Problem {
    pub severity: Severity,
    /// The job file.
    pub file: PathBuf,
    /// 1-based line and column, when the finding points at one place.
    pub line: Option<(usize, usize)>,
    /// `objective O1`, `key result O1-KR1`, `connection tallyfy`, …
    pub subject: Option<String>,
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        if let Some((line, col)) = self.line {
            write!(f, ":{line}:{col}")?;
        }
        let level = match self.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        write!(f, ": {level}: ")?;
        if let Some(subject) = &self.subject {
            write!(f, "{subject}: ")?;
        }
        write!(f, "{}", self.message)
    }
}

/// Why a job file could not become a plan.
#[derive(Debug, thiserror::Error)]
pub enum JobError {
    #[error("cannot read job file {}: {source}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{}:{line}:{column}: {message}", path.display())]
    Syntax {
        path: PathBuf,
        line: usize,
        column: usize,
        message: String,
    },
    #[error("job file {} has {} error(s):\n{}", path.display(), problems.len(), list(problems))]
    Invalid {
        path: PathBuf,
        /// The errors.
        problems: Vec<Problem>,
        /// The warnings found alongside them (not part of the message).
        warnings: Vec<Problem>,
    },
}

fn list(problems: &[Problem]) -> String {
    problems
        .iter()
        .map(|p| format!("  {p}"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Reads and validates a job file for the source kinds `K`. Warnings are kept in
/// [`Plan::warnings`].
pub fn load<K: Kinds>(path: &Path) -> Result<Plan<K::Connection, K::Link>, JobError> {
    let text = std::fs::read_to_string(path).map_err(|source| JobError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    parse::parse::<K>(path, &text)
}

/// 1-based line and column of a byte offset in `text`.
pub fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(text.len());
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    (line, before[line_start..].chars().count() + 1)
}

#[cfg(test)]
mod tests {
    /// The model is generic over the source kinds ([`super::Kinds`]): its code names no
    /// source (tests may use the registered kinds), so the sources can import it.
    #[test]
    fn the_model_imports_no_source() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/src/model");
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            let text = std::fs::read_to_string(&path).unwrap();
            let code = text.split("#[cfg(test)]").next().unwrap();
            assert!(
                !code.contains(concat!("sources", "::")),
                "{} names a source outside its tests",
                path.display()
            );
        }
    }
}
