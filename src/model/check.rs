//! What every check of the job file shares: the problem collector, where each objective and
//! key result is written, and the date and offset checks. A leaf: the plan's parser, the key
//! results' and the tree's checks all import it.

use super::{Problem, Severity, line_col};
use chrono::NaiveDate;
use std::collections::HashMap;
use std::ops::Range;
use std::path::Path;

/// Collects problems while the plan is built.
pub(super) struct Checker<'a> {
    pub path: &'a Path,
    pub text: &'a str,
    pub problems: Vec<Problem>,
}

impl Checker<'_> {
    pub fn push(
        &mut self,
        severity: Severity,
        span: Option<Range<usize>>,
        subject: Option<String>,
        message: String,
    ) {
        self.problems.push(Problem {
            severity,
            file: self.path.to_path_buf(),
            line: span.map(|s| line_col(self.text, s.start)),
            subject,
            message,
        });
    }
    pub fn error(
        &mut self,
        span: Range<usize>,
        subject: impl Into<Option<String>>,
        message: impl Into<String>,
    ) {
        self.push(Severity::Error, Some(span), subject.into(), message.into());
    }
    pub fn warn(
        &mut self,
        span: Option<Range<usize>>,
        subject: impl Into<Option<String>>,
        message: impl Into<String>,
    ) {
        self.push(Severity::Warning, span, subject.into(), message.into());
    }
}

/// Where each objective, key result and alignment is written, for messages.
#[derive(Default)]
pub(super) struct Spans {
    pub objectives: HashMap<String, Range<usize>>,
    pub key_results: HashMap<String, Range<usize>>,
    /// An objective's `aligns_to`.
    pub objective_alignments: HashMap<String, Range<usize>>,
    /// A key result's `aligns_to`.
    pub kr_alignments: HashMap<String, Range<usize>>,
}

/// Checks a closing-period offset: 1 to 30 days.
pub(super) fn check_offset(days: u32) -> Result<(), String> {
    if (1..=30).contains(&days) {
        Ok(())
    } else {
        Err(format!("offset_days must be 1 to 30, not {days}"))
    }
}

/// A date of the job file (`2026-03-01`), or an error at its place.
pub(super) fn date(
    c: &mut Checker<'_>,
    value: &toml::Spanned<toml::value::Datetime>,
    subject: &Option<String>,
    key: &str,
) -> Option<NaiveDate> {
    let d = value.get_ref();
    match d
        .date
        .and_then(|t| NaiveDate::from_ymd_opt(t.year.into(), t.month.into(), t.day.into()))
    {
        Some(day) if d.time.is_none() => Some(day),
        _ => {
            c.error(
                value.span(),
                subject.clone(),
                format!("{key} must be a date such as 2026-04-15"),
            );
            None
        }
    }
}
