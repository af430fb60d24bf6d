//! Jira REST bodies okrflow reads (only the fields it uses), and an issue reduced to the
//! numbers the metrics need. Shapes follow Jira Cloud's OpenAPI v3 spec and the example bodies copied into
//! `tests/fixtures/jira/`.

use chrono::{DateTime, NaiveDate, Utc};
use serde::Deserialize;
use serde_json::{Map, Value};

/// A page of Cloud's `GET /rest/api/3/search/jql`: no `total`; `nextPageToken` until the last.
#[derive(Debug, Deserialize)]
pub struct CloudPage {
    #[serde(default)]
    pub issues: Vec<Issue>,
    #[serde(default, rename = "isLast")]
    pub is_last: Option<bool>,
    #[serde(default, rename = "nextPageToken")]
    pub next_page_token: Option<String>,
}

/// A page of Data Center's `GET /rest/api/2/search`.
#[derive(Debug, Deserialize)]
pub struct DataCenterPage {
    #[serde(default)]
    pub issues: Vec<Issue>,
    #[serde(default, rename = "startAt")]
    pub start_at: u64,
    #[serde(default)]
    pub total: Option<u64>,
}

/// `POST /rest/api/3/search/approximate-count`.
#[derive(Debug, Deserialize)]
pub struct Count {
    pub count: u64,
}

/// One issue, with the fields asked for.
#[derive(Debug, Clone, Deserialize)]
pub struct Issue {
    pub key: String,
    #[serde(default)]
    pub fields: Map<String, Value>,
}

/// `GET /rest/api/{2,3}/field`.
#[derive(Debug, Clone, Deserialize)]
pub struct FieldDetails {
    pub id: String,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub custom: bool,
    #[serde(default)]
    pub schema: Option<FieldSchema>,
}

/// A field's type.
#[derive(Debug, Clone, Deserialize)]
pub struct FieldSchema {
    #[serde(default, rename = "type")]
    pub kind: Option<String>,
    #[serde(default)]
    pub custom: Option<String>,
}

/// `GET /rest/agile/1.0/board/{id}/configuration` (the part okrflow reads).
#[derive(Debug, Clone, Deserialize)]
pub struct BoardConfiguration {
    #[serde(default)]
    pub estimation: Option<Estimation>,
}

/// The board's estimation statistic.
#[derive(Debug, Clone, Deserialize)]
pub struct Estimation {
    #[serde(default)]
    pub field: Option<EstimationField>,
}

/// The field a board estimates with.
#[derive(Debug, Clone, Deserialize)]
pub struct EstimationField {
    #[serde(rename = "fieldId")]
    pub field_id: String,
}

/// `POST /rest/api/3/jql/parse`.
#[derive(Debug, Deserialize)]
pub struct ParsedJql {
    pub queries: Vec<ParsedQuery>,
}

/// One parsed query, with Jira's errors.
#[derive(Debug, Deserialize)]
pub struct ParsedQuery {
    pub query: String,
    #[serde(default)]
    pub errors: Vec<String>,
}

/// The numbers of one issue the metrics use: time in hours, the rest as Jira gives them.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct IssueRow {
    pub key: String,
    /// `fields.status.statusCategory.key`: `new`, `indeterminate`, `done` or `undefined`.
    pub status_category: Option<String>,
    pub time_spent_hours: Option<f64>,
    pub original_estimate_hours: Option<f64>,
    pub remaining_estimate_hours: Option<f64>,
    /// `progress.progress` and `progress.total`, in hours.
    pub progress_hours: Option<f64>,
    pub progress_total_hours: Option<f64>,
    /// The story points or custom field asked for.
    pub field_value: Option<f64>,
    /// `fields.created`, as a UTC date (asked for only when a past date is reconstructed).
    pub created_on: Option<NaiveDate>,
    /// When the issue entered its status category (`statuscategorychangedate`, else
    /// `resolutiondate`), as a UTC date.
    pub category_changed_on: Option<NaiveDate>,
}

/// A field value that is there but is not a number.
#[derive(Debug, Clone, PartialEq)]
pub struct NotNumeric {
    pub key: String,
    pub field: String,
    pub value: String,
}

impl Issue {
    /// The issue's numbers; `field` is the story points or custom field to read.
    pub fn row(&self, field: Option<&str>) -> Result<IssueRow, NotNumeric> {
        let hours = |name: &str| {
            self.fields
                .get(name)
                .and_then(Value::as_f64)
                .map(|s| s / 3600.0)
        };
        let progress = self.fields.get("progress");
        let progress_part = |part: &str| {
            progress
                .and_then(|p| p.get(part))
                .and_then(Value::as_f64)
                .map(|s| s / 3600.0)
        };
        let field_value = match field {
            None => None,
            Some(f) => match self.fields.get(f) {
                None | Some(Value::Null) => None,
                Some(Value::Number(n)) => n.as_f64(),
                Some(Value::String(s)) if s.trim().parse::<f64>().is_ok_and(f64::is_finite) => {
                    s.trim().parse().ok()
                }
                Some(other) => {
                    return Err(NotNumeric {
                        key: self.key.clone(),
                        field: f.to_string(),
                        value: other.to_string(),
                    });
                }
            },
        };
        Ok(IssueRow {
            key: self.key.clone(),
            status_category: self
                .fields
                .get("status")
                .and_then(|s| s.get("statusCategory"))
                .and_then(|c| c.get("key"))
                .and_then(Value::as_str)
                .map(String::from),
            time_spent_hours: hours("timespent"),
            original_estimate_hours: hours("timeoriginalestimate"),
            remaining_estimate_hours: hours("timeestimate"),
            progress_hours: progress_part("progress"),
            progress_total_hours: progress_part("total"),
            field_value,
            created_on: self.date("created"),
            category_changed_on: self
                .date("statuscategorychangedate")
                .or_else(|| self.date("resolutiondate")),
        })
    }

    /// A Jira timestamp field (`2026-03-02T10:15:00.000+0000`) as a UTC date.
    fn date(&self, name: &str) -> Option<NaiveDate> {
        let text = self.fields.get(name)?.as_str()?;
        DateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S%.f%z")
            .or_else(|_| DateTime::parse_from_rfc3339(text))
            .ok()
            .map(|t| t.with_timezone(&Utc).date_naive())
    }
}

/// Where story points live on a site, in the order the contract recommends: the board's
/// estimation field, a field of the story-points types, a field named "Story Points" or
/// "Story point estimate", then the job's explicit field.
pub fn story_points_field(
    board_field: Option<&str>,
    fields: &[FieldDetails],
    configured: Option<&str>,
) -> Option<String> {
    if let Some(f) = board_field {
        return Some(f.to_string());
    }
    const TYPES: &[&str] = &[
        "com.pyxis.greenhopper.jira:jsw-story-points",
        "com.atlassian.jira.plugin.system.customfieldtypes:float",
    ];
    const NAMES: &[&str] = &["Story Points", "Story point estimate"];
    let by_type = TYPES.iter().find_map(|t| {
        fields.iter().find(|f| {
            f.schema.as_ref().and_then(|s| s.custom.as_deref()) == Some(t)
                && (*t != TYPES[1] || NAMES.iter().any(|n| f.name.eq_ignore_ascii_case(n)))
        })
    });
    by_type
        .or_else(|| {
            fields
                .iter()
                .find(|f| NAMES.iter().any(|n| f.name.eq_ignore_ascii_case(n)))
        })
        .map(|f| f.id.clone())
        .or_else(|| configured.map(String::from))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn load(name: &str) -> String {
        std::fs::read_to_string(format!(
            "{}/tests/fixtures/jira/{name}",
            env!("CARGO_MANIFEST_DIR")
        ))
        .expect("the contract examples are in tests/fixtures/jira")
    }

    #[test]
    fn the_contract_examples_parse() {
        let page: CloudPage =
            serde_json::from_str(&load("jira-search-jql-200.cloud-spec-example.json")).unwrap();
        assert_eq!(page.is_last, Some(true));
        assert!(!page.issues.is_empty());
        let page: DataCenterPage =
            serde_json::from_str(&load("jira-search-shape-sprint-issues.go-jira-mock.json"))
                .unwrap();
        assert_eq!(page.total, Some(10));
        let row = page.issues[0].row(None).unwrap();
        assert_eq!(row.key, "AR-86");
        assert_eq!(row.time_spent_hours, None, "timespent is null in the body");
    }

    #[test]
    fn issues_become_hours_and_numbers() {
        let issue: Issue = serde_json::from_value(json!({
            "key": "AE-1",
            "fields": {
                "status": {"name": "Done", "statusCategory": {"id": 3, "key": "done"}},
                "timespent": 5400, "timeoriginalestimate": 7200, "timeestimate": null,
                "progress": {"progress": 5400, "total": 7200, "percent": 75},
                "customfield_10016": 5.0, "customfield_1": {"value": "high"}, "customfield_2": "3"
            }
        }))
        .unwrap();
        let row = issue.row(Some("customfield_10016")).unwrap();
        assert_eq!(row.status_category.as_deref(), Some("done"));
        assert_eq!(row.time_spent_hours, Some(1.5));
        assert_eq!(row.original_estimate_hours, Some(2.0));
        assert_eq!(row.remaining_estimate_hours, None);
        assert_eq!(
            (row.progress_hours, row.progress_total_hours),
            (Some(1.5), Some(2.0))
        );
        assert_eq!(row.field_value, Some(5.0));
        assert_eq!(
            issue.row(Some("customfield_2")).unwrap().field_value,
            Some(3.0)
        );
        let e = issue.row(Some("customfield_1")).unwrap_err();
        assert_eq!(
            (e.key.as_str(), e.field.as_str()),
            ("AE-1", "customfield_1")
        );
    }

    #[test]
    fn story_points_are_found_in_the_contracts_order() {
        let fields: Vec<FieldDetails> = serde_json::from_value(json!([
            {"id": "customfield_10026", "name": "Story Points", "custom": true,
             "schema": {"type": "number", "custom": "com.atlassian.jira.plugin.system.customfieldtypes:float"}},
            {"id": "customfield_10016", "name": "Story point estimate", "custom": true,
             "schema": {"type": "number", "custom": "com.pyxis.greenhopper.jira:jsw-story-points"}},
            {"id": "customfield_2", "name": "Risk", "custom": true,
             "schema": {"type": "number", "custom": "com.atlassian.jira.plugin.system.customfieldtypes:float"}}
        ]))
        .unwrap();
        assert_eq!(
            story_points_field(Some("customfield_10002"), &fields, None).as_deref(),
            Some("customfield_10002")
        );
        assert_eq!(
            story_points_field(None, &fields, None).as_deref(),
            Some("customfield_10016")
        );
        assert_eq!(
            story_points_field(None, &fields[..1], None).as_deref(),
            Some("customfield_10026")
        );
        assert_eq!(
            story_points_field(None, &fields[2..], Some("customfield_9")).as_deref(),
            Some("customfield_9")
        );
        assert_eq!(story_points_field(None, &fields[2..], None), None);
    }
}
