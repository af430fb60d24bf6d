//! A key result's link to Jira, validated against its measure: the JQL, what it adds up
//! ([`Metric`]), and whether it is a percent complete or a KPI over done issues only.

use super::config::JiraSource;
use crate::model::Measure;

/// What a key result adds up.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Metric {
    Count,
    TimeSpent,
    OriginalEstimate,
    RemainingEstimate,
    Progress,
    StoryPoints,
    /// A numeric custom field, by id (`customfield_10020`) or name.
    Field(String),
}

impl Metric {
    pub(crate) fn parse(s: &str) -> Metric {
        match s.trim() {
            "" | "count" => Metric::Count,
            "time_spent" => Metric::TimeSpent,
            "original_estimate" => Metric::OriginalEstimate,
            "remaining_estimate" => Metric::RemainingEstimate,
            "progress" => Metric::Progress,
            "story_points" => Metric::StoryPoints,
            other => Metric::Field(other.to_string()),
        }
    }

    /// The name passed to SQL (`field` for custom fields).
    pub fn as_str(&self) -> &str {
        match self {
            Metric::Count => "count",
            Metric::TimeSpent => "time_spent",
            Metric::OriginalEstimate => "original_estimate",
            Metric::RemainingEstimate => "remaining_estimate",
            Metric::Progress => "progress",
            Metric::StoryPoints => "story_points",
            Metric::Field(_) => "field",
        }
    }

    /// The Jira field the metric reads, besides `status`.
    pub(crate) fn jira_field(&self) -> Option<&'static str> {
        match self {
            Metric::TimeSpent => Some("timespent"),
            Metric::OriginalEstimate => Some("timeoriginalestimate"),
            Metric::RemainingEstimate => Some("timeestimate"),
            Metric::Progress => Some("progress"),
            _ => None,
        }
    }
}

/// A key result's link to Jira, validated.
#[derive(Debug, Clone, PartialEq)]
pub struct JiraLink {
    pub jql: String,
    pub metric: Metric,
    /// Percent complete (done ÷ all), else a KPI.
    pub percent_complete: bool,
    /// KPI: done issues only.
    pub completed_only: bool,
}

impl JiraLink {
    /// Checks a key result's `source = { jira = {...} }` against its measure.
    pub fn from_config(s: &JiraSource, measure: &Measure) -> Result<JiraLink, Vec<String>> {
        let mut problems = Vec::new();
        let jql = s.jql.trim().to_string();
        if jql.is_empty() {
            problems.push("jql is empty".to_string());
        }
        let metric = Metric::parse(s.metric.as_deref().unwrap_or("count"));
        let percent_complete = matches!(measure, Measure::PercentComplete);
        if percent_complete {
            if matches!(metric, Metric::RemainingEstimate | Metric::Progress) {
                problems.push(format!(
                    "metric `{}` has no percent complete (done ÷ all); use it with a kpi measure",
                    metric.as_str()
                ));
            }
            if s.completed_only.is_some() {
                problems.push(
                    "completed_only applies to KPIs; percent complete is always done ÷ all".into(),
                );
            }
        }
        if matches!(metric, Metric::Progress) && s.completed_only == Some(true) {
            problems.push(
                "completed_only does not apply to `progress` (an average over the matching issues)"
                    .into(),
            );
        }
        if !problems.is_empty() {
            return Err(problems);
        }
        Ok(JiraLink {
            jql,
            completed_only: s
                .completed_only
                .unwrap_or(matches!(metric, Metric::StoryPoints)),
            metric,
            percent_complete,
        })
    }

    /// A KPI that only counts issues: one counting request answers it.
    pub(crate) fn count_only(&self) -> bool {
        self.metric == Metric::Count && !self.percent_complete
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn source(t: &str) -> JiraSource {
        toml::from_str(t).unwrap()
    }

    #[test]
    fn metrics_and_measures_combine_as_the_table_says() {
        let pc = Measure::PercentComplete;
        let kpi = Measure::Kpi {
            start: 0.0,
            target: 20.0,
            phases: vec![],
        };
        let l = JiraLink::from_config(&source("jql = 'parent = AE-786'"), &pc).unwrap();
        assert_eq!(
            (l.metric.clone(), l.percent_complete),
            (Metric::Count, true)
        );
        let l = JiraLink::from_config(&source("jql = 'x'\nmetric = 'story_points'"), &kpi).unwrap();
        assert!(
            l.completed_only,
            "story points count done issues by default"
        );
        let l = JiraLink::from_config(&source("jql = 'x'\nmetric = 'Risk'"), &kpi).unwrap();
        assert_eq!(l.metric, Metric::Field("Risk".into()));
        let err =
            |t: &str, m: &Measure| JiraLink::from_config(&source(t), m).unwrap_err().join("; ");
        assert_eq!(
            err("jql = 'x'\nmetric = 'remaining_estimate'", &pc),
            "metric `remaining_estimate` has no percent complete (done ÷ all); use it with a kpi measure"
        );
        assert!(
            err("jql = 'x'\nmetric = 'progress'", &pc)
                .contains("`progress` has no percent complete")
        );
        assert!(
            err("jql = 'x'\ncompleted_only = true", &pc).contains("completed_only applies to KPIs")
        );
        assert_eq!(err("jql = ' '", &kpi), "jql is empty");
    }
}
