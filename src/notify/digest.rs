//! What a digest says, read from the report of the run's period (`crate::report`): the
//! period, each objective's status, the key results at risk or behind with why and whose,
//! failures and stale values, and the owners whose health update is overdue.

use crate::report::Report;
use chrono::NaiveDate;

/// One line about a key result.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Line {
    pub id: String,
    pub title: String,
    pub owner: Option<String>,
    /// `at risk`, `behind`, `failed`, `stale`, …
    pub reasons: String,
    pub why: Option<String>,
}

/// A run's digest.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Digest {
    pub job: String,
    pub period: String,
    pub as_of: NaiveDate,
    /// `FY27-Q1 closed — final, as of …` once the period is over.
    pub closed: Option<String>,
    /// `(id, title, status, progress, expected)` of each objective, in the report's order.
    pub objectives: Vec<(String, String, String, Option<f64>, Option<f64>)>,
    /// At risk or behind.
    pub attention: Vec<Line>,
    /// Failed, or stale (a failure keeping its last good value).
    pub failing: Vec<Line>,
    /// Owners with an overdue health update, each once, sorted.
    pub overdue: Vec<String>,
}

impl Digest {
    /// The digest of `report`.
    pub(crate) fn of(report: &Report) -> Digest {
        let line = |a: &crate::report::Attention| Line {
            id: a.id.clone(),
            title: a.title.clone(),
            owner: a.owner.clone(),
            reasons: a.reasons.clone(),
            why: a.why.clone(),
        };
        let attention = &report.overview.attention;
        let mut overdue: Vec<String> = attention
            .iter()
            .filter(|a| a.health_overdue)
            .map(|a| a.owner.clone().unwrap_or_else(|| "(no owner)".into()))
            .collect();
        overdue.sort();
        overdue.dedup();
        Digest {
            job: report.job.clone(),
            period: report.period.clone(),
            as_of: report.last_date,
            closed: report.closed.clone(),
            objectives: report
                .objectives
                .iter()
                .map(|o| {
                    (
                        o.id.clone(),
                        o.title.clone(),
                        o.status.clone().unwrap_or_else(|| "no_data".into()),
                        o.progress,
                        o.expected,
                    )
                })
                .collect(),
            attention: attention.iter().filter(|a| a.off_pace).map(line).collect(),
            failing: attention.iter().filter(|a| a.failing).map(line).collect(),
            overdue,
        }
    }

    /// The one-line summary: the fallback text of a notification.
    pub(crate) fn headline(&self) -> String {
        format!(
            "{} · {} as of {}: {} key result(s) at risk or behind, {} failing, {} health update(s) overdue",
            self.job,
            self.period,
            self.as_of,
            self.attention.len(),
            self.failing.len(),
            self.overdue.len()
        )
    }
}

/// `62%` of a fraction.
pub(crate) fn percent(p: Option<f64>) -> String {
    p.map_or_else(|| "–".into(), |p| format!("{:.0}%", p * 100.0))
}

/// A key result's line as text: `O1-KR2 Raise … (lee): behind — why`.
pub(crate) fn describe(l: &Line) -> String {
    let owner = l
        .owner
        .as_deref()
        .map(|o| format!(" ({o})"))
        .unwrap_or_default();
    let why = l
        .why
        .as_deref()
        .map(|w| format!(" — {w}"))
        .unwrap_or_default();
    format!("{} {}{owner}: {}{why}", l.id, l.title, l.reasons)
}
